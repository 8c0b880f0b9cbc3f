import { type DecisionAction } from '../../domain/request.js';
import type { POLICY_CHANGED, REVIEW } from '../../domain/signing.js';
import { authenticateDecision, signatureCheckOf, type Authenticated } from '../decision-auth.js';
import { local } from './proxies.js';
import type { RequestRun } from './request-run.js';

/**
 * A signed control message's whole check, in a handler: the worker verifies the signature natively (the
 * `verifySignature` local activity; its answer is a marker in history, so a replay takes the same path without
 * verifying again), then the pure checks run on the state as it is after that wait (a nonce used meanwhile is
 * replayed; a request that ended meanwhile refuses).
 */
export async function authenticate(run: RequestRun, action: DecisionAction | typeof POLICY_CHANGED | typeof REVIEW, args: unknown): Promise<Authenticated> {
  const signed = signatureCheckOf(args);
  const valid = signed.ok ? await local.verifySignature(signed.check) : false;
  return authenticateDecision(run.state, action, args, () => valid, run.usedNonces, Date.now(), run.runId);
}
