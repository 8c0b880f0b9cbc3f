import {
  EMPTY_CATALOG,
  checkResourcePicks,
  checkTargetUse,
  notAllowedMessage,
  targetFor,
  type ResourceSetting,
  type ResourceTarget,
  type TargetCatalog,
} from '../domain/resources.js';
import type { ApiDeps } from './deps.js';
import { Problem, type FieldError } from './problem.js';

/** The API's copy of the operator's catalog; none configured (tests, tools): no declared target is allowed. */
export function catalogOf(deps: Pick<ApiDeps, 'config'>): TargetCatalog {
  return deps.config.targets ?? EMPTY_CATALOG;
}

const pointer = (field: string) => `#/${field.replaceAll('.', '/')}`;

function notAllowed(detail: string, errors: FieldError[]): Problem {
  return new Problem(403, 'target-not-allowed', 'Target not allowed', detail, errors);
}

/** A tenant admin's resource picks: each must name a target the operator declared for this tenant (else 403). */
export function checkPicks(deps: Pick<ApiDeps, 'config'>, tenant: string, resources: Readonly<Record<string, ResourceSetting>> | undefined): void {
  const found = checkResourcePicks(catalogOf(deps), tenant, resources);
  if (found.length === 0) return;
  throw notAllowed(
    found.map((p) => `${p.field}: ${p.message}`).join('; '),
    found.map((p) => ({ field: p.field, pointer: pointer(p.field), message: p.message })),
  );
}

/**
 * Where a new request's access will be granted, checked against the catalog before anything is started: a stored
 * settings row that names a target not allowed for the tenant (written around the API, or allowed once and since
 * withdrawn by the operator) files nothing. The worker checks again at grant time.
 */
export function targetOfNewRequest(
  deps: Pick<ApiDeps, 'config'>,
  tenant: string,
  resources: Readonly<Record<string, ResourceSetting>> | undefined,
  resource: string,
): ResourceTarget {
  const target = targetFor(resources, resource);
  if (target.provider === 'builtin' || checkTargetUse(catalogOf(deps), target, tenant, 'grant').ok) return target;
  const field = `settings.resources.${resource}.target`;
  const message = notAllowedMessage(target.name, tenant);
  throw notAllowed(`tenant ${tenant}'s settings send ${resource} to ${message}; a tenant admin must pick another target`, [
    { field, pointer: pointer(field), message },
  ]);
}
