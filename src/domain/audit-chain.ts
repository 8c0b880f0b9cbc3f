import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js';
import type { AuditEvent } from './audit.js';

/**
 * Tamper evidence for stored audit events: one hash chain per tenant per sink. Pure (no I/O, no Node built-ins),
 * so sinks, the CLI and, if ever needed, workflow code compute the same hashes.
 *
 * hash = sha256_hex(prev + canonicalJson(event without `chain`)); the first event of a tenant has prev = 64 zeros.
 * What it detects: an edited event (its hash no longer matches), a deleted, reordered or inserted event (the
 * per-tenant index or the prev link no longer lines up). What it cannot detect on its own: events cut off at the
 * END of a chain (the rest still verifies, with a smaller count) or a chain rewritten from the edit onwards by
 * someone who can write the store. Both need the head (`heads` of an ok verdict) kept somewhere else too.
 */

/** The link a sink adds to each event it stores. */
export interface AuditChainLink {
  /** Hash of the previous event of the same tenant in this sink, or GENESIS_HASH for the first. */
  prev: string;
  /** sha256 hex of prev + canonicalJson(event without chain). */
  hash: string;
  /** Position in the tenant's chain, 1-based. */
  index: number;
}

/** An event as a sink stores it and lists it. */
export type StoredAuditEvent = AuditEvent & { chain: AuditChainLink };

/** The last link of one tenant's chain: what the next event links to. */
export interface ChainHead {
  hash: string;
  index: number;
}

/** `prev` of the first event of every tenant. */
export const GENESIS_HASH = '0'.repeat(64);

/**
 * JSON with object keys sorted (by UTF-16 code units, as RFC 8785 does), otherwise exactly JSON.stringify's
 * output: undefined members dropped, non-finite numbers as null, `toJSON` honoured. Mirroring JSON.stringify
 * matters because sinks store events as JSON: the hash of a read-back event must equal the hash of the original.
 */
export function canonicalJson(value: unknown): string {
  const out = canonical(value);
  if (out === undefined) throw new TypeError('canonicalJson: value has no JSON form');
  return out;
}

function canonical(value: unknown): string | undefined {
  if (value !== null && typeof value === 'object' && typeof (value as { toJSON?: unknown }).toJSON === 'function') {
    return canonical((value as { toJSON: () => unknown }).toJSON());
  }
  if (value === null || typeof value !== 'object') return JSON.stringify(value) as string | undefined;
  if (Array.isArray(value)) return `[${value.map((v) => canonical(v) ?? 'null').join(',')}]`;
  const members: string[] = [];
  for (const key of Object.keys(value).sort()) {
    const v = canonical((value as Record<string, unknown>)[key]);
    if (v !== undefined) members.push(`${JSON.stringify(key)}:${v}`);
  }
  return `{${members.join(',')}}`;
}

/** The event as it was exported: a stored event without its link. */
export function withoutChain<T extends AuditEvent>(event: T & { chain?: unknown }): AuditEvent {
  const { chain: _chain, ...rest } = event;
  return rest as AuditEvent;
}

/** sha256 hex of `prev` + canonicalJson(event without chain). */
export function chainHash(prev: string, event: AuditEvent): string {
  return bytesToHex(sha256(utf8ToBytes(prev + canonicalJson(withoutChain(event)))));
}

/**
 * Links `event` after `head` (undefined: the tenant's first event). The caller must hold whatever lock makes it
 * the only writer of this tenant's chain, and must store the results in the order returned.
 */
export function linkEvent(head: ChainHead | undefined, event: AuditEvent): StoredAuditEvent {
  const prev = head?.hash ?? GENESIS_HASH;
  const base = withoutChain(event);
  return { ...base, chain: { prev, hash: chainHash(prev, base), index: (head?.index ?? 0) + 1 } };
}

/** Links a batch in order, advancing `heads` (tenant -> head) as it goes. */
export function linkEvents(heads: Map<string, ChainHead>, events: readonly AuditEvent[]): StoredAuditEvent[] {
  return events.map((e) => {
    const stored = linkEvent(heads.get(e.tenant), e);
    heads.set(e.tenant, { hash: stored.chain.hash, index: stored.chain.index });
    return stored;
  });
}

