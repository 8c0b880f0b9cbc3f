import { mkdir, open, stat, unlink, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { AuditEvent } from '../domain/audit.js';
import type { AuditSink } from '../ports/audit-sink.js';

const NEWLINE = 0x0a;
const READ_CHUNK = 1 << 20;
/** An append holds the lock for one write and one fsync; a lock this old belongs to a stuck or dead holder. */
const LOCK_STALE_MS = 30_000;
const LOCK_POLL_MAX_MS = 50;

/** Accepts a line only if it looks like an event; a torn or foreign line is skipped, not fatal. */
function parseEvent(line: string): AuditEvent | null {
  if (line.trim() === '') return null;
  try {
    const v: unknown = JSON.parse(line);
    if (typeof v !== 'object' || v === null) return null;
    const e = v as Partial<AuditEvent>;
    if (typeof e.id !== 'string' || typeof e.requestId !== 'string' || typeof e.seq !== 'number') return null;
    return v as AuditEvent;
  } catch {
    return null;
  }
}

/**
 * Calls `onLine` for every newline-terminated line in bytes [from, size) and returns the offset just after the
 * last newline plus the bytes after it (a torn line, or nothing). Splits on bytes, not characters, so offsets stay
 * exact and a multi-byte character cut by a chunk boundary is decoded whole.
 */
async function scanLines(
  fh: FileHandle,
  from: number,
  size: number,
  onLine: (line: string) => void,
): Promise<{ end: number; tail: Buffer }> {
  const chunk = Buffer.alloc(READ_CHUNK);
  let carry = Buffer.alloc(0);
  let pos = from;
  while (pos < size) {
    const { bytesRead } = await fh.read(chunk, 0, Math.min(READ_CHUNK, size - pos), pos);
    if (bytesRead === 0) break;
    pos += bytesRead;
    const data = Buffer.concat([carry, chunk.subarray(0, bytesRead)]);
    let start = 0;
    for (let nl = data.indexOf(NEWLINE); nl !== -1; nl = data.indexOf(NEWLINE, start)) {
      onLine(data.toString('utf8', start, nl));
      start = nl + 1;
    }
    carry = data.subarray(start);
  }
  return { end: pos - carry.length, tail: carry };
}

async function openForRead(file: string): Promise<FileHandle | null> {
  try {
    return await open(file, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to another user.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Runs `op` holding `<file>.lock`, an O_EXCL lock file with the holder's pid, so processes on this machine sharing
 * the data dir do not both decide that an id is new. A lock whose pid is gone, or that is older than
 * LOCK_STALE_MS, is broken. Two waiters breaking the same stale lock at once could both proceed; that needs a crash
 * first, and costs at most a duplicate line, which readers drop (listByRequest keeps the first line per id).
 */
async function withFileLock<T>(lockFile: string, op: () => Promise<T>): Promise<T> {
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
    if (Date.now() - mtimeMs > LOCK_STALE_MS) return true;
    const pid = Number.parseInt(text, 10);
    // An empty file is a holder between create and write: young, so not stale.
    return Number.isInteger(pid) && pid > 0 && !isAlive(pid);
  } finally {
    await fh.close();
  }
}

/**
 * The embedded audit sink: JSON Lines at `file`, one event per line, append-only. Exactly once: an event whose id
 * is already in the file is skipped, including ids appended by another process sharing the file. Each batch is one
 * O_APPEND write followed by fdatasync, so an acknowledged event survives a crash; a torn last line left by a crash
 * is ignored and the next append starts on a fresh line.
 */
export function openJsonlAuditSink(file: string): AuditSink {
  const lockFile = `${file}.lock`;
  /** Ids of every complete line up to `readUpTo`, plus a parsable torn tail. */
  const ids = new Set<string>();
  let readUpTo = 0;
  let appendHandle: FileHandle | null = null;
  let queue: Promise<unknown> = Promise.resolve();
  let closed = false;
  let dirReady = false;

  /** One operation at a time in this process, so concurrent appends never interleave or race on `ids`. */
  function serialise<T>(op: () => Promise<T>, whenClosed: 'reject' | 'run' = 'reject'): Promise<T> {
    const result = queue.then(() => {
      if (closed && whenClosed === 'reject') throw new Error('audit sink is closed');
      return op();
    });
    queue = result.catch(() => undefined);
    return result;
  }

  /** Reads what was appended since the last call (by anyone); tells whether the file ends on a line break. */
  async function catchUp(): Promise<{ endsWithNewline: boolean }> {
    const fh = await openForRead(file);
    if (!fh) {
      ids.clear();
      readUpTo = 0;
      return { endsWithNewline: true };
    }
    try {
      const { size } = await fh.stat();
      if (size < readUpTo) {
        // Truncated or replaced behind our back: what we knew no longer describes the file.
        ids.clear();
        readUpTo = 0;
      }
      const { end, tail } = await scanLines(fh, readUpTo, size, (line) => {
        const e = parseEvent(line);
        if (e) ids.add(e.id);
      });
      readUpTo = end;
      // A whole event that lost only its newline to a crash still counts; the next append terminates it.
      const torn = parseEvent(tail.toString('utf8'));
      if (torn) ids.add(torn.id);
      return { endsWithNewline: tail.length === 0 };
    } finally {
      await fh.close();
    }
  }

  async function handleForAppend(): Promise<FileHandle> {
    if (appendHandle) return appendHandle;
    const fh = await open(file, 'a');
    try {
      // Make the file's directory entry durable too, else a crash right after creation could lose the whole file.
      const dir = await open(dirname(file), 'r');
      await dir.sync().finally(() => dir.close());
    } catch {
      // Some platforms cannot open or fsync a directory; the data itself is still fsynced below.
    }
    appendHandle = fh;
    return fh;
  }

  return {
    append(events) {
      return serialise(async () => {
        if (events.length === 0) return;
        if (!dirReady) {
          await mkdir(dirname(file), { recursive: true });
          dirReady = true;
        }
        await withFileLock(lockFile, async () => {
          const { endsWithNewline } = await catchUp();
          const fresh: AuditEvent[] = [];
          const batchIds = new Set<string>();
          for (const e of events) {
            if (ids.has(e.id) || batchIds.has(e.id)) continue;
            batchIds.add(e.id);
            fresh.push(e);
          }
          if (fresh.length === 0) return;
          const text = (endsWithNewline ? '' : '\n') + fresh.map((e) => `${JSON.stringify(e)}\n`).join('');
          const fh = await handleForAppend();
          // One write call for the whole batch: with O_APPEND it lands contiguously at the end of the file. The loop
          // only matters for a short write (disk full), which leaves a torn line the next append steps over.
          const buf = Buffer.from(text, 'utf8');
          let off = 0;
          while (off < buf.length) off += (await fh.write(buf, off)).bytesWritten;
          await fh.datasync();
          // readUpTo stays put: the next catch-up re-reads these lines, which is cheaper than trusting the size.
          for (const e of fresh) ids.add(e.id);
        });
      });
    },

    listByRequest(requestId) {
      // Reads the whole file each time: fine for the embedded default; real deployments use a database sink.
      return serialise(async () => {
        const fh = await openForRead(file);
        if (!fh) return [];
        const byId = new Map<string, AuditEvent>();
        const keep = (line: string): void => {
          const e = parseEvent(line);
          // First line per id wins, so a duplicate left by a broken stale lock is invisible to readers.
          if (e && e.requestId === requestId && !byId.has(e.id)) byId.set(e.id, e);
        };
        try {
          const { size } = await fh.stat();
          const { tail } = await scanLines(fh, 0, size, keep);
          keep(tail.toString('utf8'));
        } finally {
          await fh.close();
        }
        return [...byId.values()].sort((a, b) => a.seq - b.seq);
      });
    },

    close() {
      return serialise(async () => {
        closed = true;
        const fh = appendHandle;
        appendHandle = null;
        await fh?.close();
      }, 'run');
    },
  };
}
