import { readFile } from 'node:fs/promises';
import { expect, inject, it } from 'vitest';
import { api, eventually, requestBody } from './support/api.js';
const http = api();
const eve = http.as('eve');
const alice = http.as('alice');
async function activeRequest(overrides: Record<string, unknown> = {}) {
  const created = await eve.post('/v1/requests', requestBody(overrides));
  const approved = await alice.post(`/v1/requests/${created.body.id}/approve`, {});
  return approved.body as { id: string; resource: string; access: { endsAt: string } };
}
it('scratch extension', async () => {
  for (let round = 0; round < 4; round++) {
    const rejected = await activeRequest({ resource: `mailbox:x2-${round}@contoso.com`, duration: '3s' });
    await eve.post(`/v1/requests/${rejected.id}/extend`, { duration: '1h', reason: 'please' });
    await alice.post(`/v1/requests/${rejected.id}/reject`, { reason: 'not needed' });
    const unanswered = await activeRequest({ resource: `mailbox:x3-${round}@contoso.com`, duration: '3s' });
    await eve.post(`/v1/requests/${unanswered.id}/extend`, { duration: '1h', reason: 'please' });
    for (const r of [rejected, unanswered]) {
      const done = await eventually(() => eve.get(`/v1/requests/${r.id}`), (x) => x.body.status === 'completed', 30_000);
      if (done.body.status !== 'completed') {
        console.log('NOT COMPLETED', r.id, done.status, JSON.stringify(done.body).slice(0, 300));
        const log = await readFile(inject('stack').logFile, 'utf8');
        console.log('LOGLINES', log.split('\n').filter((l) => /unhandled|rror/.test(l)).slice(-6).join('\n').slice(0, 3000));
      }
    }
  }
  expect(1).toBe(1);
}, 200_000);
