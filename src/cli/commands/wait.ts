import type { AccessRequest } from '../../domain/request.js';
import { ExitCode } from '../exit.js';
import { seg, type Api } from '../http.js';
import { clock, type Output } from '../output.js';
import { describeDecision, statusLine } from '../render-request.js';

/** How long after `expiresAt` the default wait goes on, so the expiry itself is seen (timers are not instant). */
const EXPIRY_GRACE_MS = 60_000;
const POLL_MS = 1_000;

export interface WaitOptions {
  /** Stop waiting after this long; default: the request's `expiresAt` plus a minute. */
  timeoutMs?: number;
  pollMs?: number;
  /** Progress lines go here (stderr), so stdout keeps only the result. */
  progress: Output['err'];
}

/** What `--wait` ends with: the last state seen and the exit code it means. */
export interface WaitResult {
  request: AccessRequest;
  exitCode: ExitCode;
}

/** The exit code of a request that is no longer pending: access granted (even if already over) or not. */
export function outcomeCode(r: AccessRequest): ExitCode {
  return r.access && r.status !== 'failed' ? ExitCode.ok : ExitCode.endedWithoutAccess;
}

/**
 * Polls `GET /v1/requests/{id}` until the request is no longer pending, printing each change (a decision, the next
 * stage, approval, the outcome). A pending request also counts as decided once approved and granted, which the
 * API shows as `active`.
 */
export async function waitForOutcome(api: Api, first: AccessRequest, opts: WaitOptions): Promise<WaitResult> {
  const deadline = opts.timeoutMs !== undefined ? Date.now() + opts.timeoutMs : Date.parse(first.expiresAt) + EXPIRY_GRACE_MS;
  const say = (line: string) => opts.progress(`[${clock()}] ${line}`);
  let r = first;
  say(`${r.id} ${statusLine(r)}`);
  let seenDecisions = r.decisions.length;
  let seenStage = r.stage;
  let seenApproved = r.approvedAt;
  while (r.status === 'pending' || r.status === 'granting') {
    if (Date.now() >= deadline) {
      say(`still pending, stopped waiting (the request goes on; \`lockbox request wait ${r.id}\` resumes)`);
      return { request: r, exitCode: ExitCode.waitTimedOut };
    }
    await new Promise((resolve) => setTimeout(resolve, Math.min(opts.pollMs ?? POLL_MS, Math.max(0, deadline - Date.now()))));
    r = (await api.get<AccessRequest>(`/v1/requests/${seg(r.id)}`)).body;
    for (const d of r.decisions.slice(seenDecisions)) say(describeDecision(d));
    seenDecisions = r.decisions.length;
    if (r.status === 'granting' && !seenApproved) say('approved; granting access');
    else if (r.status === 'pending' && r.stage !== seenStage) say(`now waiting for ${statusLine(r).replace(/^pending: waiting for /, '')}`);
    seenStage = r.stage;
    seenApproved = r.approvedAt;
  }
  say(statusLine(r));
  return { request: r, exitCode: outcomeCode(r) };
}
