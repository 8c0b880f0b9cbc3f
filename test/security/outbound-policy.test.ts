/**
 * The outbound destination rules as a table (src/domain/outbound-policy.ts): which addresses are refused, in every
 * spelling an attacker might use, and that ordinary public addresses stay reachable. Pure: no network, no stack.
 */
import { describe, expect, it } from 'vitest';
import { parseIp } from '../../src/domain/ip-address.js';
import { checkDestination, parseOutboundAllow, refusedRange } from '../../src/domain/outbound-policy.js';

const verdict = (address: string) => {
  const ip = parseIp(address);
  if (!ip) throw new Error(`test bug: ${address} does not parse`);
  return refusedRange(ip);
};

describe('refused address ranges', () => {
  it.each([
    ['127.0.0.1', 'loopback'],
    ['127.255.255.254', 'loopback'],
    ['::1', 'loopback'],
    ['[::1]', 'loopback'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['0:0:0:0:0:ffff:7f00:0001', 'loopback'],
    ['64:ff9b::127.0.0.1', 'loopback'],
    ['0.0.0.0', 'unspecified ("this network")'],
    ['::', 'unspecified'],
    ['169.254.169.254', 'link-local (cloud metadata)'],
    ['::ffff:169.254.169.254', 'link-local (cloud metadata)'],
    ['fe80::1%eth0', 'link-local'],
    ['10.0.0.1', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.0.1', 'private'],
    ['fd12:3456::1', 'private (unique local)'],
    ['100.64.0.1', 'carrier-grade NAT'],
    ['224.0.0.251', 'multicast'],
    ['ff02::1', 'multicast'],
    ['255.255.255.255', 'reserved (incl. broadcast)'],
    ['::127.0.0.1', 'reserved (IPv4-compatible)'],
    ['2002:7f00:1::', 'reserved (6to4)'],
    ['2001:0:4136:e378:8000:63bf:3fff:fdd2', 'reserved (IETF, incl. Teredo)'],
  ])('%s is %s', (address, why) => {
    expect(verdict(address)).toBe(why);
  });

  it.each(['8.8.8.8', '1.1.1.1', '93.184.215.14', '172.32.0.1', '100.128.0.1', '2606:4700:4700::1111', '2a00:1450:4001:82b::200e', '64:ff9b::8.8.8.8'])(
    '%s is an ordinary public address',
    (address) => {
      expect(verdict(address)).toBeNull();
    },
  );

  it('does not take ambiguous or broken spellings as addresses', () => {
    for (const text of ['0127.0.0.1', '127.1', '1.2.3', '1.2.3.256', ':::1', '1::2::3', '12345::', 'localhost', '']) expect(parseIp(text), text).toBeNull();
  });
});

describe('operator exceptions', () => {
  const allow = (text: string) => {
    const p = parseOutboundAllow(text);
    if (!p.ok) throw new Error(p.message);
    return p.entries;
  };

  it('a host entry admits that name (whatever it resolves to), on any port unless one is given', () => {
    const entries = allow('siem.corp.example, hooks.corp.example:8443');
    expect(checkDestination(entries, { host: 'SIEM.corp.example.', port: 443, address: '10.1.2.3' })).toEqual({ ok: true });
    expect(checkDestination(entries, { host: 'hooks.corp.example', port: 8443, address: '10.1.2.4' })).toEqual({ ok: true });
    expect(checkDestination(entries, { host: 'hooks.corp.example', port: 80, address: '10.1.2.4' })).toEqual({ ok: false, why: 'private address' });
    expect(checkDestination(entries, { host: 'other.corp.example', port: 443, address: '10.1.2.3' })).toEqual({ ok: false, why: 'private address' });
  });

  it('an IP or range entry admits those addresses under any name; an IPv4-mapped address counts as the IPv4 one', () => {
    const entries = allow('127.0.0.2, 10.20.0.0/16, [fd00::5]:9000');
    expect(checkDestination(entries, { host: 'anything.example', port: 80, address: '::ffff:127.0.0.2' })).toEqual({ ok: true });
    expect(checkDestination(entries, { host: '10.20.3.4', port: 80, address: '10.20.3.4' })).toEqual({ ok: true });
    expect(checkDestination(entries, { host: '10.21.0.1', port: 80, address: '10.21.0.1' }).ok).toBe(false);
    expect(checkDestination(entries, { host: 'fd00::5', port: 9000, address: 'fd00::5' })).toEqual({ ok: true });
    expect(checkDestination(entries, { host: 'fd00::5', port: 9001, address: 'fd00::5' }).ok).toBe(false);
    expect(checkDestination(entries, { host: '127.0.0.1', port: 80, address: '127.0.0.1' })).toEqual({ ok: false, why: 'loopback address' });
  });

  it('refuses what it cannot read, quoting the entry', () => {
    expect(parseOutboundAllow('ok.example, https://x.example/')).toEqual({
      ok: false,
      message: '"https://x.example/" is not a host name, host:port, IP address, ip:port or CIDR range',
    });
    expect(parseOutboundAllow(' , ')).toEqual({ ok: true, entries: [] });
  });
});
