/** What every phase gets (the stack, the API, the bare baseline, the audit tail, deadlines) and the calls they share. */
import type { AuditTail } from './audit-tail.js';
import type { Bare } from './bare.js';
import { TOKENS, type ApiClient, type ApiResponse } from './http.js';
import { errText } from './log.js';
import type { Plan } from './plan.js';
import type { Stack } from './stack.js';
import { nowMs, sleep } from './stats.js';

export interface Ctx {
  plan: Plan;
  stack: Stack;
  api: ApiClient;
  bare: Bare;
  tail: AuditTail;
  runId: string;
  notes: string[];
  ttlMs: number;
  /** Quick runs: phases before the scale test stop starting work after this (epoch ms), so the run stays under 3 minutes. */
  preScaleDeadline: number;
  /** Quick runs: nothing starts after this (epoch ms); what is measured by then is reported. */
  hardDeadline: number;
}

/** A deadline `quickMs` (quick) or `fullMs` (full) from now; before the scale test, never past `preScaleDeadline`. */
export function until(ctx: Ctx, quickMs: number, fullMs: number, preScale = false): number {
  const d = Math.min(Date.now() + (ctx.plan.mode === 'quick' ? quickMs : fullMs), ctx.hardDeadline);
  return preScale ? Math.min(d, ctx.preScaleDeadline) : d;
}

export const resource = (ctx: Ctx, kind: string, i: number) => `mailbox:bench-${ctx.runId}-${kind}-${i}@contoso.com`;

export async function create(ctx: Ctx, res: string, duration: string): Promise<ApiResponse> {
  return ctx.api.expect(201, 'POST', '/v1/requests', TOKENS.engineer, { tenant: 'contoso', resource: res, reason: 'benchmark', duration });
}

export async function approve(ctx: Ctx, id: string): Promise<ApiResponse> {
  const a = await ctx.api.call('POST', `/v1/requests/${id}/approve`, TOKENS.approver, {});
  if (a.status !== 200 || a.body?.status !== 'active' || !a.body?.access?.endsAt) {
    throw new Error(`approve of ${id} answered ${a.status} ${JSON.stringify(a.body).slice(0, 300)}`);
  }
  return a;
}

export const check = (ctx: Ctx, res: string) =>
  ctx.api.expect<{ allowed: boolean }>(200, 'GET', `/v1/access/check?tenant=contoso&resource=${encodeURIComponent(res)}`, TOKENS.engineer);

/** One full Lockbox lifecycle: create -> approve (returns after the grant) -> window -> revoke -> access.revoked exported. */
export async function oursLifecycle(ctx: Ctx, kind: string, i: number, windowMs: number): Promise<{ ms: number; approveMs: number; id: string }> {
  const t0 = nowMs();
  const c = await create(ctx, resource(ctx, kind, i), `${windowMs / 1000}s`);
  const id: string = c.body.id;
  const a = await approve(ctx, id);
  const endsAt = Date.parse(a.body.access.endsAt);
  const inFile = await ctx.tail.waitFor(id, 'access.revoked', Math.max(0, endsAt - Date.now()) + 30_000);
  if (!inFile) throw new Error(`${id}: access.revoked not in audit.jsonl within 30 s after endsAt`);
  const exportedMs = nowMs() - t0;
  try {
    for (let k = 0; ; k++) {
      const au = await ctx.api.expect(200, 'GET', `/v1/requests/${id}/audit`, TOKENS.engineer);
      if ((au.body.events as Array<{ type: string }>).some((e) => e.type === 'access.revoked')) break;
      if (k >= 40) throw new Error(`${id}: access.revoked in the file but not in GET /audit`);
      await sleep(50);
    }
  } catch (err) {
    throw new ConfirmError(errText(err), exportedMs);
  }
  return { ms: nowMs() - t0, approveMs: a.ms, id };
}

/** The lifecycle finished (access.revoked is in audit.jsonl) but reading it back through the API failed. */
export class ConfirmError extends Error {
  constructor(message: string, readonly exportedMs: number) {
    super(message);
  }
}
