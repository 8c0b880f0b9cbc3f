import type { Counter } from 'prom-client';
import type { GrantRouter } from '../adapters/grants/grant-router.js';
import type { Logger } from '../config/logger.js';

/** How long stopping waits for a pass in flight; the router's close then ends the connections it is waiting on. */
const STOP_WAIT_MS = 2_000;

export interface SessionSweepOptions {
  /** Time from the start of one pass to the start of the next (a slow pass is followed at once, never overlapped). */
  intervalMs: number;
  log: Logger;
  ended: Counter<'target'>;
  failures: Counter<'target'>;
}

/**
 * Ends, every `intervalMs`, the sessions that outlive their window at the declared PostgreSQL targets
 * (`GrantRouter.endExpiredSessions`). It does not wait for any workflow: however far behind the revokes are (many
 * windows ending together, a worker catching up after a restart), a session is cut within about one interval of its
 * role's `VALID UNTIL`; the revoke then removes the role. Each worker replica runs one; passes are idempotent.
 * A failing target is logged when it starts failing, when its error changes and when it recovers, not every pass.
 */
export function startSessionSweep(grants: GrantRouter, opts: SessionSweepOptions): { stop(): Promise<void> } {
  const failing = new Map<string, string>();
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let wake: (() => void) | undefined;

  async function pass(): Promise<void> {
    for (const r of await grants.endExpiredSessions()) {
      if ('error' in r) {
        opts.failures.inc({ target: r.target });
        if (failing.get(r.target) !== r.error) opts.log.warn('session sweep: target unreachable; its sessions wait for the revoke', { target: r.target, error: r.error });
        failing.set(r.target, r.error);
        continue;
      }
      if (failing.delete(r.target)) opts.log.info('session sweep: target reachable again', { target: r.target });
      if (r.ended > 0) {
        opts.ended.inc({ target: r.target }, r.ended);
        opts.log.info('session sweep: ended sessions whose window had ended', { target: r.target, sessions: r.ended });
      }
    }
  }

  const loop = (async () => {
    while (!stopped) {
      const started = Date.now();
      await pass().catch((err: unknown) => opts.log.error('session sweep: pass failed', { error: err instanceof Error ? err.message : String(err) }));
      if (stopped) return;
      await new Promise<void>((resolve) => {
        wake = resolve;
        timer = setTimeout(resolve, Math.max(0, opts.intervalMs - (Date.now() - started)));
        timer.unref();
      });
    }
  })();

  return {
    /** Stops sweeping; waits for a pass in flight, but not past {@link STOP_WAIT_MS} (a target that hangs on connect). */
    async stop() {
      stopped = true;
      clearTimeout(timer);
      wake?.();
      let giveUp: NodeJS.Timeout | undefined;
      await Promise.race([loop, new Promise<void>((resolve) => (giveUp = setTimeout(resolve, STOP_WAIT_MS)))]);
      clearTimeout(giveUp);
    },
  };
}
