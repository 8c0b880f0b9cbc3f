import { lookup as dnsLookup } from 'node:dns/promises';
import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import { checkDestination, type OutboundAllowEntry } from '../../domain/outbound-policy.js';
import { parseIp } from '../../domain/ip-address.js';
import { OutboundReason, OutboundRefusedError, originOf, safeCode } from './outbound-error.js';
import { withDeadline } from '../deadline.js';

export { OutboundReason, OutboundRefusedError, originOf } from './outbound-error.js';

/** Default and ceiling of a call's time limit (DNS, connect and the whole answer together). */
export const DEFAULT_TIMEOUT_MS = 10_000;
export const MAX_TIMEOUT_MS = 30_000;
/** Default limit of an answer's body. */
export const DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024;

/** One outbound call. */
export interface OutboundRequest {
  url: string;
  /** Default POST: every caller today sends something. */
  method?: 'GET' | 'POST' | 'PUT' | 'DELETE';
  headers?: Record<string, string>;
  body?: string | Uint8Array;
  /** Default 10 s, at most 30 s: a slow receiver must not hold an activity slot for long. */
  timeoutMs?: number;
  /** Default 64 KiB; a longer answer fails with `response_too_large`. */
  maxResponseBytes?: number;
}

/** An answer that arrived in full within the limits; any status but 3xx (which is refused). */
export interface OutboundResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** The one way out for Lockbox's HTTP calls. */
export interface GuardedHttp {
  /** Sends the call; throws OutboundRefusedError (and nothing else) when there is no usable answer. */
  request(req: OutboundRequest): Promise<OutboundResponse>;
}

/** An address a host name resolved to. */
export interface ResolvedAddress {
  address: string;
  family: number;
}

export interface GuardedHttpOptions {
  /** Operator exceptions (LOCKBOX_OUTBOUND_ALLOW); default none. */
  allow?: readonly OutboundAllowEntry[];
  /** Called with the reason of every failed call, e.g. to count it on a metric. */
  onFailure?: (reason: OutboundReason) => void;
  /** Test seam: how host names are resolved; default `dns.lookup` with every address. */
  resolve?: (host: string) => Promise<ResolvedAddress[]>;
}

const systemResolve = (host: string) => dnsLookup(host, { all: true, verbatim: true });

function clamp(value: number | undefined, fallback: number, max: number): number {
  return value === undefined || !Number.isFinite(value) || value <= 0 ? fallback : Math.min(Math.ceil(value), max);
}

/**
 * Creates the guarded client. Each call: only http(s); the host is resolved first and EVERY address it resolves to
 * must pass the destination rules (domain/outbound-policy.ts) unless allow-listed; the connection then goes to those
 * vetted addresses only (a custom `lookup`, so a second DNS answer cannot swap in another address between the check
 * and the connect: DNS rebinding), while Host and TLS SNI keep the original name. Redirects are refused, answers are
 * read up to a limit, and the whole call is bounded in time. Connections are not pooled: a pooled socket would
 * outlive the check that admitted it.
 */
