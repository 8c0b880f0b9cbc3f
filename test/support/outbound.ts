import { createGuardedHttp, type GuardedHttp, type GuardedHttpOptions } from '../../src/adapters/http/guarded-http.js';
import { parseOutboundAllow } from '../../src/domain/outbound-policy.js';

/**
 * Where the tests' own HTTP receivers listen. All of 127.0.0.0/8 is loopback on Linux, and the guarded outbound
 * client refuses loopback, so receivers use 127.0.0.2 and the tests allow-list exactly that address, the way an
 * operator would (LOCKBOX_OUTBOUND_ALLOW). 127.0.0.1 stays refused, which the SSRF tests rely on.
 */
export const RECEIVER_HOST = '127.0.0.2';

/** The value for LOCKBOX_OUTBOUND_ALLOW in the stacks tests start. */
export const OUTBOUND_ALLOW = RECEIVER_HOST;

/** A guarded client that may reach the tests' receivers (and nothing else on loopback). */
export function receiverHttp(extra: Omit<GuardedHttpOptions, 'allow'> = {}): GuardedHttp {
  const parsed = parseOutboundAllow(OUTBOUND_ALLOW);
  if (!parsed.ok) throw new Error(parsed.message);
  return createGuardedHttp({ ...extra, allow: parsed.entries });
}
