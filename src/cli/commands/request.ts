import { Command, InvalidArgumentError, Option } from 'commander';
import type { z } from 'zod';
import * as schemas from '../../api/schemas.js';
import type { RequestSummary } from '../../client/lockbox-client.js';
import { parseDuration } from '../../domain/duration.js';
import type { AccessRequest } from '../../domain/request.js';
import { apiAction, type ApiContext, type ApiOptions } from '../common.js';
import { seg } from '../http.js';
import { printJson } from '../output.js';
import { renderList, renderRequest } from '../render-request.js';
import { addSchemaOptions, pick } from '../schema-options.js';
import { waitForOutcome } from './wait.js';

/** Help for fields of the request schemas (the schemas hold the rules, these the words). */
const HELP: Record<string, string> = {
  tenant: 'tenant id, e.g. contoso',
  resource: 'the resource, kind:name, e.g. mailbox:bob@contoso.com',
  reason: 'why access is needed (shown to the approvers)',
  ticket: 'ticket or case reference, e.g. SUP-4711',
  duration: 'how long access lasts once granted: 45s, 30m, 4h, 1h30m or PT4H',
  status: 'only requests in this status',
  requester: 'only requests by this person, e.g. eve@lockbox.dev',
  limit: 'at most this many requests (newest first)',
  comment: 'a comment kept with the approval',
};

const parseTimeout = (v: string): number => {
  const ms = parseDuration(v);
  if (ms === null) throw new InvalidArgumentError('must be a duration like 30s, 10m or 2h');
  return ms;
};

const timeoutOption = () =>
  new Option('--timeout <duration>', "stop waiting after this long (exit 10); default: until the request's expiresAt").argParser(parseTimeout);

/** Prints a request (or its JSON) and, with `wait`, follows it to its outcome. */
async function showAndMaybeWait(ctx: ApiContext, request: AccessRequest, wait: boolean, timeoutMs?: number): Promise<number> {
  if (!wait) {
    if (ctx.json) printJson(ctx.io, request);
    else ctx.io.out(renderRequest(request));
    return 0;
  }
  const result = await waitForOutcome(ctx.api, request, { timeoutMs, progress: ctx.io.err });
  if (ctx.json) printJson(ctx.io, result.request);
  else ctx.io.out(renderRequest(result.request));
  return result.exitCode;
}

function createCommand(): Command {
  const cmd = new Command('create').description('ask for access to one resource of a tenant');
  const keys = addSchemaOptions(cmd, schemas.CreateRequestBody, HELP);
  cmd
    .option('--idempotency-key <key>', 'retrying with the same key returns the same request instead of a new one')
    .option('--wait', 'block until the request is decided, showing progress; exit 0 once access is granted, 9 if it ends without')
    .addOption(timeoutOption())
    .addHelpText('after', '\nExample:\n  lockbox request create --tenant contoso --resource mailbox:bob@contoso.com \\\n    --reason "support case 4711" --ticket SUP-4711 --duration 2h --wait');
  return apiAction<ApiOptions & { idempotencyKey?: string; wait?: boolean; timeout?: number }>(cmd, async (ctx, opts) => {
    const headers = opts.idempotencyKey ? { 'idempotency-key': opts.idempotencyKey } : undefined;
    const { body } = await ctx.api.post<AccessRequest>('/v1/requests', pick(opts, keys), headers);
    return showAndMaybeWait(ctx, body, opts.wait === true, opts.timeout);
  });
}

function listCommand(): Command {
  const cmd = new Command('list').description('list requests you may see, newest first');
  const keys = addSchemaOptions(cmd, schemas.ListRequestsQuery, HELP, () => false);
  return apiAction(cmd, async (ctx, opts) => {
    const query = Object.fromEntries(Object.entries(pick(opts, keys)).map(([k, v]) => [k, String(v)]));
    const { body } = await ctx.api.get<{ requests: RequestSummary[] }>('/v1/requests', query);
    if (ctx.json) printJson(ctx.io, body);
    else ctx.io.out(renderList(body.requests));
  });
}

function showCommand(): Command {
  const cmd = new Command('show').description('show one request: status, decisions, access window').argument('<id>', 'request id');
  return apiAction(cmd, async (ctx, _opts, [id]) => {
    const { body } = await ctx.api.get<AccessRequest>(`/v1/requests/${seg(id ?? '')}`);
    return showAndMaybeWait(ctx, body, false);
  });
}

function waitCommand(): Command {
  const cmd = new Command('wait').description('block until a pending request is decided (exit 0 granted, 9 not, 10 timeout)').argument('<id>', 'request id');
  cmd.addOption(timeoutOption());
  return apiAction<ApiOptions & { timeout?: number }>(cmd, async (ctx, opts, [id]) => {
    const { body } = await ctx.api.get<AccessRequest>(`/v1/requests/${seg(id ?? '')}`);
    return showAndMaybeWait(ctx, body, true, opts.timeout);
  });
}

/** approve / reject / revoke / cancel: POST /v1/requests/{id}/<action> with the action's body schema. */
function decisionCommand(action: string, description: string, schema: z.ZodType, help: Record<string, string>): Command {
  const cmd = new Command(action).description(description).argument('<id>', 'request id');
  const keys = addSchemaOptions(cmd, schema, { ...HELP, ...help });
  return apiAction(cmd, async (ctx, opts, [id]) => {
    const { body } = await ctx.api.post<AccessRequest>(`/v1/requests/${seg(id ?? '')}/${action}`, pick(opts, keys));
    return showAndMaybeWait(ctx, body, false);
  });
}

/** `lockbox request ...` */
export function requestCommand(): Command {
  return new Command('request')
    .description('file, list, follow and decide access requests')
    .addCommand(createCommand())
    .addCommand(listCommand())
    .addCommand(showCommand())
    .addCommand(waitCommand())
    .addCommand(decisionCommand('approve', 'approve a pending request (as an approver of its tenant)', schemas.ApproveBody, { until: 'the latest the access may last (ISO-8601), e.g. 2026-12-04T17:00:00Z' }))
    .addCommand(decisionCommand('reject', 'reject a pending request', schemas.RejectBody, { reason: 'why (shown to the requester)' }))
    .addCommand(decisionCommand('revoke', 'end active access now', schemas.RevokeBody, { reason: 'why access ends early' }))
    .addCommand(decisionCommand('cancel', 'withdraw your own pending request', schemas.CancelBody, { reason: 'why it is no longer needed' }))
    .addCommand(
      decisionCommand('extend', 'ask for more time on your active access (the same approvers decide)', schemas.ExtendBody, {
        duration: 'how much longer: 30m, 2h, ...',
        reason: 'why more time is needed',
      }),
    );
}
