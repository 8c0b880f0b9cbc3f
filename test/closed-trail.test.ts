import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { openJsonlAuditSink } from '../src/adapters/jsonl-audit-sink.js';
import { openStore } from '../src/adapters/open-store.js';
import { createSweepActivities } from '../src/activities/sweep.js';
import { api, eventually, requestBody } from './support/api.js';
import { useStackTemporal } from './support/temporal.js';

/**
 * Every request's trail ends with `request.closed`, which SIEM rules can key on: written by the workflow when it
 * ends, and by the reconciler's sweep when an operator terminated the workflow before it could (issue 16).
 */
const stack = inject('stack');
const http = api();
const eve = http.as('eve');
const alice = http.as('alice');
const temporal = useStackTemporal();

const trail = async (id: string) =>
  (await readFile(join(stack.dataDir, 'audit.jsonl'), 'utf8'))
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { id: string; seq: number; requestId: string; type: string; details: Record<string, unknown> })
    .filter((e) => e.requestId === id);

describe('the end of a trail', () => {
  it('a request that ends by itself closes its trail with request.closed, last and once', async () => {
    const created = await eve.post('/v1/requests', requestBody({ resource: 'mailbox:closed@contoso.com' }));
    await eve.post(`/v1/requests/${created.body.id}/cancel`, { reason: 'done' });
    const events = await eventually(() => trail(created.body.id), (es) => es.some((e) => e.type === 'request.closed'));
    expect(events.at(-1)).toMatchObject({ type: 'request.closed', details: { status: 'cancelled', how: 'ended' } });
    expect(events.filter((e) => e.type === 'request.closed')).toHaveLength(1);
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
  });

  it('a terminated request gets every event it recorded, once, then request.closed from the reconciler\'s sweep', async () => {
    const created = await eve.post('/v1/requests', requestBody({ resource: 'mailbox:terminated@contoso.com' }));
    const id = created.body.id as string;
    expect((await alice.post(`/v1/requests/${id}/approve`, {})).body.status).toBe('active');
    const recorded = (await eve.get(`/v1/requests/${id}/audit`)).body.events as Array<{ id: string }>;
    await temporal().workflow.getHandle(id).terminate('operator drill');
    // The sweep as each reconcile runs it, here called directly (with a real client) so that a slow reconcile of
    // other tests' targets on the shared stack cannot delay it; it writes through a sink on the stack's own file.
    const sink = openJsonlAuditSink(join(stack.dataDir, 'audit.jsonl'));
    const store = await openStore({ dataDir: stack.dataDir });
    try {
      const log = { info: () => undefined, warn: () => undefined, error: () => undefined };
      const sweep = createSweepActivities({ audit: sink, store, log }, { temporal, taskQueue: () => stack.taskQueue });
      const swept = await eventually(() => sweep.sweepEndedRequests(), (r) => r.swept.includes(id), 30_000);
      await sink.append(swept.events);
      // A second sweep finds the trail closed and adds nothing.
      const again = await sweep.sweepEndedRequests();
      expect(again.swept).not.toContain(id);
    } finally {
      await sink.close();
      await store.close();
    }
    const events = await eventually(() => trail(id), (es) => es.some((e) => e.type === 'request.closed'), 30_000);
    const ids = events.map((e) => e.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const e of recorded) expect(ids).toContain(e.id);
    // The request's own events are numbered 1, 2, 3...; a reconciler's revoke of the access the terminated
    // workflow left behind is its own event (seq 0, an id of its own).
    const own = events.filter((e) => e.seq > 0);
    expect(own.map((e) => e.seq)).toEqual(own.map((_, i) => i + 1));
    expect(own.at(-1)).toMatchObject({ type: 'request.closed', details: { status: 'failed', how: 'terminated' } });

    // The sweep closed the request's record too: with the workflow deleted from Temporal, the API still shows the
    // request as it ended and its whole trail, request.closed last.
    await temporal().workflowService.deleteWorkflowExecution({ namespace: stack.namespace, workflowExecution: { workflowId: id } });
    await eventually(() => temporal().workflow.getHandle(id).describe().then(() => false, () => true), (gone) => gone, 30_000);
    const view = await eve.get(`/v1/requests/${id}`);
    expect(view.status).toBe(200);
    expect(view.body).toMatchObject({ id, status: 'failed', failure: expect.stringMatching(/terminated in Temporal/) });
    const kept = (await eve.get(`/v1/requests/${id}/audit`)).body.events as Array<{ id: string; seq: number; type: string }>;
    expect(kept.map((e) => e.id)).toEqual(own.map((e) => e.id));
    expect(kept.at(-1)).toMatchObject({ type: 'request.closed' });
  }, 120_000);
});
