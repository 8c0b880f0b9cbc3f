import pg from 'pg';
import { describe, expect, inject, it } from 'vitest';
import { api, eventually, requestBody } from './support/api.js';

/**
 * An approver shortens the window: `until` on approve. Access ends by then whatever the duration asked for, at the
 * built-in provider and at a PostgreSQL target (the login's VALID UNTIL), and the cap is signed, recorded and audited.
 */
const stack = inject('stack');
const http = api();
const eve = http.as('eve');
const alice = http.as('alice');
const bob = http.as('bob');

const inSeconds = (s: number) => new Date(Date.now() + s * 1000).toISOString();
const field = (body: any) => (body?.errors ?? []).map((e: any) => e.field);

async function pending(resource: string, duration = '4h'): Promise<string> {
  const created = await eve.post('/v1/requests', requestBody({ resource, duration }));
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  return created.body.id as string;
}

describe('approve with until', () => {
  it('refuses an until that is not a time, or too close, naming the field, and loses nothing', async () => {
    const id = await pending('mailbox:until-bad@contoso.com');
    for (const until of ['tomorrow', '2026-13-01T00:00:00Z', 42, inSeconds(3), inSeconds(-60)]) {
      const res = await alice.post(`/v1/requests/${id}/approve`, { until });
      expect(res.status, `${until}: ${JSON.stringify(res.body)}`).toBe(400);
      expect(res.headers.get('content-type')).toContain('application/problem+json');
      expect(field(res.body), String(until)).toEqual(['until']);
    }
    // Nothing was decided: the request still waits, and a good approval goes through.
    expect((await eve.get(`/v1/requests/${id}`)).body).toMatchObject({ status: 'pending', decisions: [] });
    const ok = await alice.post(`/v1/requests/${id}/approve`, {});
    expect(ok.body.status).toBe('active');
    await alice.post(`/v1/requests/${id}/revoke`, {});
  });

  it('ends built-in access by until, records the cap on the decision and in the audit, and revokes then', async () => {
    const res = 'mailbox:until-builtin@contoso.com';
    const id = await pending(res);
    // Any offset is accepted; the cap is kept in UTC.
    const cap = new Date(Math.ceil((Date.now() + 12_000) / 1000) * 1000);
    const local = cap.toISOString().replace('Z', '+00:00');
    const approved = await alice.post(`/v1/requests/${id}/approve`, { comment: 'until the call ends', until: local });
    expect(approved.status, JSON.stringify(approved.body)).toBe(200);
    expect(approved.body.status).toBe('active');
    const endsAt = Date.parse(approved.body.access.endsAt);
    // Four hours were asked; the window ends at the cap, not a millisecond later.
    expect(endsAt).toBeLessThanOrEqual(cap.getTime());
    expect(endsAt).toBe(cap.getTime());
    expect(approved.body.decisions).toEqual([expect.objectContaining({ actor: 'alice@contoso.com', action: 'approve', until: cap.toISOString() })]);
    expect((await eve.get(`/v1/access/check?tenant=contoso&resource=${encodeURIComponent(res)}`)).body.allowed).toBe(true);

    const done = await eventually(() => eve.get(`/v1/requests/${id}`), (r) => r.body.status === 'completed', 40_000);
    expect(done.body.status).toBe('completed');
    expect(Date.parse(done.body.access.revokedAt)).toBeGreaterThanOrEqual(endsAt);
    expect((await eve.get(`/v1/access/check?tenant=contoso&resource=${encodeURIComponent(res)}`)).body.allowed).toBe(false);
    const events = (await eve.get(`/v1/requests/${id}/audit`)).body.events as Array<{ type: string; details: any }>;
    expect(events.find((e) => e.type === 'request.approved')?.details).toMatchObject({ until: cap.toISOString(), comment: 'until the call ends' });
  }, 60_000);

  it('makes a PostgreSQL login that the database itself stops accepting at until', async () => {
    const id = await pending('db:crm', '2h');
    const cap = inSeconds(15);
    const approved = await bob.post(`/v1/requests/${id}/approve`, { until: cap });
    expect(approved.status, JSON.stringify(approved.body)).toBe(200);
    const cred = (await eve.get(`/v1/requests/${id}/credentials`)).body as { username: string; expiresAt: string };
    expect(Date.parse(cred.expiresAt)).toBe(Date.parse(cap));
    const admin = new pg.Client({ connectionString: stack.crmAdminUrl });
    await admin.connect();
    try {
      const r = await admin.query<{ rolvaliduntil: Date }>('SELECT rolvaliduntil FROM pg_roles WHERE rolname = $1', [cred.username]);
      expect(r.rows[0]!.rolvaliduntil.getTime()).toBe(Date.parse(cap));
    } finally {
      await admin.end();
    }
    await bob.post(`/v1/requests/${id}/revoke`, { reason: 'test done' });
  });

  it("is refused on an extension's approval: an extension moves the end by what was asked", async () => {
    const id = await pending('mailbox:until-extend@contoso.com', '10m');
    await alice.post(`/v1/requests/${id}/approve`, {});
    expect((await eve.post(`/v1/requests/${id}/extend`, { duration: '1h', reason: 'more' })).status).toBe(200);
    const res = await bob.post(`/v1/requests/${id}/approve`, { until: inSeconds(600) });
    expect(res.status, JSON.stringify(res.body)).toBe(409);
    expect(JSON.stringify(res.body)).toContain('invalid_until');
    expect((await eve.get(`/v1/requests/${id}`)).body.extensions[0].status).toBe('pending');
    await alice.post(`/v1/requests/${id}/revoke`, {});
  });
});
