import { ApplicationFailure, condition, log, setHandler } from '@temporalio/workflow';
import { AuditEventType } from '../../domain/audit.js';
import { applyPolicyChange, decide, isConflict, type Rejection } from '../../domain/decide.js';
import { POLICY_CHANGED } from '../../domain/signing.js';
import { DecisionAction, RequestStatus } from '../../domain/request.js';
import { ASSUME_SIGNED, authenticateDecision } from '../decision-auth.js';
import { signatureVerdict } from './authenticate.js';
import * as defs from '../definitions.js';
import type { RequestRun } from './request-run.js';

const HANDLERS = [
  [DecisionAction.approve, defs.approveUpdate, defs.approveSignal],
  [DecisionAction.reject, defs.rejectUpdate, defs.rejectSignal],
  [DecisionAction.revoke, defs.revokeUpdate, defs.revokeSignal],
  [DecisionAction.cancel, defs.cancelUpdate, defs.cancelSignal],
  [DecisionAction.extend, defs.extendUpdate, defs.extendSignal],
] as const;

/** Unauthenticated attempts audited one by one per request; beyond that they are only logged (history stays small). */
const MAX_AUDITED_FORGERIES = 50;

/**
 * Decisions arrive as Updates (the caller gets a definite answer) and as signals of the same names (the design's
 * contract); both run the same checks: the API's signature for this request, run and action, then the domain rules.
 */
export function registerDecisionHandlers(run: RequestRun): void {
  let forgeries = 0;

  /**
   * The validator's early refusal, without the signature (validators cannot wait for the worker's check): what the
   * rules refuse even if it were signed leaves no trace in history. Anything that fails a check of the signed fields
   * goes on to the handler, which verifies the signature and audits a forgery. So every forged decision that could
   * have changed something is audited; a forged one the rules would refuse anyway is only logged (docs/design.md).
   */
  const refuseEarly = (action: DecisionAction, args: unknown) => {
    const auth = authenticateDecision(run.state, action, args, ASSUME_SIGNED, run.usedNonces, Date.now(), run.runId);
    if (!auth.ok) return;
    const out = decide(run.state, auth.cmd, new Date(), auth.policy);
    if (out.ok) return;
    log.info('decision refused by the rules before its signature was checked', { action, code: out.rejection.code, claimedActor: auth.cmd.actor });
    throw toFailure(out.rejection);
  };

  /** True when applied; false when not authentic (audited); throws what the rules refuse. */
  const apply = async (action: DecisionAction, args: unknown, via: 'update' | 'signal'): Promise<boolean> => {
    const verdict = await signatureVerdict(args);
    // From here to the commit there is no await: nonce, freshness and rules see the state the decision changes.
    const auth = authenticateDecision(run.state, action, args, verdict, run.usedNonces, Date.now(), run.runId);
    if (!auth.ok) {
      auditForgery(action, auth.reason, auth.claimedActor, via);
      return false;
    }
    const out = decide(run.state, auth.cmd, new Date(), auth.policy);
    if (!out.ok) throw toFailure(out.rejection);
    if (auth.cmd.proof) run.usedNonces.add(auth.cmd.proof.nonce);
    run.latestPolicy = auth.policy;
    run.commit(out);
    return true;
  };

  function auditForgery(action: string, reason: string, claimedActor: string, via: string) {
    forgeries += 1;
    log.warn('unauthenticated decision refused', { action, reason, via });
    if (forgeries > MAX_AUDITED_FORGERIES) return;
    run.journal.record([
      { type: AuditEventType.decisionRejectedUnauthenticated, actor: 'unknown', details: { action, via, reason, claimedActor } },
    ]);
  }

  /**
   * An approve that completes the quorum answers once access is granted (or failed); the caller's client stops
   * waiting after a short bound while the target is slow (`granting`: the API answers 202 and the caller follows the
   * request; `GRANT_ANSWER_WITHIN_MS` in src/client/lockbox-client.ts), so no timer here. A revoke answers once
   * access is gone.
   */
  async function settled(action: DecisionAction): Promise<void> {
    const { state } = run;
    if (action === DecisionAction.approve && state.status === RequestStatus.active) {
      // An approved extension answers once the window has moved at the target (or that failed).
      await condition(() => !run.state.extensions?.some((e) => e.status === 'approved'));
    } else if (action === DecisionAction.approve && state.status === RequestStatus.granting) {
      await condition(() => run.state.status !== RequestStatus.granting);
    } else if (action === DecisionAction.revoke) {
      await condition(() => run.state.access?.revokedAt != null || run.state.status === RequestStatus.revoked || run.state.status === RequestStatus.failed);
    }
  }

  for (const [action, update, signal] of HANDLERS) {
    setHandler(
      update,
      async (args) => {
        await condition(() => run.begun);
        if (!(await apply(action, args, 'update'))) {
          throw ApplicationFailure.create({
            type: defs.FailureType.forbidden,
            message: 'decision refused: not signed by the Lockbox API for this request',
            details: ['unauthenticated'],
            nonRetryable: true,
          });
        }
        await settled(action);
        return run.state;
      },
      {
        validator: (args) => {
          if (run.begun) refuseEarly(action, args);
        },
      },
    );
    // Signals take the same rules; a refused signal changes nothing (there is no caller to answer).
    setHandler(signal, async (args) => {
      await condition(() => run.begun);
      try {
        await apply(action, args, 'signal');
      } catch (err) {
        log.warn('decision signal refused', { action, error: err instanceof Error ? err.message : String(err) });
      }
    });
  }
  // A settings change applied at once: a lowered quorum the approvals already reach completes the stage; a stage
  // that can no longer be completed ends the request (applyPolicyChange says the rule).
  setHandler(defs.policyChangedSignal, async (args) => {
    await condition(() => run.begun);
    const verdict = await signatureVerdict(args);
    const auth = authenticateDecision(run.state, POLICY_CHANGED, args, verdict, run.usedNonces, Date.now(), run.runId);
    if (!auth.ok) return auditForgery(POLICY_CHANGED, auth.reason, auth.claimedActor, 'signal');
    if (auth.cmd.proof) run.usedNonces.add(auth.cmd.proof.nonce);
    run.latestPolicy = auth.policy;
    run.commit(applyPolicyChange(run.state, auth.policy, new Date()));
  });
  setHandler(defs.getRequestQuery, () => run.state);
  setHandler(defs.getAuditQuery, () => run.journal.events);
}

export function toFailure(r: Rejection): ApplicationFailure {
  return ApplicationFailure.create({
    type: isConflict(r.code) ? defs.FailureType.conflict : defs.FailureType.forbidden,
    message: r.message,
    details: [r.code],
    nonRetryable: true,
  });
}