export function createGuardedHttp(opts: GuardedHttpOptions = {}): GuardedHttp {
  const allow = opts.allow ?? [];
  const resolve = opts.resolve ?? systemResolve;

  return {
    async request(req) {
      try {
        return await send(req);
      } catch (err) {
        const out =
          err instanceof OutboundRefusedError
            ? err
            : new OutboundRefusedError(OutboundReason.unreachable, `outbound call to ${originOf(req.url)} failed`, { code: safeCode(err) });
        opts.onFailure?.(out.reason);
        throw out;
      }
    },
  };

  async function send(req: OutboundRequest): Promise<OutboundResponse> {
    const timeoutMs = clamp(req.timeoutMs, DEFAULT_TIMEOUT_MS, MAX_TIMEOUT_MS);
    const maxBytes = clamp(req.maxResponseBytes, DEFAULT_MAX_RESPONSE_BYTES, Number.MAX_SAFE_INTEGER);
    const url = parseUrl(req.url);
    const where = originOf(url);
    const timedOut = () => new OutboundRefusedError(OutboundReason.timeout, `${where} did not answer within ${timeoutMs} ms`);
    const deadline = Date.now() + timeoutMs;

    const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
    const port = url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
    const addresses = await withDeadline(vetted(host, port, where), deadline, timedOut);
    const pinned: LookupFunction = (_name, options, callback) => {
      // Node 20 asks for all addresses (happy eyeballs) or for one; either way only the vetted ones.
      if ((options as { all?: boolean }).all) (callback as (e: null, a: ResolvedAddress[]) => void)(null, addresses);
      else callback(null, addresses[0]!.address, addresses[0]!.family);
    };

    const body = req.body === undefined ? undefined : typeof req.body === 'string' ? Buffer.from(req.body) : req.body;
    const headers: Record<string, string> = { ...req.headers };
    if (body !== undefined) headers['Content-Length'] = String(body.byteLength);

    return new Promise<OutboundResponse>((resolvePromise, reject) => {
      let settled = false;
      const finish = (err: OutboundRefusedError | null, res?: OutboundResponse) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (err) {
          call.destroy();
          reject(err);
        } else resolvePromise(res!);
      };
      const call = (url.protocol === 'https:' ? https : http).request({
        protocol: url.protocol,
        hostname: host,
        port,
        path: `${url.pathname}${url.search}`,
        method: req.method ?? 'POST',
        headers,
        agent: false,
        lookup: pinned,
      });
      const timer = setTimeout(() => finish(timedOut()), Math.max(1, deadline - Date.now()));
      call.on('error', (err) => finish(new OutboundRefusedError(OutboundReason.unreachable, `${where} could not be reached`, { code: safeCode(err) })));
      call.on('response', (res) => {
        const status = res.statusCode ?? 0;
        if (status >= 300 && status <= 399) {
          // Not followed: the Location could name any place, including one these rules refuse.
          return finish(new OutboundRefusedError(OutboundReason.redirectRefused, `${where} answered a redirect (HTTP ${status}), which is not followed`, { status }));
        }
        const tooLarge = () =>
          new OutboundRefusedError(OutboundReason.responseTooLarge, `${where} answered more than ${maxBytes} bytes`, { status });
        if (Number(res.headers['content-length']) > maxBytes) return finish(tooLarge());
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > maxBytes) return finish(tooLarge());
          chunks.push(chunk);
        });
        res.on('end', () => finish(null, { status, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', (err) => finish(new OutboundRefusedError(OutboundReason.unreachable, `${where} broke off its answer`, { code: safeCode(err) })));
        res.on('aborted', () => finish(new OutboundRefusedError(OutboundReason.unreachable, `${where} broke off its answer`)));
      });
      call.end(body);
    });
  }

  /** Every address `host` stands for, each checked; refuses the call if any one is outside the rules. */
  async function vetted(host: string, port: number, where: string): Promise<ResolvedAddress[]> {
    const literal = parseIp(host);
    let addresses: ResolvedAddress[];
    if (literal) {
      addresses = [{ address: host, family: host.includes(':') ? 6 : 4 }];
    } else {
      try {
        addresses = await resolve(host);
      } catch (err) {
        throw new OutboundRefusedError(OutboundReason.unreachable, `${where} could not be resolved`, { code: safeCode(err) });
      }
      if (addresses.length === 0) throw new OutboundRefusedError(OutboundReason.unreachable, `${where} could not be resolved`);
    }
    for (const a of addresses) {
      const verdict = checkDestination(allow, { host, port, address: a.address });
      if (!verdict.ok) {
        // All or nothing: a name that also resolves to a refused address could be steered there by the resolver.
        throw new OutboundRefusedError(
          OutboundReason.destinationRefused,
          `${where} refused: it resolves to ${a.address}, a ${verdict.why} (allow-list it in LOCKBOX_OUTBOUND_ALLOW if intended)`,
        );
      }
    }
    return addresses;
  }
}

function parseUrl(text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new OutboundRefusedError(OutboundReason.invalidUrl, 'outbound call refused: not a valid URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new OutboundRefusedError(OutboundReason.invalidUrl, `outbound call refused: ${url.protocol} is not http: or https:`);
  }
  if (url.username || url.password) {
    // fetch refused these too; credentials belong in a header, where they never reach an error message.
    throw new OutboundRefusedError(OutboundReason.invalidUrl, `outbound call to ${url.origin} refused: credentials in the URL`);
  }
  return url;
}

