import {
  chainHash,
  createChainVerifier,
  hasChainLink,
  type ChainVerdict,
  type StoredAuditEvent,
} from '../../domain/audit-chain.js';
import { InvalidAuditCursorError, type AuditListQuery, type AuditPage } from '../../ports/audit-sink.js';
import { openForRead } from '../file-lock.js';
import { decodeCursor, encodeCursor } from './cursor.js';
import { parseEvent, scanLines } from './jsonl-lines.js';

/**
 * Reads one page of a JSON Lines audit file for the pull API. The cursor is the byte offset just after the last
 * line looked at: the file is append-only, so an offset never changes meaning. Lines without a chain link
 * (written by hand or before chaining) are not served; `verifyJsonlFile` reports them. `isFirst` lets the sink
 * hide a duplicate line (first line per id wins), which only a crash plus a broken stale lock can leave.
 */
export async function listJsonlPage(
  file: string,
  q: AuditListQuery,
  isFirst: (id: string, start: number) => boolean = () => true,
): Promise<AuditPage> {
  const from = q.after === undefined ? 0 : Number(decodeCursor('jsonl', q.after));
  const limit = Math.max(1, Math.floor(q.limit));
  const fh = await openForRead(file);
  if (!fh) {
    if (from > 0) throw new InvalidAuditCursorError();
    return { events: [], next: q.after ?? null, more: false };
  }
  try {
    const { size } = await fh.stat();
    // Past the end can only be a forged cursor or a replaced file; either way the client must start over.
    if (from > size) throw new InvalidAuditCursorError();
    const events: StoredAuditEvent[] = [];
    let more = false;
    const { end } = await scanLines(fh, from, size, (line, start) => {
      const e = parseEvent(line);
      if (!e || !hasChainLink(e)) return;
      if (q.tenant !== undefined && e.tenant !== q.tenant) return;
      if (q.type !== undefined && e.type !== q.type) return;
      if (!isFirst(e.id, start)) return;
      events.push(e);
      if (events.length < limit) return;
      more = true;
      return 'stop';
    });
    const next = end === 0 && q.after === undefined ? null : encodeCursor('jsonl', end);
    return { events, next, more };
  } finally {
    await fh.close();
  }
}

const hashMatches = (e: StoredAuditEvent): boolean => chainHash(e.chain.prev, e) === e.chain.hash;

/**
 * Verifies the chains of a JSON Lines audit file (every tenant, or one) in file order; what
 * `lockbox audit verify <file>` runs. A line that does not parse as an event is skipped as torn (a crash can leave
 * one); if it was an event, the next event of its tenant breaks the chain, so nothing is silently lost. Keeps one
 * entry per event in memory, as the sink itself does.
 */
export async function verifyJsonlFile(file: string, q: { tenant?: string } = {}): Promise<ChainVerdict> {
  const verifier = createChainVerifier();
  const fh = await openForRead(file);
  if (!fh) return verifier.result();
  try {
    /** Id -> link of every verified line, to recognise an exact repeat. */
    const seen = new Map<string, string>();
    const visit = (line: string): void | 'stop' => {
      const e = parseEvent(line);
      if (!e || (q.tenant !== undefined && e.tenant !== q.tenant)) return;
      // A repeat of a verified line (same link, content still matching it) carries nothing new, readers already drop
      // it, and a crash plus a broken stale lock can leave one: skipped. The same id with other content is a break.
      const link = hasChainLink(e) ? JSON.stringify(e.chain) : undefined;
      if (hasChainLink(e) && seen.get(e.id) === link && hashMatches(e)) return;
      if (!verifier.push(e)) return 'stop';
      if (link !== undefined) seen.set(e.id, link);
    };
    const { size } = await fh.stat();
    const { tail } = await scanLines(fh, 0, size, visit);
    // A whole event that lost only its newline to a crash is still part of the record.
    if (tail.length > 0) visit(tail.toString('utf8'));
    return verifier.result();
  } finally {
    await fh.close();
  }
}