/** Why a chain is broken at an event. */
export const ChainBreakReason = {
  /** The event carries no (well-formed) link: inserted by something other than a sink, or the link was removed. */
  missingChain: 'missing_chain',
  /** The event's content no longer gives its hash (or a store's indexed copy of it disagrees): it was edited. */
  hashMismatch: 'hash_mismatch',
  /** Not the next position of its tenant: an event before it was deleted, or events were reordered or inserted. */
  indexMismatch: 'index_mismatch',
  /** Right position, but it does not link to the event before it: that event was replaced or the chain forked. */
  prevMismatch: 'prev_mismatch',
} as const;
export type ChainBreakReason = (typeof ChainBreakReason)[keyof typeof ChainBreakReason];

/** The result of checking a sequence of stored events. */
export type ChainVerdict =
  | {
      ok: true;
      /** Events checked. */
      count: number;
      /** Last link per tenant: publish or keep it elsewhere to detect a later truncation. */
      heads: Record<string, ChainHead>;
    }
  | {
      ok: false;
      /** Events that verified before the first break. */
      count: number;
      /** The first broken event; `index` is the position its tenant's chain expected there. */
      brokenAt: { id: string; tenant: string; index: number; reason: ChainBreakReason };
    };

/** What the verifier reads: anything parsed from a store. Only well-formed links are trusted. */
export type ChainCandidate = AuditEvent & { chain?: unknown };

function isLink(v: unknown): v is AuditChainLink {
  if (typeof v !== 'object' || v === null) return false;
  const l = v as Record<string, unknown>;
  return typeof l.prev === 'string' && typeof l.hash === 'string' && Number.isInteger(l.index);
}

/** Whether a parsed event carries a well-formed link (its correctness is verifyChain's job). */
export function hasChainLink(e: ChainCandidate): e is StoredAuditEvent {
  return isLink(e.chain);
}

/**
 * A streaming verifier: push events in stored order (file order, cursor order); it stops at the first break.
 * Streaming lets a sink check a large store page by page.
 */
export function createChainVerifier(): {
  /** Checks the next event; false once the chain is broken (later pushes are ignored). */
  push(event: ChainCandidate): boolean;
  /** Records a break the store found itself (e.g. an indexed column edited beside the hashed JSON). */
  fail(event: ChainCandidate, reason: ChainBreakReason): void;
  result(): ChainVerdict;
} {
  const heads = new Map<string, ChainHead>();
  let count = 0;
  let broken: Extract<ChainVerdict, { ok: false }>['brokenAt'] | null = null;
  const brokenAt = (event: ChainCandidate, reason: ChainBreakReason): false => {
    const tenant = String(event.tenant);
    broken ??= { id: String(event.id), tenant, index: (heads.get(tenant)?.index ?? 0) + 1, reason };
    return false;
  };
  return {
    fail: brokenAt,
    push(event) {
      if (broken) return false;
      const tenant = String(event.tenant);
      const head = heads.get(tenant);
      const index = (head?.index ?? 0) + 1;
      const fail = (reason: ChainBreakReason): false => brokenAt(event, reason);
      const link = event.chain;
      if (!isLink(link)) return fail(ChainBreakReason.missingChain);
      if (chainHash(link.prev, event) !== link.hash) return fail(ChainBreakReason.hashMismatch);
      if (link.index !== index) return fail(ChainBreakReason.indexMismatch);
      if (link.prev !== (head?.hash ?? GENESIS_HASH)) return fail(ChainBreakReason.prevMismatch);
      heads.set(tenant, { hash: link.hash, index });
      count += 1;
      return true;
    },
    result() {
      return broken ? { ok: false, count, brokenAt: broken } : { ok: true, count, heads: Object.fromEntries(heads) };
    },
  };
}

/** Verifies events in stored order, each tenant's chain on its own. */
export function verifyChain(events: Iterable<ChainCandidate>): ChainVerdict {
  const v = createChainVerifier();
  for (const e of events) if (!v.push(e)) break;
  return v.result();
}

/** One line for people and the CLI: "ok, 12 events" or the first broken event. */
export function describeVerdict(v: ChainVerdict): string {
  if (v.ok) return `ok, ${v.count} events`;
  const b = v.brokenAt;
  return `broken at event ${b.id} (tenant ${b.tenant}, position ${b.index}): ${b.reason}, after ${v.count} good events`;
}
