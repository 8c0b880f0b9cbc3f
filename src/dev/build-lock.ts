/**
 * One build at a time across processes: a lock file in the cache with the holder's pid and host, refreshed while
 * the build runs, so a waiter on another host or PID namespace can still tell a live build from a dead one.
 */
import { open, readFile, rm, stat, utimes } from 'node:fs/promises';
import { hostname } from 'node:os';
import { isAbandoned } from '../adapters/lock-holder.js';
import { sleep } from './child.js';

const LOCK_HEARTBEAT_MS = 15_000;
/** A lock whose holder stopped refreshing it for this long is abandoned (holder crashed, or another host). */
const LOCK_STALE_MS = 120_000;
const LOCK_WAIT_MAX_MS = 30 * 60_000;
const LOCK_POLL_MS = 2_000;

/**
 * Takes `lockPath`, waiting (and saying once whom for) while another live process holds it, breaking it when its
 * holder is gone. Resolves with the release function.
 * @param subject what the holder builds, for the waiting line: "the Temporal CLI".
 */
export async function acquireBuildLock(lockPath: string, subject: string, log: (line: string) => void): Promise<() => Promise<void>> {
  const started = Date.now();
  let announced = false;
  for (;;) {
    try {
      const handle = await open(lockPath, 'wx');
      await handle.writeFile(JSON.stringify({ pid: process.pid, host: hostname(), since: new Date().toISOString() }));
      await handle.close();
      const heartbeat = setInterval(() => {
        const now = new Date();
        utimes(lockPath, now, now).catch(() => undefined);
      }, LOCK_HEARTBEAT_MS);
      heartbeat.unref();
      return async () => {
        clearInterval(heartbeat);
        await rm(lockPath, { force: true });
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }

    const owner = await readOwner(lockPath);
    let mtimeMs: number;
    try {
      mtimeMs = (await stat(lockPath)).mtimeMs;
    } catch {
      continue; // released meanwhile: try again
    }
    if (isAbandoned({ mtimeMs, pid: owner.pid, sameHost: owner.host === hostname() }, LOCK_STALE_MS)) {
      log(`removing stale build lock ${lockPath}`);
      await rm(lockPath, { force: true });
      continue;
    }
    if (!announced) {
      log(`another process (pid ${owner.pid ?? '?'}) is building ${subject}; waiting for it to finish`);
      announced = true;
    }
    if (Date.now() - started > LOCK_WAIT_MAX_MS) {
      throw new Error(`gave up after ${LOCK_WAIT_MAX_MS / 60_000} minutes waiting for the build lock ${lockPath}; if no build is running, delete that file`);
    }
    await sleep(LOCK_POLL_MS);
  }
}

async function readOwner(lockPath: string): Promise<{ pid?: number; host?: string }> {
  try {
    const parsed = JSON.parse(await readFile(lockPath, 'utf8')) as { pid?: unknown; host?: unknown };
    return {
      ...(typeof parsed.pid === 'number' ? { pid: parsed.pid } : {}),
      ...(typeof parsed.host === 'string' ? { host: parsed.host } : {}),
    };
  } catch {
    return {}; // being written right now, or garbage: judged by its age alone
  }
}
