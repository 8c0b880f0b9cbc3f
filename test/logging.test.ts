/**
 * Logs are JSON lines through pino, with a request id on every API answer and in the 500's error log, and fields
 * named like secrets redacted. Needs no stack: a real express app with the API's middleware on a free port.
 */
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../src/config/logger.js';
import { errorHandler } from '../src/api/problem.js';
import { requestIds } from '../src/api/request-id.js';

/** A logger writing into `lines`, one parsed object a line. */
function capture(): { lines: Array<Record<string, any>>; log: ReturnType<typeof createLogger> } {
  const lines: Array<Record<string, any>> = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  return { lines, log: createLogger('test', { destination: sink }) };
}

describe('the logger', () => {
  it('writes one JSON object a line with level, ISO time, component and message', () => {
    const { lines, log } = capture();
    log.info('hello', { tenant: 'contoso' });
    log.warn('careful');
    log.error('broken', { error: 'it broke' });
    expect(lines.map((l) => [l.level, l.component, l.msg])).toEqual([
      ['info', 'test', 'hello'],
      ['warn', 'test', 'careful'],
      ['error', 'test', 'broken'],
    ]);
    expect(lines[0]).toMatchObject({ tenant: 'contoso' });
    for (const l of lines) expect(new Date(l.time).toISOString()).toBe(l.time);
  });

  it('redacts fields named like secrets, at the top and one level down', () => {
    const { lines, log } = capture();
    log.info('oops', { password: 'hunter2', token: 'eyJ.secret', target: { password: 'pw2', host: 'db' }, headers: { authorization: 'Bearer abc' } });
    const text = JSON.stringify(lines);
    for (const secret of ['hunter2', 'eyJ.secret', 'pw2', 'Bearer abc']) expect(text).not.toContain(secret);
    expect(lines[0]).toMatchObject({ password: '[redacted]', target: { host: 'db', password: '[redacted]' } });
  });

  it('keeps a flag that only says whether a secret is configured', () => {
    const { lines, log } = capture();
    log.info('connecting', { apiKey: false, tls: { clientSecret: true } });
    expect(lines[0]).toMatchObject({ apiKey: false, tls: { clientSecret: true } });
  });
});

describe('request ids', () => {
  const { lines, log } = capture();
  let url = '';
  let close: () => void = () => undefined;

  beforeAll(async () => {
    const app = express();
    app.use(requestIds(log));
    app.get('/ok', (_req, res) => void res.json({ ok: true }));
    app.get('/boom', () => {
      throw new Error('database said no');
    });
    app.get('/healthz', (_req, res) => void res.json({ status: 'ok' }));
    app.use(errorHandler(log));
    const server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    close = () => server.close();
  });
  afterAll(() => close());

  const logged = (reqId: string) => lines.filter((l) => l.reqId === reqId);

  it('honours a well-formed X-Request-Id: echoed in the answer and logged with the request', async () => {
    const res = await fetch(`${url}/ok?token=never-logged`, { headers: { 'X-Request-Id': 'trace-abc.123' } });
    expect(res.headers.get('x-request-id')).toBe('trace-abc.123');
    await expect.poll(() => logged('trace-abc.123').length).toBe(1);
    expect(logged('trace-abc.123')[0]).toMatchObject({ msg: 'http request', method: 'GET', path: '/ok', status: 200 });
    expect(JSON.stringify(lines)).not.toContain('never-logged');
  });

  it('makes a fresh id when there is none or it is malformed', async () => {
    const none = (await fetch(`${url}/ok`)).headers.get('x-request-id');
    const bad = (await fetch(`${url}/ok`, { headers: { 'X-Request-Id': 'two words\u00e9' } })).headers.get('x-request-id');
    const long = (await fetch(`${url}/ok`, { headers: { 'X-Request-Id': 'x'.repeat(129) } })).headers.get('x-request-id');
    for (const id of [none, bad, long]) expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(new Set([none, bad, long]).size).toBe(3);
  });

  it('puts the id on a 500 problem answer and in its error log', async () => {
    const res = await fetch(`${url}/boom`, { headers: { 'X-Request-Id': 'req-500-check' } });
    expect(res.status).toBe(500);
    expect(res.headers.get('content-type')).toMatch(/application\/problem\+json/);
    expect(res.headers.get('x-request-id')).toBe('req-500-check');
    expect(JSON.stringify(await res.json())).not.toContain('database said no');
    await expect.poll(() => logged('req-500-check').map((l) => l.msg).sort()).toEqual(['http request', 'unhandled error']);
    expect(logged('req-500-check').find((l) => l.msg === 'unhandled error')).toMatchObject({ level: 'error', error: 'database said no', path: '/boom' });
  });

  it('does not log probes', async () => {
    const res = await fetch(`${url}/healthz`, { headers: { 'X-Request-Id': 'probe-1' } });
    expect(res.headers.get('x-request-id')).toBe('probe-1');
    await new Promise((r) => setTimeout(r, 50));
    expect(logged('probe-1')).toEqual([]);
  });
});
