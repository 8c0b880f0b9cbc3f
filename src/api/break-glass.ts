import type { Principal } from '../domain/directory.js';
import { formatDuration } from '../domain/duration.js';
import { isTerminal, RequestStatus, type AccessRequest } from '../domain/request.js';
import type { TenantSettings } from '../domain/settings.js';
import type { ApiDeps } from './deps.js';
import { Problem, problems } from './problem.js';

const DAY_MS = 24 * 3_600_000;
/** How long the create answer waits for an emergency grant before it answers with the request as it is. */
const ANSWER_WITHIN_MS = 8_000;

/**
 * Whether this person may break the glass at this tenant now, and on what terms (docs/break-glass.md): the tenant
 * turned it on, lists them as a responder and a ticket is given. The caller caps the duration at `maxDurationMs`
 * and, once the request id is known, takes a slot of the daily limit ({@link takeEmergencySlot}).
 * @throws Problem 409 (break-glass off), 403 (not a responder), 400 (ticket)
 */
export async function checkEmergency(
  deps: Pick<ApiDeps, 'config'>,
  p: Principal,
  tenant: string,
  settings: TenantSettings,
  ticket: string | undefined,
  now: Date,
): Promise<{ maxDurationMs: number; reviewWithinMs: number }> {
  const bg = settings.breakGlass;
  if (!bg?.enabled) {
    const detail = `tenant ${tenant} has not turned on break-glass (setting breakGlass.enabled); file an ordinary request`;
    throw new Problem(409, 'break-glass-disabled', 'Break-glass not enabled', detail, [{ field: 'breakGlass.enabled', pointer: '#/emergency', message: detail }], { setting: 'breakGlass.enabled' });
  }
  if (!bg.responders.includes(p.id)) {
    throw new Problem(403, 'not-a-responder', 'Not allowed', `${p.id} is not a break-glass responder of tenant ${tenant} (setting breakGlass.responders)`);
  }
  if (!ticket) throw problems.validation([{ field: 'ticket', pointer: '#/ticket', message: 'an emergency request needs a ticket' }]);
  return { maxDurationMs: bg.maxDurationMs, reviewWithinMs: bg.reviewWithinMs };
}

/**
 * Takes one of the responder's daily break-glass slots at this tenant for this request id (a retried create keeps
 * its slot), exactly under concurrency across API replicas: the Store counts and inserts under one lock.
 * @throws Problem 429 when LOCKBOX_BREAK_GLASS_PER_DAY slots were taken in the last 24 hours
 */
export async function takeEmergencySlot(deps: Pick<ApiDeps, 'store' | 'config'>, p: Principal, tenant: string, requestId: string, now: Date): Promise<void> {
  const perDay = deps.config.breakGlassPerDay ?? 3;
  const slot = await deps.store.takeEmergencySlot({
    tenant,
    requester: p.id,
    requestId,
    at: now.toISOString(),
    since: new Date(now.getTime() - DAY_MS).toISOString(),
    limit: perDay,
  });
  if (slot.ok) return;
  throw new Problem(
    429,
    'break-glass-rate-limited',
    'Too many emergency requests',
    `${p.id} filed ${slot.used} emergency requests for tenant ${tenant} in the last 24 hours; the limit is ${perDay} (LOCKBOX_BREAK_GLASS_PER_DAY)`,
    undefined,
    { limit: 'LOCKBOX_BREAK_GLASS_PER_DAY', perDay: String(perDay) },
  );
}

/** The duration problem of an emergency request over the tenant's cap. */
export function overMaxDuration(maxDurationMs: number): Problem {
  return problems.validation([{ field: 'duration', pointer: '#/duration', message: `an emergency request may last at most ${formatDuration(maxDurationMs)} (breakGlass.maxDuration)` }]);
}

/** An emergency request is answered once it is granted (or ended), so "201 + active" means access is there. */
export async function settledEmergency(deps: Pick<ApiDeps, 'lockbox'>, request: AccessRequest): Promise<AccessRequest> {
  const deadline = Date.now() + ANSWER_WITHIN_MS;
  let current = request;
  while (Date.now() < deadline) {
    current = await deps.lockbox.get(request.id).catch(() => current);
    if (current.status !== RequestStatus.pending && current.status !== RequestStatus.granting) return current;
    if (isTerminal(current.status)) return current;
    await new Promise((r) => setTimeout(r, 150));
  }
  return current;
}
