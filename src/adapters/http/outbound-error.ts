/**
 * The one error of the guarded outbound HTTP client (guarded-http.ts). Its message is written here from a fixed
 * reason code and facts Lockbox itself holds (the destination's origin, a status, a limit): never the response body,
 * never a header, never the URL's path or query (webhook URLs carry their secret there, Slack's do).
 */

/** Stable codes, one per way an outbound call can end without a usable answer. */
export const OutboundReason = {
  /** Not an http: or https: URL, or a URL with user-info. */
  invalidUrl: 'invalid_url',
  /** The destination resolves to an address outside the rules (loopback, private, metadata, ...). */
  destinationRefused: 'destination_refused',
  /** The receiver answered 3xx; redirects are never followed. */
  redirectRefused: 'redirect_refused',
  /** The answer was longer than the call's limit. */
  responseTooLarge: 'response_too_large',
  /** No complete answer within the call's time limit (DNS, connect and answer together). */
  timeout: 'timeout',
  /** DNS found no such host, the connection was refused or broke, TLS failed. */
  unreachable: 'unreachable',
  /** An answer arrived but its status is not what the caller accepts. Raised by callers, not the client. */
  httpStatus: 'http_status',
} as const;
export type OutboundReason = (typeof OutboundReason)[keyof typeof OutboundReason];

/**
 * An outbound call that did not give a usable answer. `reason` is the stable code to branch on; `status` is set
 * for `redirect_refused` and `http_status`; `code` is Node's error code (ECONNREFUSED, ENOTFOUND, ...) for
 * `unreachable`. No `cause`: a driver's error text could carry anything, and Temporal serialises causes.
 */
export class OutboundRefusedError extends Error {
  override name = 'OutboundRefusedError';
  constructor(
    readonly reason: OutboundReason,
    message: string,
    readonly extra: { status?: number; code?: string } = {},
  ) {
    super(message);
  }
  get status(): number | undefined {
    return this.extra.status;
  }
  get code(): string | undefined {
    return this.extra.code;
  }
}

/** What may be said about a destination in an error or a log line: scheme://host[:port], nothing else. */
export function originOf(url: string | URL): string {
  try {
    const u = typeof url === 'string' ? new URL(url) : url;
    return u.protocol === 'http:' || u.protocol === 'https:' ? u.origin : `${u.protocol}//(not http)`;
  } catch {
    return '(invalid URL)';
  }
}

/** Node's error code when it looks like one (ECONNREFUSED, CERT_HAS_EXPIRED), else undefined: never free text. */
export function safeCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[A-Z][A-Z0-9_]{1,40}$/.test(code) ? code : undefined;
}
