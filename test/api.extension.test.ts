import pg from 'pg';
import { describe, expect, inject, it } from 'vitest';
import { api, eventually, requestBody } from './support/api.js';

/** Extending an active grant: the same approvers decide; on approval the window moves, otherwise it stands. */
const stack = inject('stack');
const http = api();
const eve = http.as('eve');
const alice = http.as('alice');
const bob = http.as('bob');
const HOUR = 3_600_000;

async function activeRequest(overrides: Record<string, unknown> = {}) {
  const created = await eve.post('/v1/requests', requestBody(overrides));
  expect(created.status).toBe(201);
  const approved = await alice.post(`/v1/requests/${created.body.id}/approve`, {});
  expect(approved.body.status).toBe('active');
  return approved.body as { id: string; resource: string; access: { endsAt: string } };
}

const types = async (id: string) => (await eve.get(`/v1/requests/${id}/audit`)).body.events.map((e: any) => e.type) as string[];

describe('extending an active grant', () => {
  it('moves the window when an approver approves, at the access check too', async () => {
    const r = await activeRequest({ resource: 'mailbox:extend1@contoso.com', duration: '10m' });
    const asked = await eve.post(`/v1/requests/${r.id}/extend`, { duration: '1h', reason: 'migration still running' });
    expect(asked.status, JSON.stringify(asked.body)).toBe(200);
    expect(asked.body.extensions).toEqual([expect.objectContaining({ status: 'pending', duration: '1h', reason: 'migration still running' })]);
    // A second one while the first waits is refused; so is one asked by someone else.
    expect((await eve.post(`/v1/requests/${r.id}/extend`, { duration: '1h', reason: 'again' })).status).toBe(409);
    expect((await alice.post(`/v1/requests/${r.id}/extend`, { duration: '1h', reason: 'x' })).status).toBe(403);
    // The approvers hear about it.
    const n = await eventually(() => bob.get('/v1/notifications'), (x) => x.body.notifications.some((m: any) => m.requestId === r.id && m.kind === 'extension_needed'));
    expect(n.body.notifications.find((m: any) => m.kind === 'extension_needed' && m.requestId === r.id).body).toContain('migration still running');

    const approved = await bob.post(`/v1/requests/${r.id}/approve`, { comment: 'ok, one more hour' });
    expect(approved.status).toBe(200);
    const endsAt = approved.body.access.endsAt as string;
    expect(Date.parse(endsAt) - Date.parse(r.access.endsAt)).toBe(HOUR);
    expect(approved.body.extensions[0]).toMatchObject({ status: 'applied', endsAtBefore: r.access.endsAt, endsAtAfter: endsAt });
    const check = await eve.get(`/v1/access/check?tenant=contoso&resource=${r.resource}`);
    expect(check.body).toEqual({ allowed: true, requestId: r.id, endsAt });
    expect(await types(r.id)).toEqual(expect.arrayContaining(['extension.requested', 'extension.approved', 'access.extended']));
    await alice.post(`/v1/requests/${r.id}/revoke`, {});
  });

  it('keeps the original end when the extension is rejected, or nobody answers before the window ends', async () => {
    const rejected = await activeRequest({ resource: 'mailbox:extend2@contoso.com', duration: '3s' });
    await eve.post(`/v1/requests/${rejected.id}/extend`, { duration: '1h', reason: 'please' });
    const no = await alice.post(`/v1/requests/${rejected.id}/reject`, { reason: 'not needed' });
    expect(no.body.access.endsAt).toBe(rejected.access.endsAt);
    expect(no.body.extensions[0].status).toBe('rejected');

    const unanswered = await activeRequest({ resource: 'mailbox:extend3@contoso.com', duration: '3s' });
    await eve.post(`/v1/requests/${unanswered.id}/extend`, { duration: '1h', reason: 'please' });
    for (const r of [rejected, unanswered]) {
      const done = await eventually(() => eve.get(`/v1/requests/${r.id}`), (x) => x.body.status === 'completed', 30_000);
      expect(done.body.status, JSON.stringify(done.body)).toBe('completed');
      expect(done.body.access.endsAt).toBe(r.access.endsAt);
    }
    expect(await types(unanswered.id)).toContain('extension.expired');
  });

  it('refuses bad extensions with specific errors', async () => {
    const pending = (await eve.post('/v1/requests', requestBody({ resource: 'mailbox:extend4@contoso.com' }))).body;
    expect((await eve.post(`/v1/requests/${pending.id}/extend`, { duration: '1h', reason: 'x' })).status).toBe(409);
    const r = await activeRequest({ resource: 'mailbox:extend5@contoso.com' });
    const tooLong = await eve.post(`/v1/requests/${r.id}/extend`, { duration: '9h', reason: 'x' });
    expect(tooLong.status).toBe(400);
    expect(tooLong.body.errors[0].field).toBe('duration');
    const noReason = await eve.post(`/v1/requests/${r.id}/extend`, { duration: '1h' });
    expect(noReason.status).toBe(400);
    expect(noReason.body.errors[0].field).toBe('reason');
    await alice.post(`/v1/requests/${r.id}/revoke`, {});
  });

  it('moves VALID UNTIL of a PostgreSQL login', async () => {
    const r = await activeRequest({ resource: 'db:crm', duration: '10m' });
    await eve.post(`/v1/requests/${r.id}/extend`, { duration: '2h', reason: 'long report' });
    const approved = await alice.post(`/v1/requests/${r.id}/approve`, {});
    expect(approved.body.extensions[0].status).toBe('applied');
    const cred = (await eve.get(`/v1/requests/${r.id}/credentials`)).body;
    expect(cred.expiresAt).toBe(approved.body.access.endsAt);
    const admin = new pg.Client({ connectionString: stack.crmAdminUrl });
    await admin.connect();
    try {
      const row = await admin.query<{ rolvaliduntil: Date }>('SELECT rolvaliduntil FROM pg_roles WHERE rolname = $1', [cred.username]);
      expect(row.rows[0]?.rolvaliduntil.toISOString()).toBe(approved.body.access.endsAt);
    } finally {
      await admin.end();
    }
    await alice.post(`/v1/requests/${r.id}/revoke`, {});
  });
});
