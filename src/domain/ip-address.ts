/**
 * IP addresses and CIDR ranges as numbers, for the outbound destination rules (outbound-policy.ts). Written here
 * rather than taken from `node:net` so the rules stay pure and the same for every caller; `BlockList` in Node 20
 * also does not see through IPv4-mapped IPv6 addresses, which is exactly the disguise these rules must catch.
 */

/** An address as a number: 32 bits for IPv4, 128 for IPv6. */
export interface IpAddress {
  version: 4 | 6;
  value: bigint;
}

/** `base/prefix`, with `base` already cut to its prefix. */
export interface IpRange {
  version: 4 | 6;
  base: bigint;
  prefix: number;
}

const bits = (version: 4 | 6): number => (version === 4 ? 32 : 128);

function parseV4(text: string): bigint | null {
  // Strict dotted quad: no leading zeros (0127 is octal to some parsers and decimal to others).
  if (!/^(0|[1-9]\d{0,2})(\.(0|[1-9]\d{0,2})){3}$/.test(text)) return null;
  const parts = text.split('.').map(Number);
  if (parts.some((p) => p > 255)) return null;
  return parts.reduce((acc, p) => (acc << 8n) | BigInt(p), 0n);
}

function parseV6(text: string): bigint | null {
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const groups = (half: string): bigint[] | null => {
    if (half === '') return [];
    const out: bigint[] = [];
    const parts = half.split(':');
    for (const [i, p] of parts.entries()) {
      if (i === parts.length - 1 && p.includes('.')) {
        // An embedded IPv4 tail (::ffff:127.0.0.1) counts as two groups.
        const v4 = parseV4(p);
        if (v4 === null) return null;
        out.push(v4 >> 16n, v4 & 0xffffn);
      } else if (/^[0-9a-f]{1,4}$/i.test(p)) {
        out.push(BigInt(`0x${p}`));
      } else {
        return null;
      }
    }
    return out;
  };
  const head = groups(halves[0]!);
  const tail = halves.length === 2 ? groups(halves[1]!) : [];
  if (!head || !tail) return null;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return null;
  return [...head, ...Array<bigint>(halves.length === 2 ? missing : 0).fill(0n), ...tail].reduce((acc, g) => (acc << 16n) | g, 0n);
}

/**
 * Parses an IPv4 dotted quad or an IPv6 address (brackets and a `%zone` are dropped); null if it is neither.
 * An IPv4-mapped IPv6 address (`::ffff:127.0.0.1`) comes back as the IPv4 address it stands for.
 */
export function parseIp(text: string): IpAddress | null {
  const bare = text.replace(/^\[(.*)\]$/, '$1').replace(/%.*$/, '');
  const v4 = parseV4(bare);
  if (v4 !== null) return { version: 4, value: v4 };
  if (!bare.includes(':')) return null;
  const v6 = parseV6(bare);
  if (v6 === null) return null;
  if (v6 >> 32n === 0xffffn) return { version: 4, value: v6 & 0xffffffffn };
  return { version: 6, value: v6 };
}

/** Parses `address/prefix`; an IPv4-mapped IPv6 range becomes the IPv4 range it stands for. Null if invalid. */
export function parseRange(text: string): IpRange | null {
  const m = /^([^/]+)\/(\d{1,3})$/.exec(text);
  if (!m) return null;
  const bare = m[1]!.replace(/^\[(.*)\]$/, '$1');
  let prefix = Number(m[2]);
  const v4 = parseV4(bare);
  let addr: IpAddress | null = v4 === null ? null : { version: 4, value: v4 };
  if (!addr && bare.includes(':')) {
    const v6 = parseV6(bare);
    if (v6 === null) return null;
    if (v6 >> 32n === 0xffffn && prefix >= 96) {
      addr = { version: 4, value: v6 & 0xffffffffn };
      prefix -= 96;
    } else {
      addr = { version: 6, value: v6 };
    }
  }
  if (!addr || prefix > bits(addr.version)) return null;
  return { version: addr.version, base: cut(addr.value, addr.version, prefix), prefix };
}

function cut(value: bigint, version: 4 | 6, prefix: number): bigint {
  const drop = BigInt(bits(version) - prefix);
  return (value >> drop) << drop;
}

/** Whether `address` lies in `range` (never across IP versions). */
export function inRange(address: IpAddress, range: IpRange): boolean {
  return address.version === range.version && cut(address.value, address.version, range.prefix) === range.base;
}

/** Shorthand for tables of ranges written as text; throws on a typo, which is a bug in this code. */
export function range(text: string): IpRange {
  const r = parseRange(text);
  if (!r) throw new Error(`not a CIDR range: ${text}`);
  return r;
}
