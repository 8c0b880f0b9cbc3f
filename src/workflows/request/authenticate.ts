import { signatureCheckOf, type SignatureVerdict } from '../decision-auth.js';
import { local } from './proxies.js';

/**
 * The worker's verdict on a signed control message's signature (the `verifySignature` local activity, node:crypto;
 * its answer is a marker in history, so a replay takes the same path without verifying again). Unsigned or malformed
 * arguments are not sent.
 *
 * Callers run `authenticateDecision` with it *synchronously, after this resolves, in the same step as they apply
 * the decision*: the nonce and the rules must be checked against the state at that moment, not before the wait
 * (two copies of one signed decision arriving together would otherwise both pass the nonce check).
 */
export async function signatureVerdict(args: unknown): Promise<SignatureVerdict> {
  const signed = signatureCheckOf(args);
  const valid = signed.ok ? await local.verifySignature(signed.check) : false;
  return () => valid;
}
