import { describe, expect, it } from 'vitest';
import { api, requestBody } from './support/api.js';

const http = api();
const eve = http.as('eve');
const alice = http.as('alice');
const UNKNOWN_ID = 'req-contoso-01M8K8ZJQGE490S5KR946WW0TC';

/** Every refusal is a specific 4xx problem+json; the listed fields are named in `errors`. */
function expectProblem(res: { status: number; body: any; headers: Headers }, status: number, fields: string[] = []) {
  expect(res.status, JSON.stringify(res.body)).toBe(status);
  expect(res.headers.get('content-type')).toContain('application/problem+json');
  expect(res.body).toMatchObject({ status, type: expect.stringMatching(/^https:\/\/lockbox\.dev\/problems\//), title: expect.any(String), detail: expect.any(String) });
  expect(JSON.stringify(res.body)).not.toMatch(/at .+\.ts:\d+|node_modules/);
  if (fields.length > 0) expect(res.body.errors.map((e: any) => e.field).sort()).toEqual([...fields].sort());
}

describe('authentication', () => {
  it('refuses no token, a bad token and a malformed header with 401', async () => {
    expectProblem(await http.call('GET', '/v1/requests'), 401);
    expectProblem(await http.call('GET', '/v1/requests', { token: 'not-a-real-token' }), 401);
    expectProblem(await http.call('GET', '/v1/requests', { headers: { authorization: 'Basic ZXZlOmV2ZQ==' } }), 401);
    expectProblem(await http.call('POST', '/v1/requests', { body: requestBody() }), 401);
  });
});

describe('creating a request with bad input', () => {
  it('names every missing field', async () => {
    expectProblem(await eve.post('/v1/requests', {}), 400, ['tenant', 'resource', 'reason', 'duration']);
  });

  it('names wrongly typed fields', async () => {
    expectProblem(await eve.post('/v1/requests', requestBody({ duration: 5, reason: ['x'] })), 400, ['duration', 'reason']);
  });

  it('refuses durations that are not durations, zero, or longer than the maximum access', async () => {
    for (const duration of ['4 hours', 'forever', '0s', '-1h', 'PT']) {
      expectProblem(await eve.post('/v1/requests', requestBody({ duration })), 400, ['duration']);
    }
    const tooLong = await eve.post('/v1/requests', requestBody({ duration: '9h' }));
    expectProblem(tooLong, 400, ['duration']);
    expect(tooLong.body.detail).toContain('8h');
    expect((await eve.post('/v1/requests', requestBody({ duration: 'PT2H' }))).status).toBe(201);
  });

  it('refuses an unknown tenant with 422 naming the field', async () => {
    expectProblem(await eve.post('/v1/requests', requestBody({ tenant: 'initech' })), 422, ['tenant']);
  });

  it('refuses unknown fields, so nobody can smuggle in a requester', async () => {
    expectProblem(await eve.post('/v1/requests', requestBody({ requester: 'alice@contoso.com' })), 400, ['requester']);
  });

  it('refuses empty and over-long text, and a resource that is not kind:name', async () => {
    expectProblem(await eve.post('/v1/requests', requestBody({ reason: '   ' })), 400, ['reason']);
    expectProblem(await eve.post('/v1/requests', requestBody({ reason: 'x'.repeat(2001) })), 400, ['reason']);
    expectProblem(await eve.post('/v1/requests', requestBody({ resource: 'bob' })), 400, ['resource']);
  });

  it('refuses malformed JSON, a non-JSON body and an oversized body', async () => {
    expectProblem(await http.call('POST', '/v1/requests', { token: 'eve-dev-token', raw: '{"tenant":', headers: { 'content-type': 'application/json' } }), 400);
    expectProblem(await http.call('POST', '/v1/requests', { token: 'eve-dev-token', raw: 'tenant=contoso', headers: { 'content-type': 'text/plain' } }), 415);
    expectProblem(await eve.post('/v1/requests', requestBody({ reason: 'x'.repeat(20_000) })), 413);
  });

  it('does not let an approver file requests', async () => {
    expectProblem(await alice.post('/v1/requests', requestBody()), 403);
  });

  it('refuses an Idempotency-Key reused with another body, and a malformed key', async () => {
    const key = `k-${Date.now()}`;
    const first = await eve.post('/v1/requests', requestBody(), { 'idempotency-key': key });
    expect(first.status).toBe(201);
    expectProblem(await eve.post('/v1/requests', requestBody({ duration: '1h' }), { 'idempotency-key': key }), 422);
    expectProblem(await eve.post('/v1/requests', requestBody(), { 'idempotency-key': 'x'.repeat(300) }), 400, ['Idempotency-Key']);
  });
});

describe('decisions and reads with bad input', () => {
  it('answers 404 for unknown and malformed request ids', async () => {
    expectProblem(await eve.get(`/v1/requests/${UNKNOWN_ID}`), 404);
    expectProblem(await eve.get('/v1/requests/../../etc/passwd'), 404);
    expectProblem(await eve.get('/v1/requests/not-an-id'), 404);
    expectProblem(await alice.post(`/v1/requests/${UNKNOWN_ID}/approve`, {}), 404);
    expectProblem(await eve.get(`/v1/requests/${UNKNOWN_ID}/audit`), 404);
  });

  it('requires a reason to reject, and refuses unknown fields in a decision', async () => {
    const { body } = await eve.post('/v1/requests', requestBody());
    expectProblem(await alice.post(`/v1/requests/${body.id}/reject`, {}), 400, ['reason']);
    expectProblem(await alice.post(`/v1/requests/${body.id}/approve`, { actor: 'bob@contoso.com' }), 400, ['actor']);
    expectProblem(await alice.post(`/v1/requests/${body.id}/approve`, { comment: 42 }), 400, ['comment']);
    expect((await eve.get(`/v1/requests/${body.id}`)).body.status).toBe('pending');
  });

  it('names bad query parameters', async () => {
    expectProblem(await alice.get('/v1/requests?status=sleeping'), 400, ['status']);
    expectProblem(await alice.get("/v1/requests?tenant=x' OR 1=1"), 400, ['tenant']);
    expectProblem(await alice.get('/v1/requests?limit=0'), 400, ['limit']);
    expectProblem(await eve.get('/v1/access/check?tenant=contoso'), 400, ['resource']);
  });

  it('answers unknown routes with a 404 problem', async () => {
    expectProblem(await eve.get('/v1/nothing-here'), 404);
    expectProblem(await http.call('GET', '/nothing'), 404);
  });
});
