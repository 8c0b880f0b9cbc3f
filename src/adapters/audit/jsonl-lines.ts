import type { FileHandle } from 'node:fs/promises';
import type { AuditEvent } from '../../domain/audit.js';
import type { ChainCandidate } from '../../domain/audit-chain.js';

const NEWLINE = 0x0a;
const READ_CHUNK = 1 << 20;

/** Accepts a line only if it looks like an event; a torn or foreign line is skipped, not fatal. */
export function parseEvent(line: string): ChainCandidate | null {
  if (line.trim() === '') return null;
  try {
    const v: unknown = JSON.parse(line);
    if (typeof v !== 'object' || v === null) return null;
    const e = v as Partial<AuditEvent>;
    if (typeof e.id !== 'string' || typeof e.requestId !== 'string' || typeof e.seq !== 'number') return null;
    return v as ChainCandidate;
  } catch {
    return null;
  }
}

/** Return 'stop' from a line callback to end the scan after that line. */
export type LineVisitor = (line: string, start: number, end: number) => void | 'stop';

/**
 * Calls `onLine` for every newline-terminated line in bytes [from, size) with the line's byte range (`end` is just
 * after its newline), and returns the offset just after the last line visited plus the bytes after it (a torn
 * line, or nothing; empty when the visitor stopped early). Splits on bytes, not characters, so offsets stay exact
 * and a multi-byte character cut by a chunk boundary is decoded whole.
 */
export async function scanLines(
  fh: FileHandle,
  from: number,
  size: number,
  onLine: LineVisitor,
): Promise<{ end: number; tail: Buffer }> {
  // Sized to what there is to read (a catch-up before each append usually has nothing), and not zero-filled: only
  // the bytes each read fills are ever looked at.
  const chunk = Buffer.allocUnsafe(Math.max(0, Math.min(READ_CHUNK, size - from)));
  let carry = Buffer.alloc(0);
  let pos = from;
  while (pos < size) {
    const { bytesRead } = await fh.read(chunk, 0, Math.min(READ_CHUNK, size - pos), pos);
    if (bytesRead === 0) break;
    const base = pos - carry.length; // file offset of data[0]
    pos += bytesRead;
    const data = Buffer.concat([carry, chunk.subarray(0, bytesRead)]);
    let start = 0;
    for (let nl = data.indexOf(NEWLINE); nl !== -1; nl = data.indexOf(NEWLINE, start)) {
      const stop = onLine(data.toString('utf8', start, nl), base + start, base + nl + 1);
      start = nl + 1;
      if (stop === 'stop') return { end: base + start, tail: Buffer.alloc(0) };
    }
    carry = data.subarray(start);
  }
  return { end: pos - carry.length, tail: carry };
}
