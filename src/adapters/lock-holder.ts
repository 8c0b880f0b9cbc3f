/**
 * When a lock file's holder is gone: shared by the data dir's append lock (file-lock.ts) and the dev tools' build
 * locks (src/dev/build-lock.ts), so both break an abandoned lock by the same rule.
 */

/** Whether a process with this pid exists on this machine (EPERM: it does, under another user). */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** What a lock file tells about its holder. */
export interface LockState {
  /** Last time the holder wrote or refreshed the file. */
  mtimeMs: number;
  /** The holder's pid, when the file names one. */
  pid?: number;
  /** False when the holder is on another host (or unknown): its pid means nothing here. */
  sameHost: boolean;
}

/**
 * A lock is abandoned when its holder's process is gone (checked only on the same host) or when it has not been
 * written for `staleMs` (a holder that is stuck, or on another host or PID namespace).
 */
export function isAbandoned(lock: LockState, staleMs: number, now = Date.now()): boolean {
  const pid = lock.pid;
  if (lock.sameHost && pid !== undefined && Number.isInteger(pid) && pid > 0 && !isProcessAlive(pid)) return true;
  return now - lock.mtimeMs > staleMs;
}
