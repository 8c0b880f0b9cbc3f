import type { Notifier } from '../../ports/notifier.js';

/** One channel of a fan-out, named for error messages (`smtp`, `slack`, `webhook`, `in-app`). */
export interface NamedNotifier {
  name: string;
  notifier: Notifier;
}

const DEFAULT_MEMORY = 10_000;

/**
 * Delivers each notification on every channel, in parallel, and throws if any channel failed (after all were
 * tried), naming the failed channels. A retry goes only to the channels that have not yet delivered that
 * notification id in this process: e-mail and chat cannot de-duplicate, so a flaky Slack must not mean a second
 * e-mail. A send of that id still running on a channel (the first notice that ran out of its local activity's time,
 * then sent again the usual way) is joined, not repeated. That memory is bounded and best effort (a worker restart
 * forgets it); for exact per-channel retries the workflow can instead run one activity per channel.
 */
export function createFanoutNotifier(
  channels: readonly NamedNotifier[],
  opts: { remember?: number } = {},
): Notifier {
  const limit = opts.remember ?? DEFAULT_MEMORY;
  /** `<channel>\0<notification id>` of recent deliveries, oldest first (a Set keeps insertion order). */
  const delivered = new Set<string>();
  const remember = (key: string): void => {
    delivered.add(key);
    for (const old of delivered) {
      if (delivered.size <= limit) break;
      delivered.delete(old);
    }
  };

  /** Sends still running, by the same key: a second send of one id on one channel waits for the first. */
  const sending = new Map<string, Promise<void>>();
  const send = (c: NamedNotifier, n: Parameters<Notifier['notify']>[0]): Promise<void> => {
    const key = `${c.name}\0${n.id}`;
    const running = sending.get(key);
    if (running) return running;
    const sent = c.notifier
      .notify(n)
      .then(() => remember(key))
      .finally(() => sending.delete(key));
    sending.set(key, sent);
    return sent;
  };

  return {
    async notify(n) {
      const pending = channels.filter((c) => !delivered.has(`${c.name}\0${n.id}`));
      const results = await Promise.allSettled(pending.map((c) => send(c, n)));
      const failed: string[] = [];
      const causes: unknown[] = [];
      results.forEach((r, i) => {
        const c = pending[i];
        if (!c) return;
        if (r.status === 'rejected') {
          causes.push(r.reason);
          failed.push(`${c.name}: ${r.reason instanceof Error ? r.reason.message : String(r.reason)}`);
        }
      });
      if (failed.length > 0) {
        throw new AggregateError(causes, `notification ${n.id} failed on ${failed.length} channel(s): ${failed.join('; ')}`);
      }
    },
  };
}
