import { open, stat, unlink, type FileHandle } from 'node:fs/promises';
import { isAbandoned } from './lock-holder.js';

/** An append holds the lock for one write and one fsync; a lock this old belongs to a stuck or dead holder. */
const LOCK_STALE_MS = 30_000;
const LOCK_POLL_MAX_MS = 50;

/** Opens `file` for reading, or null when it does not exist (yet). */
export async function openForRead(file: string): Promise<FileHandle | null> {
  try {
    return await open(file, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/**
 * Runs `op` holding `lockFile`, an O_EXCL lock file with the holder's pid, so processes on this machine sharing
 * a data dir take turns. A lock whose pid is gone, or that is older than LOCK_STALE_MS, is broken. Two waiters
 * breaking the same stale lock at once could both proceed; that needs a crash first, and callers must tolerate it
 * (the JSON Lines sink: at most a duplicate line, which readers drop, and a chain fork that verify reports).
 */
export async function withFileLock<T>(lockFile: string, op: () => Promise<T>): Promise<T> {
  let wait = 1;
  let ino: number;
  for (;;) {
    try {
      const fh = await open(lockFile, 'wx');
      try {
        await fh.writeFile(String(process.pid));
        ino = (await fh.stat()).ino;
      } finally {
        await fh.close();
      }
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    if (await isStale(lockFile)) {
      await unlink(lockFile).catch(() => undefined);
      continue;
    }
    await new Promise((resolve) => setTimeout(resolve, wait));
    wait = Math.min(wait * 2, LOCK_POLL_MAX_MS);
  }
  try {
    return await op();
  } finally {
    // Remove only our own lock: if it was broken as stale meanwhile, the file may now be another holder's.
    const now = await stat(lockFile).catch(() => null);
    if (now?.ino === ino) await unlink(lockFile).catch(() => undefined);
  }
}

async function isStale(lockFile: string): Promise<boolean> {
  const fh = await openForRead(lockFile);
  if (!fh) return false; // released meanwhile: just retry the create
  try {
    const [{ mtimeMs }, text] = await Promise.all([fh.stat(), fh.readFile('utf8')]);
    // An empty file is a holder between create and write: no pid, young, so not stale.
    return isAbandoned({ mtimeMs, pid: Number.parseInt(text, 10), sameHost: true }, LOCK_STALE_MS);
  } finally {
    await fh.close();
  }
}
