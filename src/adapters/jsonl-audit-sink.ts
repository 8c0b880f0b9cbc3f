import { mkdir, open, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { AuditEvent } from '../domain/audit.js';
import { hasChainLink, linkEvents, withoutChain, type ChainCandidate, type ChainHead } from '../domain/audit-chain.js';
import type { AuditSink } from '../ports/audit-sink.js';
import { listJsonlPage, verifyJsonlFile } from './audit/jsonl-read.js';
import { parseEvent, scanLines } from './audit/jsonl-lines.js';
import { openForRead, withFileLock } from './file-lock.js';

/**
 * The embedded audit sink: JSON Lines at `file`, one event per line, append-only. Exactly once: an event whose id
 * is already in the file is skipped, including ids appended by another process sharing the file. Each batch is one
 * O_APPEND write followed by fdatasync, so an acknowledged event survives a crash; a torn last line left by a crash
 * is ignored and the next append starts on a fresh line.
 *
 * Group commit: appends that arrive while one is being written wait and go out together, as one lock, one catch-up,
 * one write and one fdatasync, and each caller is answered when that group is durable (or all of them fail, and each
 * retries). Under many concurrent exports (an expiry burst) the file's cost is per group, not per export.
 *
 * Tamper evidence: each stored line carries its tenant's chain link. The link is computed under the cross-process
 * file lock, right after catching up with every line already in the file, so workers in several processes extend
 * one chain per tenant in arrival order instead of forking it.
 */
export function openJsonlAuditSink(file: string): AuditSink {
  const lockFile = `${file}.lock`;
  /** Id -> byte offset of its first line, for every complete line up to `readUpTo`, plus a parsable torn tail. */
  const ids = new Map<string, number>();
  /** Last chain link per tenant among the lines read so far: what the next appended event links to. */
  let heads = new Map<string, ChainHead>();
  let readUpTo = 0;
  let appendHandle: FileHandle | null = null;
  let queue: Promise<unknown> = Promise.resolve();
  /** Appends waiting for the next group commit. */
  let waiting: Array<{ events: AuditEvent[]; done: (err?: unknown) => void }> = [];
  let closed = false;
  let dirReady = false;

  /** One operation at a time in this process, so concurrent appends never interleave or race on shared state. */
  function serialise<T>(op: () => Promise<T>, whenClosed: 'reject' | 'run' = 'reject'): Promise<T> {
    const result = queue.then(() => {
      if (closed && whenClosed === 'reject') throw new Error('audit sink is closed');
      return op();
    });
    queue = result.catch(() => undefined);
    return result;
  }

  function learn(e: ChainCandidate | null, start: number): void {
    if (!e) return;
    const known = ids.get(e.id);
    // A repeated id (a crash plus a broken stale lock) is not a new link: the chain goes on from the first line.
    if (known !== undefined && known !== -1 && known !== start) return;
    ids.set(e.id, start);
    // Later lines win: the file order is the chain order.
    if (hasChainLink(e)) heads.set(e.tenant, { hash: e.chain.hash, index: e.chain.index });
  }

  /** Reads what was appended since the last call (by anyone); tells the file's size and whether it ends on a line break. */
  async function catchUp(): Promise<{ endsWithNewline: boolean; size: number }> {
    const fh = await openForRead(file);
    if (!fh) {
      ids.clear();
      heads.clear();
      readUpTo = 0;
      return { endsWithNewline: true, size: 0 };
    }
    try {
      const { size } = await fh.stat();
      if (size < readUpTo) {
        // Truncated or replaced behind our back: what we knew no longer describes the file.
        ids.clear();
        heads.clear();
        readUpTo = 0;
      }
      const { end, tail } = await scanLines(fh, readUpTo, size, (line, start) => learn(parseEvent(line), start));
      readUpTo = end;
      // A whole event that lost only its newline to a crash still counts; the next append terminates it.
      learn(parseEvent(tail.toString('utf8')), end);
      return { endsWithNewline: tail.length === 0, size };
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

  /** Writes one group: under the cross-process lock, after catching up, each id not yet in the file, once. */
  async function writeGroup(events: AuditEvent[]): Promise<void> {
    if (!dirReady) {
      await mkdir(dirname(file), { recursive: true });
      dirReady = true;
    }
    await withFileLock(lockFile, async () => {
      const { endsWithNewline, size } = await catchUp();
      const fresh: AuditEvent[] = [];
      const batchIds = new Set<string>();
      for (const e of events) {
        if (ids.has(e.id) || batchIds.has(e.id)) continue;
        batchIds.add(e.id);
        fresh.push(e);
      }
      if (fresh.length === 0) return;
      // Link on a copy: if the write fails, the heads must still describe the file, not this batch.
      const nextHeads = new Map(heads);
      const lines = linkEvents(nextHeads, fresh).map((e) => `${JSON.stringify(e)}\n`);
      const lead = endsWithNewline ? '' : '\n';
      const fh = await handleForAppend();
      // One write call for the whole batch: with O_APPEND it lands contiguously at the end of the file. The loop
      // only matters for a short write (disk full), which leaves a torn line the next append steps over.
      const buf = Buffer.from(lead + lines.join(''), 'utf8');
      let off = 0;
      while (off < buf.length) off += (await fh.write(buf, off)).bytesWritten;
      await fh.datasync();
      // Nobody else appends while we hold the lock, so the lines start where the file ended: record their offsets
      // and move past them instead of reading back what we just wrote.
      let at = size + Buffer.byteLength(lead);
      fresh.forEach((e, i) => {
        ids.set(e.id, at);
        at += Buffer.byteLength(lines[i]!);
      });
      readUpTo = at;
      heads = nextHeads;
    });
  }

  /** Takes every append waiting now and commits them as one group; each is answered with the group's outcome. */
  async function commitWaiting(): Promise<void> {
    const group = waiting;
    waiting = [];
    if (group.length === 0) return;
    try {
      if (closed) throw new Error('audit sink is closed');
      await writeGroup(group.flatMap((g) => g.events));
      for (const g of group) g.done();
    } catch (err) {
      for (const g of group) g.done(err);
    }
  }

  return {
    append(events) {
      if (closed) return Promise.reject(new Error('audit sink is closed'));
      if (events.length === 0) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        // The first append to wait queues a commit; later ones join the group until that commit starts.
        if (waiting.length === 0) void serialise(commitWaiting, 'run');
        waiting.push({ events: [...events], done: (err) => (err === undefined ? resolve() : reject(err)) });
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
          if (e && e.requestId === requestId && !byId.has(e.id)) byId.set(e.id, withoutChain(e));
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

    list(q) {
      return serialise(async () => {
        // Catching up (no lock needed to read) tells which line is the first of its id.
        await catchUp();
        return listJsonlPage(file, q, (id, start) => {
          const first = ids.get(id);
          return first === undefined || first === -1 || first === start;
        });
      });
    },

    verify(q) {
      return serialise(() => verifyJsonlFile(file, q));
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
