/**
 * Where Lockbox may send an HTTP request. Tenant admins choose webhook URLs, so without these rules a tenant could
 * make the worker POST to its own loopback services, the cloud metadata endpoint or the operator's private network
 * (SSRF). Every address a destination resolves to is checked; the operator can open exceptions
 * (LOCKBOX_OUTBOUND_ALLOW) for receivers that really live on a private network.
 */
import { inRange, parseIp, parseRange, range, type IpAddress, type IpRange } from './ip-address.js';

/** Address ranges no outbound call may reach unless allow-listed, with the name an error gives them. */
const REFUSED: ReadonlyArray<readonly [IpRange, string]> = [
  [range('0.0.0.0/8'), 'unspecified ("this network")'],
  [range('10.0.0.0/8'), 'private'],
  [range('100.64.0.0/10'), 'carrier-grade NAT'],
  [range('127.0.0.0/8'), 'loopback'],
  [range('169.254.0.0/16'), 'link-local (cloud metadata)'],
  [range('172.16.0.0/12'), 'private'],
  [range('192.0.0.0/24'), 'reserved (IETF)'],
  [range('192.0.2.0/24'), 'reserved (documentation)'],
  [range('192.88.99.0/24'), 'reserved (6to4 relay)'],
  [range('192.168.0.0/16'), 'private'],
  [range('198.18.0.0/15'), 'reserved (benchmarking)'],
  [range('198.51.100.0/24'), 'reserved (documentation)'],
  [range('203.0.113.0/24'), 'reserved (documentation)'],
  [range('224.0.0.0/4'), 'multicast'],
  [range('240.0.0.0/4'), 'reserved (incl. broadcast)'],
  // IPv6. IPv4-mapped addresses (::ffff:a.b.c.d) never get here: parseIp turns them into IPv4 first.
  [range('::/128'), 'unspecified'],
  [range('::1/128'), 'loopback'],
  [range('::/96'), 'reserved (IPv4-compatible)'],
  [range('64:ff9b:1::/48'), 'reserved (local NAT64)'],
  [range('100::/64'), 'reserved (discard)'],
  [range('2001::/23'), 'reserved (IETF, incl. Teredo)'],
  [range('2001:db8::/32'), 'reserved (documentation)'],
  [range('2002::/16'), 'reserved (6to4)'],
  [range('fc00::/7'), 'private (unique local)'],
  [range('fe80::/10'), 'link-local'],
  [range('fec0::/10'), 'reserved (site-local)'],
  [range('ff00::/8'), 'multicast'],
];

/** NAT64's well-known prefix: the IPv4 address in its last 32 bits is what is really reached. */
const NAT64 = range('64:ff9b::/96');

/**
 * Why `address` may not be reached (e.g. "loopback"), or null when it is an ordinary public address. IPv4-mapped
 * and NAT64 addresses are judged by the IPv4 address inside them.
 */
export function refusedRange(address: IpAddress): string | null {
  if (inRange(address, NAT64)) return refusedRange({ version: 4, value: address.value & 0xffffffffn });
  return REFUSED.find(([r]) => inRange(address, r))?.[1] ?? null;
}

/** One operator exception: a host name, `host:port`, an IP address (`ip:port`, `[v6]:port`) or a CIDR range. */
export type OutboundAllowEntry =
  | { kind: 'host'; host: string; port?: number }
  | { kind: 'ip'; ip: IpAddress; port?: number }
  | { kind: 'range'; range: IpRange };

const HOST = /^(?=.{1,253}$)[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*$/;

/** Host names compare case-insensitively and without a trailing dot (`Example.COM.` is `example.com`). */
export function normalHost(host: string): string {
  return host.toLowerCase().replace(/\.$/, '');
}

function parseEntry(text: string): OutboundAllowEntry | null {
  if (text.includes('/')) {
    const r = parseRange(text);
    return r ? { kind: 'range', range: r } : null;
  }
  const whole = parseIp(text);
  if (whole && !text.startsWith('[')) return { kind: 'ip', ip: whole };
  const m = /^(\[[^\]]+\]|[^:]+)(?::(\d{1,5}))?$/.exec(text);
  if (!m) return null;
  const port = m[2] === undefined ? undefined : Number(m[2]);
  if (port !== undefined && (port < 1 || port > 65535)) return null;
  const at = port === undefined ? {} : { port };
  const ip = parseIp(m[1]!);
  if (ip) return { kind: 'ip', ip, ...at };
  if (m[1]!.startsWith('[')) return null;
  const host = normalHost(m[1]!);
  return HOST.test(host) ? { kind: 'host', host, ...at } : null;
}

/**
 * Parses LOCKBOX_OUTBOUND_ALLOW: comma-separated entries, blanks ignored. Returns the entries, or the first bad
 * entry's problem (entries name places, never secrets, so the text can be quoted).
 */
export function parseOutboundAllow(text: string): { ok: true; entries: OutboundAllowEntry[] } | { ok: false; message: string } {
  const entries: OutboundAllowEntry[] = [];
  for (const raw of text.split(',')) {
    const item = raw.trim();
    if (item === '') continue;
    const entry = parseEntry(item);
    if (!entry) return { ok: false, message: `"${item}" is not a host name, host:port, IP address, ip:port or CIDR range` };
    entries.push(entry);
  }
  return { ok: true, entries };
}

/** A destination as the outbound client is about to use it: the URL's host and port, and one address it resolved to. */
export interface Destination {
  /** The URL's host name or IP literal (without brackets). */
  host: string;
  port: number;
  /** One of the addresses `host` resolved to (or `host` itself, for an IP literal). */
  address: string;
}

/**
 * Whether a connection to `d` is allowed: allow-listed by host name (any address it resolves to), by address or
 * range, or else to an ordinary public address. `why` names the refused range, for the operator's logs.
 */
export function checkDestination(allow: readonly OutboundAllowEntry[], d: Destination): { ok: true } | { ok: false; why: string } {
  const host = normalHost(d.host);
  const portOk = (p: number | undefined) => p === undefined || p === d.port;
  if (allow.some((e) => e.kind === 'host' && e.host === host && portOk(e.port))) return { ok: true };
  const address = parseIp(d.address);
  if (!address) return { ok: false, why: 'not an IP address' };
  const listed = allow.some(
    (e) =>
      (e.kind === 'ip' && e.ip.version === address.version && e.ip.value === address.value && portOk(e.port)) ||
      (e.kind === 'range' && inRange(address, e.range)),
  );
  if (listed) return { ok: true };
  const refused = refusedRange(address);
  return refused === null ? { ok: true } : { ok: false, why: `${refused} address` };
}
