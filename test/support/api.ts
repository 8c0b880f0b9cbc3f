import { inject } from 'vitest';

/** Demo identities (embedded default) by persona. */
export const TOKENS = {
  eve: 'eve-dev-token',
  alice: 'alice-dev-token',
  bob: 'bob-dev-token',
} as const;
export type Persona = keyof typeof TOKENS;

export interface ApiResponse<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

/** A tiny client for the real API: `as('alice').post('/v1/requests/x/approve', {})`. */
export function api(baseUrl = inject('stack').apiUrl) {
  const call = async (method: string, path: string, init: { token?: string; body?: unknown; headers?: Record<string, string>; raw?: string } = {}): Promise<ApiResponse> => {
    const headers: Record<string, string> = { ...init.headers };
    if (init.token) headers.authorization = `Bearer ${init.token}`;
    let payload: string | undefined = init.raw;
    if (init.body !== undefined) {
      payload = JSON.stringify(init.body);
      headers['content-type'] ??= 'application/json';
    }
    const res = await fetch(`${baseUrl}${path}`, { method, headers, body: payload });
    const text = await res.text();
    let body: unknown = text;
    try {
      body = text ? JSON.parse(text) : null;
    } catch {
      // keep text
    }
    return { status: res.status, body, headers: res.headers };
  };
  return {
    call,
    as(persona: Persona) {
      const token = TOKENS[persona];
      return {
        get: (path: string) => call('GET', path, { token }),
        post: (path: string, body: unknown = {}, headers?: Record<string, string>) => call('POST', path, { token, body, headers }),
      };
    },
  };
}

export const RESOURCE = 'mailbox:bob@contoso.com';

/** A request body eve would send; override any field. */
export function requestBody(overrides: Record<string, unknown> = {}) {
  return { tenant: 'contoso', resource: RESOURCE, reason: 'support case 4711: mailbox sync broken', ticket: 'SUP-4711', duration: '4h', ...overrides };
}

/** Polls `fn` until `ok(value)`; returns the last value (the assertion that follows says what was wrong). */
export async function eventually<T>(fn: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 20_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  let last = await fn();
  while (!ok(last) && Date.now() < until) {
    await new Promise((r) => setTimeout(r, 200));
    last = await fn();
  }
  return last;
}
