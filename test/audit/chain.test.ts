/**
 * The audit hash chain, pure: how events are linked, and a table of tampering cases with the verdict each must get.
 * Personas: eve (engineer), alice and bob (contoso approvers); fabrikam is a second tenant with its own chain.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AuditEventType, buildAuditEvent, type AuditEvent, type AuditEventType as EventType } from '../../src/domain/audit.js';
import {
  ChainBreakReason,
  GENESIS_HASH,
  canonicalJson,
  chainHash,
  describeVerdict,
  linkEvents,
  verifyChain,
  withoutChain,
  type ChainCandidate,
  type ChainHead,
  type StoredAuditEvent,
} from '../../src/domain/audit-chain.js';

const T0 = Date.UTC(2030, 0, 1, 9, 0, 0);

function ev(tenant: string, requestId: string, seq: number, type: EventType, actor: string, details = {}): AuditEvent {
  return buildAuditEvent({ requestId, tenant, seq, time: new Date(T0 + seq * 1000), type, actor, details });
}

/** Two interleaved lifecycles in contoso and one in fabrikam, as one sink would store them. */
const STORY: AuditEvent[] = [
  ev('contoso', 'req-c1', 1, AuditEventType.requestCreated, 'eve', { resource: 'mailbox:bob', reason: 'INC-1' }),
  ev('fabrikam', 'req-f1', 1, AuditEventType.requestCreated, 'eve', { resource: 'db:orders' }),
  ev('contoso', 'req-c1', 2, AuditEventType.approversNotified, 'system'),
  ev('contoso', 'req-c2', 1, AuditEventType.requestCreated, 'eve', { resource: 'site:hr' }),
  ev('contoso', 'req-c1', 3, AuditEventType.requestApproved, 'alice', { comment: 'ok' }),
  ev('fabrikam', 'req-f1', 2, AuditEventType.requestExpired, 'system'),
  ev('contoso', 'req-c1', 4, AuditEventType.accessGranted, 'system', { endsAt: '2030-01-01T13:00:00.000Z' }),
  ev('contoso', 'req-c2', 2, AuditEventType.requestRejected, 'bob', { reason: 'no ticket' }),
];

const chained = (): StoredAuditEvent[] => linkEvents(new Map(), STORY);
const clone = <T>(v: T): T => structuredClone(v);

describe('canonical JSON', () => {
  it('sorts keys at every depth, keeps array order, and drops undefined like JSON.stringify', () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { z: 1, y: undefined }], c: null } })).toBe(
      '{"a":{"c":null,"d":[3,{"z":1}]},"b":1}',
    );
    expect(canonicalJson([undefined, NaN, 'x'])).toBe('[null,null,"x"]');
  });

  it('gives the same text after a JSON round trip, for any JSON value (what a sink reads back)', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        expect(canonicalJson(JSON.parse(JSON.stringify(v)))).toBe(canonicalJson(v));
      }),
      { numRuns: 500 },
    );
  });
});

