/**
 * What is known about how a caller authenticated, beside who they are: kept per request on
 * `res.locals.authContext` by the authentication middleware, read by the step-up check and the decision claims.
 */
export interface AuthContext {
  /** `session`: the portal's cookie; `bearer`: an Authorization header (machines, the CLI, demo tokens). */
  kind: 'session' | 'bearer';
  /** Seconds since the epoch: when the person last logged in at the identity provider, when known. */
  authTime?: number;
  amr?: string[];
  acr?: string;
  /** Demo tokens of the embedded default: no login behind them to be fresh, so no step-up (documented). */
  stepUpExempt?: boolean;
}

/** Facts an authenticator learned from a bearer token, attached to the principal object it returned. */
export type BearerFacts = Omit<AuthContext, 'kind'>;

const facts = new WeakMap<object, BearerFacts>();

/** Attaches what the token said about the login to the principal an authenticator returns; returns the principal. */
export function withBearerFacts<P extends object>(principal: P, f: BearerFacts): P {
  facts.set(principal, f);
  return principal;
}

export function bearerFactsOf(principal: object): BearerFacts | undefined {
  return facts.get(principal);
}

export function authContextOf(res: { locals: Record<string, unknown> }): AuthContext | undefined {
  return res.locals.authContext as AuthContext | undefined;
}
