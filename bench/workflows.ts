/**
 * Baseline workflows for the benchmark, run by a bench-owned Worker on its own task queue against the same Temporal
 * server as Lockbox. They do no work of their own, so what they cost is the engine's floor.
 *
 * - `trivialWorkflow`: returns at once; `client.workflow.start` of it is the floor for `POST /v1/requests`.
 * - `bareLifecycleWorkflow`: the steps of Lockbox's request workflow for a one-approver tenant, done the plain way:
 *   1 local activity, 8 activities (4 audit exports, 2 notifications, grant, revoke), 2 timers (the request
 *   lifetime, cancelled by the approval, and the access window) and 1 update (approve, answered once the grant is
 *   done), all no-ops. It is kept as it was when Lockbox's workflow had that shape (issue 8), so the ratios stay
 *   comparable across runs; Lockbox now exports in fewer batches (docs/design.md, "Audit"). Measured histories of
 *   both are compared in the benchmark output. Left unapproved it does what
 *   a Lockbox request that nobody answers does: one reminder half-way (a notification and an export), then at
 *   `expiresAt` the expiry (the "expired" export, the outcome to the requester and to the tenant's admins) and the
 *   closing export. The drain phase measures how fast the engine gets through a burst of those.
 */
import { condition, defineUpdate, proxyActivities, proxyLocalActivities, setHandler, sleep } from '@temporalio/workflow';

export interface BareActivities {
  /** Stands in for `trustedDecisionKeys` (a local activity in Lockbox). */
  bareKeys(): Promise<void>;
  bareNotify(requestId: string, kind: string): Promise<void>;
  /** `at`: workflow time when the event happened (the "expired" one is what the drain phase times). */
  bareExport(requestId: string, stage: string, at?: number): Promise<void>;
  /** `windowEndsAt`: the window ends then (epoch ms) instead of `windowMs` after the grant (the burst phase's cap). */
  bareGrant(requestId: string, windowMs: number, windowEndsAt?: number): Promise<{ endsAt: number }>;
  bareRevoke(requestId: string): Promise<void>;
}

const acts = proxyActivities<BareActivities>({
  startToCloseTimeout: '30s',
  retry: { initialInterval: '1s', maximumInterval: '30s' },
});
const local = proxyLocalActivities<BareActivities>({ startToCloseTimeout: '10s' });

export const bareApprove = defineUpdate<{ endsAt: number }, []>('approve');

export async function trivialWorkflow(): Promise<void> {
  // Nothing: one workflow task, then completed.
}

export interface BareLifecycleInput {
  id: string;
  windowMs: number;
  ttlMs: number;
  /** Epoch ms the request expires at; default: start + ttlMs. */
  expiresAt?: number;
  /** Epoch ms the access window ends at (an approver's `until`); default: windowMs after the grant. */
  windowEndsAt?: number;
}

/** update -> activity -> timer -> activity, with the activity and timer counts of Lockbox's lifecycle. */
export async function bareLifecycleWorkflow(input: BareLifecycleInput): Promise<void> {
  let approved = false;
  let grant: { endsAt: number } | null = null;
  setHandler(bareApprove, async () => {
    approved = true;
    await condition(() => grant !== null);
    return grant!;
  });

  // Start: the keys (local), the "request.created" export and the approvers' notification.
  await Promise.all([local.bareKeys(), acts.bareExport(input.id, 'created'), acts.bareNotify(input.id, 'approval_needed')]);
  // Timer 1: the request lifetime, cut short by the approval; one reminder half-way, as Lockbox's default policy.
  const expiresAt = input.expiresAt ?? Date.now() + input.ttlMs;
  let answered = await condition(() => approved, Math.max(1, (expiresAt - Date.now()) / 2));
  if (!answered) {
    await Promise.all([acts.bareNotify(input.id, 'reminder'), acts.bareExport(input.id, 'reminded')]);
    answered = await condition(() => approved, Math.max(1, expiresAt - Date.now()));
  }
  if (!answered) {
    await Promise.all([acts.bareExport(input.id, 'expired', Date.now()), acts.bareNotify(input.id, 'outcome'), acts.bareNotify(input.id, 'admins')]);
    await acts.bareExport(input.id, 'closed');
    return;
  }
  grant = await acts.bareGrant(input.id, input.windowMs, input.windowEndsAt);
  await acts.bareExport(input.id, 'approved');
  await acts.bareExport(input.id, 'granted');
  // Timer 2: the access window.
  await sleep(Math.max(1, grant.endsAt - Date.now()));
  await acts.bareRevoke(input.id);
  // The outcome notification and the export carrying "access.revoked".
  await Promise.all([acts.bareNotify(input.id, 'outcome'), acts.bareExport(input.id, 'revoked')]);
}
