/**
 * Records workflow histories for the replay test (test/replay.test.ts) from a running stack (docs/versioning.md).
 * Until 1.0 there is one live version of each workflow: after a workflow change, delete test/histories/*.json and
 * record them anew from the new code. From 1.0 on, record BEFORE the change and keep the old files, so the replay
 * test proves that running requests survive it:
 *   LOCKBOX_URL=http://127.0.0.1:3000 TEMPORAL_ADDRESS=127.0.0.1:7233 npx tsx scripts/record-histories.ts
 * The stack should run with LOCKBOX_REQUEST_TTL=3s so the expiry scenario finishes quickly (on a fresh data dir: the
 * demo tenants take that lifetime when first seeded).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { Client, Connection } from '@temporalio/client';

const url = process.env.LOCKBOX_URL ?? 'http://127.0.0.1:3000';
const address = process.env.TEMPORAL_ADDRESS ?? '127.0.0.1:7233';
const namespace = process.env.TEMPORAL_NAMESPACE ?? 'lockbox';
const out = new URL('../test/histories/', import.meta.url);
/** Files are `<prefix><scenario>.json` (from 1.0 on, a prefix per release keeps older recordings apart). */
const prefix = process.env.HISTORY_PREFIX ?? '';

async function call(token: string, method: string, path: string, body?: unknown) {
  const res = await fetch(`${url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
  return res.json() as Promise<{ id: string; status: string }>;
}
const create = (resource: string, duration = '2s', tenant = 'contoso') =>
  call('eve-dev-token', 'POST', '/v1/requests', { tenant, resource, reason: 'replay fixture', ticket: 'SUP-1', duration });

/** Break-glass on for contoso (alice, admin), eve its responder, a short review deadline (docs/break-glass.md). */
async function enableBreakGlass() {
  const view = (await call('alice-dev-token', 'GET', '/v1/tenants/contoso/settings')) as unknown as Record<string, unknown>;
  const { customerApproval, approvers, quorum, requestTtl, maxAccess, requireTicket, internalApproval } = view;
  const breakGlass = { enabled: true, responders: ['eve@lockbox.dev'], maxDuration: '1h', reviewWithin: '3s' };
  await call('alice-dev-token', 'PUT', '/v1/tenants/contoso/settings', { customerApproval, approvers, quorum, requestTtl, maxAccess, requireTicket, internalApproval, breakGlass });
}
/** Escalation on for contoso to carol after 1s, and two reminders 1s apart (docs/break-glass.md, "Escalation"). */
async function enableEscalation() {
  const view = (await call('alice-dev-token', 'GET', '/v1/tenants/contoso/settings')) as unknown as Record<string, unknown>;
  const { customerApproval, approvers, quorum, requestTtl, maxAccess, requireTicket, internalApproval } = view;
  const escalation = { after: '1s', to: ['carol@contoso.com'] };
  const reminders = { count: 2, every: '1s' };
  await call('alice-dev-token', 'PUT', '/v1/tenants/contoso/settings', { customerApproval, approvers, quorum, requestTtl, maxAccess, requireTicket, internalApproval, escalation, reminders });
}
const emergency = (resource: string, duration: string) =>
  call('eve-dev-token', 'POST', '/v1/requests', { tenant: 'contoso', resource, reason: 'replay fixture: outage', ticket: 'INC-1', duration, emergency: true });

await mkdir(out, { recursive: true });
const client = new Client({ connection: await Connection.connect({ address }), namespace });
const scenarios: Record<string, () => Promise<string>> = {
  completed: async () => {
    const r = await create('mailbox:replay1@contoso.com');
    await call('alice-dev-token', 'POST', `/v1/requests/${r.id}/approve`, { comment: 'ok' });
    return r.id;
  },
  revoked: async () => {
    const r = await create('mailbox:replay2@contoso.com', '1h');
    await call('alice-dev-token', 'POST', `/v1/requests/${r.id}/approve`, {});
    await call('bob-dev-token', 'POST', `/v1/requests/${r.id}/revoke`, { reason: 'done' });
    return r.id;
  },
  rejected: async () => {
    const r = await create('mailbox:replay3@contoso.com');
    await call('bob-dev-token', 'POST', `/v1/requests/${r.id}/reject`, { reason: 'no' });
    return r.id;
  },
  expired: async () => (await create('mailbox:replay4@contoso.com')).id,
  'cancelled-in-temporal': async () => {
    const r = await create('mailbox:replay5@contoso.com', '1h');
    await call('alice-dev-token', 'POST', `/v1/requests/${r.id}/approve`, {});
    await client.workflow.getHandle(r.id).cancel();
    return r.id;
  },
  staged: async () => {
    const r = await create('mailbox:replay6@fabrikam.com', '2s', 'fabrikam');
    await call('ian-dev-token', 'POST', `/v1/requests/${r.id}/approve`, {});
    await call('fiona-dev-token', 'POST', `/v1/requests/${r.id}/approve`, {});
    await call('frank-dev-token', 'POST', `/v1/requests/${r.id}/approve`, {});
    return r.id;
  },
  extended: async () => {
    const r = await create('mailbox:replay7@contoso.com', '2s');
    await call('alice-dev-token', 'POST', `/v1/requests/${r.id}/approve`, {});
    await call('eve-dev-token', 'POST', `/v1/requests/${r.id}/extend`, { duration: '2s', reason: 'more' });
    await call('bob-dev-token', 'POST', `/v1/requests/${r.id}/approve`, {});
    return r.id;
  },
  /** A second run under a used id, started around the API with the first run's signed input: refused at once. */
  'second-run': async () => {
    const r = await create('mailbox:replay9@contoso.com', '1h');
    await call('eve-dev-token', 'POST', `/v1/requests/${r.id}/cancel`, { reason: 'done' });
    await client.workflow.getHandle(r.id).result();
    const first = await client.workflow.getHandle(r.id).fetchHistory();
    const payload = first.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0];
    const input: unknown = JSON.parse(Buffer.from(payload?.data ?? new Uint8Array()).toString('utf8'));
    const taskQueue = first.events?.[0]?.workflowExecutionStartedEventAttributes?.taskQueue?.name ?? 'lockbox';
    await client.workflow.start('accessRequestWorkflow', { workflowId: r.id, taskQueue, args: [input], workflowIdReusePolicy: 'ALLOW_DUPLICATE' });
    return r.id;
  },
  forged: async () => {
    const r = await create('mailbox:replay8@contoso.com');
    await client.workflow.getHandle(r.id).signal('approve', { actor: 'alice@contoso.com' });
    await client.workflow.getHandle(r.id).executeUpdate('approve', { args: [{ actor: 'alice@contoso.com' }] }).catch(() => undefined);
    await call('bob-dev-token', 'POST', `/v1/requests/${r.id}/reject`, { reason: 'forgery seen' });
    return r.id;
  },
  /** Break-glass: granted at once, reviewed by bob. */
  emergency: async () => {
    await enableBreakGlass();
    const r = await emergency('mailbox:replay10@contoso.com', '2s');
    await call('bob-dev-token', 'POST', `/v1/requests/${r.id}/review`, { verdict: 'justified', comment: 'outage confirmed' });
    return r.id;
  },
  /** Break-glass nobody reviews: overdue after the review deadline, then closed. */
  'emergency-overdue': async () => (await emergency('mailbox:replay11@contoso.com', '1s')).id,
  /** Nobody decides within 1s: escalated to carol (reminded meanwhile), who approves. */
  escalated: async () => {
    await enableEscalation();
    const r = await create('mailbox:replay12@contoso.com', '1s');
    for (let i = 0; i < 50; i += 1) {
      const now = (await call('eve-dev-token', 'GET', `/v1/requests/${r.id}`)) as unknown as { escalations?: unknown[] };
      if (now.escalations?.length) break;
      await new Promise((done) => setTimeout(done, 100));
    }
    await call('carol-dev-token', 'POST', `/v1/requests/${r.id}/approve`, { comment: 'escalated to me' });
    return r.id;
  },
};

for (const [name, run] of Object.entries(scenarios)) {
  const id = await run();
  await client.workflow.getHandle(id).result();
  const history = await client.workflow.getHandle(id).fetchHistory();
  await writeFile(new URL(`${prefix}${name}.json`, out), JSON.stringify(history));
  process.stdout.write(`recorded ${name}: ${id}\n`);
}
process.exit(0);
