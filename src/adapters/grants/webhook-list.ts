import { z } from 'zod';
import type { OutboundResponse } from '../http/guarded-http.js';
import { NonRetryableGrantError } from './errors.js';

/**
 * The webhook list call's answer (docs/webhook-targets.md): `{"grants": [{"requestId": "req-…"}, …]}`, what the
 * receiver holds that Lockbox granted. The receiver is the customer's system, so its answer is untrusted: bounded
 * in bytes and entries, every id must have the shape of a Lockbox request id, and anything else fails the whole
 * call with `target_invalid_answer` (a half-read list would make the reconciler act on a part of the truth).
 */

/** Bytes a list answer may have: about 10,000 entries of a request id and a few fields each. */
export const MAX_LIST_ANSWER_BYTES = 1024 * 1024;

/** Entries a list answer may have. */
export const MAX_LISTED_GRANTS = 10_000;

/** What Lockbox sends as `requestId` in every grant call: `req-<tenant>-<ULID>`. */
const RequestId = z.string().regex(/^req-[a-z0-9][a-z0-9-]{0,62}-[0-9A-HJKMNP-TV-Z]{26}$/);

/** Extra fields (the receiver's own `endsAt`, `principal`, ...) are allowed and ignored. */
const ListAnswer = z.object({
  grants: z.array(z.object({ requestId: RequestId })).max(MAX_LISTED_GRANTS),
});

/**
 * The request ids in a 2xx list answer, each once. Throws `NonRetryableGrantError` (`webhook list:
 * target_invalid_answer`) for a body that is not JSON, not of the answer's shape, or not declared as JSON; what the
 * receiver said is never repeated.
 */
export function listedRequestIds(res: OutboundResponse, invalidAnswer: string): string[] {
  const invalid = () => new NonRetryableGrantError(`webhook list: ${invalidAnswer}`, invalidAnswer);
  const type = String(res.headers['content-type'] ?? '');
  if (!/^application\/([\w.+-]*\+)?json\b/i.test(type)) throw invalid();
  let json: unknown;
  try {
    json = JSON.parse(res.body.toString('utf8'));
  } catch {
    throw invalid();
  }
  const parsed = ListAnswer.safeParse(json);
  if (!parsed.success) throw invalid();
  return [...new Set(parsed.data.grants.map((g) => g.requestId))];
}