describe('linking', () => {
  it('gives each tenant its own chain starting at the genesis hash, positions 1, 2, 3 ...', () => {
    const stored = chained();
    const contoso = stored.filter((e) => e.tenant === 'contoso');
    const fabrikam = stored.filter((e) => e.tenant === 'fabrikam');
    expect(contoso.map((e) => e.chain.index)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(fabrikam.map((e) => e.chain.index)).toEqual([1, 2]);
    expect(contoso[0]?.chain.prev).toBe(GENESIS_HASH);
    expect(fabrikam[0]?.chain.prev).toBe(GENESIS_HASH);
    for (let i = 1; i < contoso.length; i++) expect(contoso[i]?.chain.prev).toBe(contoso[i - 1]?.chain.hash);
    expect(stored[0]?.chain.hash).toBe(chainHash(GENESIS_HASH, STORY[0] as AuditEvent));
    expect(stored[0]?.chain.hash).toMatch(/^[0-9a-f]{64}$/);
  });

  it('continues from a head, so batches appended one after another form one chain', () => {
    const heads = new Map<string, ChainHead>();
    const first = linkEvents(heads, STORY.slice(0, 3));
    const second = linkEvents(heads, STORY.slice(3));
    expect([...first, ...second]).toEqual(chained());
  });

  it('hashes the event without its link, whatever the key order', () => {
    const [e] = chained();
    if (!e) throw new Error('no event');
    const reordered = Object.fromEntries(Object.entries(withoutChain(e)).reverse()) as unknown as AuditEvent;
    expect(chainHash(e.chain.prev, reordered)).toBe(e.chain.hash);
    expect(chainHash(e.chain.prev, e)).toBe(e.chain.hash);
  });
});

type Tamper = (events: ChainCandidate[]) => ChainCandidate[];

/** Each case: what is done to the stored STORY, and the verdict verify must give. */
const TAMPER_CASES: { name: string; tamper: Tamper; expect: { ok: true; count: number } | { ok: false; count: number; id: string; index: number; reason: ChainBreakReason } }[] = [
  { name: 'untouched', tamper: (es) => es, expect: { ok: true, count: 8 } },
  {
    name: 'approver edited (alice -> bob)',
    tamper: (es) => es.map((e) => (e.id === 'req-c1:3' ? { ...e, actor: 'bob' } : e)),
    expect: { ok: false, count: 4, id: 'req-c1:3', index: 4, reason: ChainBreakReason.hashMismatch },
  },
  {
    name: 'detail edited deep inside',
    tamper: (es) => es.map((e) => (e.id === 'req-c1:4' ? { ...e, details: { endsAt: '2031-01-01T00:00:00.000Z' } } : e)),
    expect: { ok: false, count: 6, id: 'req-c1:4', index: 5, reason: ChainBreakReason.hashMismatch },
  },
  {
    name: 'event deleted from the middle',
    tamper: (es) => es.filter((e) => e.id !== 'req-c1:2'),
    expect: { ok: false, count: 2, id: 'req-c2:1', index: 2, reason: ChainBreakReason.indexMismatch },
  },
  {
    name: 'first event of a tenant deleted',
    tamper: (es) => es.filter((e) => e.id !== 'req-f1:1'),
    expect: { ok: false, count: 4, id: 'req-f1:2', index: 1, reason: ChainBreakReason.indexMismatch },
  },
  {
    name: 'two events of a tenant swapped',
    tamper: (es) => {
      const out = [...es];
      [out[2], out[3]] = [out[3] as ChainCandidate, out[2] as ChainCandidate];
      return out;
    },
    expect: { ok: false, count: 2, id: 'req-c2:1', index: 2, reason: ChainBreakReason.indexMismatch },
  },
  {
    name: 'swapped and renumbered to hide it',
    tamper: (es) => {
      const out = es.map(clone);
      const [a, b] = [out[2] as StoredAuditEvent, out[3] as StoredAuditEvent];
      [a.chain.index, b.chain.index] = [b.chain.index, a.chain.index];
      [out[2], out[3]] = [b, a];
      return out;
    },
    // Renumbering changes no hash, but the links still point the old way round.
    expect: { ok: false, count: 2, id: 'req-c2:1', index: 2, reason: ChainBreakReason.prevMismatch },
  },
  {
    name: 'event inserted without a link',
    tamper: (es) => [...es.slice(0, 5), ev('contoso', 'req-c9', 1, AuditEventType.requestApproved, 'mallory'), ...es.slice(5)],
    expect: { ok: false, count: 5, id: 'req-c9:1', index: 5, reason: ChainBreakReason.missingChain },
  },
  {
    name: 'event inserted with a forged link copied from its neighbour',
    tamper: (es) => {
      const forged = ev('contoso', 'req-c9', 1, AuditEventType.requestApproved, 'mallory');
      const neighbour = es[4] as StoredAuditEvent;
      const link = { ...neighbour.chain, hash: chainHash(neighbour.chain.prev, forged) };
      return [...es.slice(0, 4), { ...forged, chain: link }, ...es.slice(4)];
    },
    // A well-formed link to the right predecessor: the forgery itself verifies, the real event after it cannot.
    expect: { ok: false, count: 5, id: 'req-c1:3', index: 5, reason: ChainBreakReason.indexMismatch },
  },
  {
    name: 'a line stored twice',
    tamper: (es) => [...es.slice(0, 3), es[2] as ChainCandidate, ...es.slice(3)],
    expect: { ok: false, count: 3, id: 'req-c1:2', index: 3, reason: ChainBreakReason.indexMismatch },
  },
  {
    name: 'link removed from an event',
    tamper: (es) => es.map((e) => (e.id === 'req-f1:2' ? withoutChain(e) : e)),
    expect: { ok: false, count: 5, id: 'req-f1:2', index: 2, reason: ChainBreakReason.missingChain },
  },
  {
    // The documented limit: cutting events off the END leaves a valid, shorter chain. Only a head kept elsewhere
    // (the `heads` of an earlier verdict, a SIEM's copy) shows that events are missing.
    name: 'last three events truncated: still ok, with a smaller count',
    tamper: (es) => es.slice(0, 5),
    expect: { ok: true, count: 5 },
  },
];

describe('verifyChain', () => {
  it.each(TAMPER_CASES)('$name', ({ tamper, expect: want }) => {
    const verdict = verifyChain(tamper(chained().map(clone)));
    if (want.ok) {
      expect(verdict).toMatchObject({ ok: true, count: want.count });
    } else {
      expect(verdict).toEqual({
        ok: false,
        count: want.count,
        brokenAt: { id: want.id, tenant: expect.any(String), index: want.index, reason: want.reason },
      });
    }
  });

  it('reports the head of every tenant, which tells a truncated copy from the original', () => {
    const full = verifyChain(chained());
    const cut = verifyChain(chained().slice(0, 5));
    if (!full.ok || !cut.ok) throw new Error('expected ok');
    expect(full.heads.contoso?.index).toBe(6);
    expect(full.heads.fabrikam?.index).toBe(2);
    expect(cut.heads.contoso).not.toEqual(full.heads.contoso);
  });

  it('verifies one tenant on its own (a tenant filter keeps a valid chain)', () => {
    expect(verifyChain(chained().filter((e) => e.tenant === 'fabrikam'))).toMatchObject({ ok: true, count: 2 });
  });

  it('finds any single edit at the edited event (property)', () => {
    fc.assert(
      fc.property(fc.nat(STORY.length - 1), fc.string(), (i, note) => {
        const events = chained().map(clone);
        const target = events[i] as StoredAuditEvent;
        fc.pre(target.details.note !== note);
        target.details = { ...target.details, note };
        const verdict = verifyChain(events);
        expect(verdict.ok).toBe(false);
        if (!verdict.ok) expect(verdict.brokenAt).toMatchObject({ id: target.id, reason: ChainBreakReason.hashMismatch });
      }),
      { numRuns: 300 },
    );
  });

  it('says it in one line', () => {
    expect(describeVerdict(verifyChain(chained()))).toBe('ok, 8 events');
    const edited = chained().map((e) => (e.id === 'req-c1:3' ? { ...e, actor: 'bob' } : e));
    expect(describeVerdict(verifyChain(edited))).toBe(
      'broken at event req-c1:3 (tenant contoso, position 4): hash_mismatch, after 4 good events',
    );
  });
});
