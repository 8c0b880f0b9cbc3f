import { inject } from 'vitest';
import { api, type ApiResponse } from './api.js';

/**
 * Every demo identity of the embedded default (src/config/demo.ts), plus `none` for a call without a token.
 * eve engineer; alice contoso approver+admin; bob contoso approver; carol contoso approver and fabrikam admin;
 * fiona fabrikam approver+admin; frank fabrikam approver; ian internal approver; oscar operator.
 */
export const ALL_TOKENS = {
  eve: 'eve-dev-token',
  alice: 'alice-dev-token',
  bob: 'bob-dev-token',
  carol: 'carol-dev-token',
  fiona: 'fiona-dev-token',
  frank: 'frank-dev-token',
  ian: 'ian-dev-token',
  oscar: 'oscar-dev-token',
  none: undefined,
} as const;
export type AnyPersona = keyof typeof ALL_TOKENS;

export interface PersonaClient {
  get(path: string, headers?: Record<string, string>): Promise<ApiResponse>;
  post(path: string, body?: unknown, headers?: Record<string, string>): Promise<ApiResponse>;
  put(path: string, body?: unknown, headers?: Record<string, string>): Promise<ApiResponse>;
}

/** `who('fiona').put('/v1/tenants/fabrikam/settings', body)`; `who('none')` sends no Authorization header. */
export function personas(baseUrl = inject('stack').apiUrl): (persona: AnyPersona) => PersonaClient {
  const { call } = api(baseUrl);
  return (persona) => {
    const token = ALL_TOKENS[persona];
    return {
      get: (path, headers) => call('GET', path, { token, headers }),
      post: (path, body = {}, headers) => call('POST', path, { token, body, headers }),
      put: (path, body = {}, headers) => call('PUT', path, { token, body, headers }),
    };
  };
}

/** The fields `PUT /v1/tenants/{tenant}/settings` takes, picked from what `GET` shows (`resources` only when set). */
export function settingsBody(view: Record<string, unknown>): Record<string, unknown> {
  const { customerApproval, approvers, quorum, requestTtl, maxAccess, requireTicket, internalApproval, resources } = view;
  return { customerApproval, approvers, quorum, requestTtl, maxAccess, requireTicket, internalApproval, ...(resources === undefined ? {} : { resources }) };
}

/** The last path segment of a problem's `type`, e.g. `not_eligible` for `https://lockbox.dev/problems/not_eligible`. */
export const problemCode = (body: unknown): string | undefined =>
  typeof (body as { type?: unknown } | null)?.type === 'string' ? (body as { type: string }).type.split('/').at(-1) : undefined;
