import { ApplicationFailure, CancellationScope, condition, isCancellation, log, setHandler } from '@temporalio/workflow';
import { AuditEventType } from '../../domain/audit.js';
import { emergencyAlert, emergencyGranted, reviewDue, reviewEmergency, reviewOverdue, reviewOverdueAlert, reviewReminder, reviewReminderAt, type Verdict } from '../../domain/break-glass.js';
import type { Message } from '../../domain/messages.js';
import { ReviewStatus } from '../../domain/request.js';
import { REVIEW } from '../../domain/signing.js';
import { ASSUME_SIGNED, authenticateDecision, type Authenticated } from '../decision-auth.js';
import { signatureVerdict } from './authenticate.js';
import * as defs from '../definitions.js';
import { toFailure } from './decision-handlers.js';
import { notifications } from './proxies.js';
import { failureMessage, type RequestRun } from './request-run.js';

/** Forged reviews audited one by one per request; beyond that only logged. */
const MAX_AUDITED_FORGERIES = 20;

/**
 * Break-glass (docs/break-glass.md): a verified emergency request skips the approval wait and goes to the grant at
 * once; every customer approver and admin of the tenant is alerted in the same moment.
 */
export function grantEmergency(run: RequestRun): void {
  run.commit(emergencyGranted(run.state, new Date()));
  const recipients = run.latestPolicy.approvers.filter((a) => a !== run.state.requester);
  run.send(emergencyAlert(run.state, recipients, new Date()), {
    type: AuditEventType.approversNotified,
    actor: 'system',
    details: { kind: 'emergency', recipients },
  });
  const [sample] = emergencyAlert(run.state, ['tenant admins'], new Date());
  if (sample) run.inFlight.push(CancellationScope.nonCancellable(() => tellAdmins(run, sample)));
}

/** An emergency request that was granted awaits its review once it ended; one never granted (e.g. not signed) does not. */
export function awaitsReview(run: RequestRun): boolean {
  return run.state.emergency === true && run.state.approvedAt !== null;
}

/**
 * After an emergency request ended, the workflow stays open until it is reviewed or `reviewWithin` passes; halfway
 * there the tenant's approvers are reminded once (`approvers.reminded`, kind `review`); at the deadline
 * `request.review_overdue` once, and the tenant's admins are told. Which timer fired decides, not the clock.
 */
export async function awaitReview(run: RequestRun): Promise<void> {
  if (!awaitsReview(run)) return;
  run.commit({ state: reviewDue(run.state), audit: [] });
  const review = run.state.review;
  if (!review || review.status !== ReviewStatus.pending || review.dueAt === null) return;
  const isReviewed = () => run.state.review?.status !== ReviewStatus.pending;
  const remindIn = (reviewReminderAt(review) ?? 0) - Date.now();
  if (remindIn > 0) {
    if (await condition(isReviewed, remindIn)) return;
    const recipients = run.latestPolicy.approvers.filter((a) => a !== run.state.requester);
    await run.notify(reviewReminder(run.state, recipients, new Date()), {
      type: AuditEventType.approversReminded,
      actor: 'system',
      details: { kind: 'review', recipients, dueAt: review.dueAt },
    });
  }
  const wait = Date.parse(review.dueAt) - Date.now();
  const reviewed = wait > 0 && (await condition(isReviewed, wait));
  if (reviewed) return;
  run.commit(reviewOverdue(run.state, new Date()));
  await tellAdmins(run, reviewOverdueAlert(run.state, new Date()));
}

/** `review` update: signed by the API like a decision, checked by `reviewEmergency`, recorded as `request.reviewed`. */
export function registerReviewHandler(run: RequestRun): void {
  let forgeries = 0;
  /** The rules' refusal of a review, once it is authenticated (or assumed so, in the validator). */
  const rules = (auth: Authenticated, args: unknown) => {
    if (!auth.ok) return { auth, out: null };
    const verdict = verdictOf(args);
    if (!verdict) return { auth: { ok: false as const, reason: 'malformed', claimedActor: auth.cmd.actor }, out: null };
    const out = reviewEmergency(run.state, { actor: auth.cmd.actor, verdict, comment: auth.cmd.note, proof: auth.cmd.proof ?? null }, new Date());
    if (!out.ok) throw toFailure(out.rejection);
    return { auth, out };
  };
  setHandler(
    defs.reviewUpdate,
    async (args) => {
      await condition(() => run.begun);
      const signature = await signatureVerdict(args);
      // No await from here to the commit (see signatureVerdict).
      const { auth, out } = rules(authenticateDecision(run.state, REVIEW, args, signature, run.usedNonces, Date.now(), run.runId), args);
      if (!auth.ok || !out) {
        forgeries += 1;
        const reason = auth.ok ? 'unknown' : auth.reason;
        log.warn('unauthenticated review refused', { reason });
        if (forgeries <= MAX_AUDITED_FORGERIES) {
          run.journal.record([
            { type: AuditEventType.decisionRejectedUnauthenticated, actor: 'unknown', details: { action: REVIEW, via: 'update', reason, claimedActor: auth.ok ? '' : auth.claimedActor } },
          ]);
        }
        throw ApplicationFailure.create({ type: defs.FailureType.forbidden, message: 'review refused: not signed by the Lockbox API for this request', details: ['unauthenticated'], nonRetryable: true });
      }
      if (auth.cmd.proof) run.usedNonces.add(auth.cmd.proof.nonce);
      run.commit(out);
      return run.state;
    },
    {
      // As for decisions (decision-handlers.ts): only what the rules refuse even if it were signed is refused here.
      validator: (args) => {
        if (run.begun) rules(authenticateDecision(run.state, REVIEW, args, ASSUME_SIGNED, run.usedNonces, Date.now(), run.runId), args);
      },
    },
  );
}

function verdictOf(args: unknown): Verdict | null {
  const v = (args as { claims?: { verdict?: unknown } } | null)?.claims?.verdict;
  return v === ReviewStatus.justified || v === ReviewStatus.unjustified ? v : null;
}

async function tellAdmins(run: RequestRun, message: Message): Promise<void> {
  try {
    await notifications.notifyTenantAdmins(message);
  } catch (err) {
    if (isCancellation(err)) throw err;
    run.journal.record([
      { type: AuditEventType.notificationFailed, actor: 'system', details: { recipients: ['tenant admins'], kind: message.kind, error: failureMessage(err) } },
    ]);
  }
}
