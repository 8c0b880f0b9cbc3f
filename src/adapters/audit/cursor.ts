import { InvalidAuditCursorError } from '../../ports/audit-sink.js';

/**
 * Pull-API cursors: a sink's stable position (a byte offset in the JSON Lines file, the bigserial in PostgreSQL),
 * tagged with the sink kind and base64url-encoded. Opaque to clients, so the position's meaning can change later;
 * tagged, so a cursor from one kind of sink is refused by another instead of silently meaning something else.
 */
const MAX_POSITION = 2n ** 63n - 1n;

export type CursorKind = 'jsonl' | 'pg';

/** Encodes a non-negative integer position (number or decimal string). */
export function encodeCursor(kind: CursorKind, position: number | bigint | string): string {
  return Buffer.from(`${kind}:${String(position)}`, 'utf8').toString('base64url');
}

/** Decodes a cursor of `kind` into its position as a decimal string; throws InvalidAuditCursorError otherwise. */
export function decodeCursor(kind: CursorKind, cursor: string): string {
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(cursor)) throw new InvalidAuditCursorError();
  const m = /^([a-z]+):(0|[1-9][0-9]{0,18})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (!m || m[1] !== kind || m[2] === undefined) throw new InvalidAuditCursorError();
  // Past a bigint, so PostgreSQL would fail the query as if the sink were broken; it is the cursor that is.
  if (BigInt(m[2]) > MAX_POSITION) throw new InvalidAuditCursorError();
  return m[2];
}
