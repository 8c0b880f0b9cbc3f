import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config/index.js';

describe('configuration', () => {
  it('has working defaults for the embedded start', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({ mode: 'embedded', port: 3000, temporalPort: 7233, namespace: 'lockbox', requestTtlMs: 12 * 3600_000, maxAccessMs: 8 * 3600_000 });
    expect(c.temporalAddress).toBeUndefined();
    expect(c.dataDir).toMatch(/\.lockbox$/);
  });

  it('reads durations in both notations', () => {
    expect(loadConfig({ LOCKBOX_REQUEST_TTL: '30m', LOCKBOX_MAX_ACCESS: 'PT2H' })).toMatchObject({ requestTtlMs: 1_800_000, maxAccessMs: 7_200_000 });
  });

  it('fails fast naming every bad variable, without echoing a database URL', () => {
    const bad = { LOCKBOX_PORT: 'abc', LOCKBOX_REQUEST_TTL: 'soon', LOCKBOX_DATABASE_URL: 'mysql://u:s3cret@h/db' };
    expect(() => loadConfig(bad)).toThrow(ConfigError);
    try {
      loadConfig(bad);
    } catch (err) {
      const msg = (err as Error).message;
      expect(msg).toContain('LOCKBOX_PORT');
      expect(msg).toContain('LOCKBOX_REQUEST_TTL');
      expect(msg).toContain('LOCKBOX_DATABASE_URL');
      expect(msg).not.toContain('s3cret');
    }
  });
});
