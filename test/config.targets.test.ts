import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config/index.js';

/** LOCKBOX_TARGETS / LOCKBOX_TARGETS_FILE: the operator's grant targets, parsed once at start-up, failing fast. */
const crm = { kind: 'postgres', tenants: ['contoso'], connection: 'LOCKBOX_TARGET_CRM', database: 'crm', schemas: ['crm'] };
const hooks = { kind: 'webhook', tenants: ['fabrikam'], grantUrl: 'https://grants.fabrikam.example/grant', revokeUrl: 'https://grants.fabrikam.example/revoke', secret: 'LOCKBOX_TARGET_FAB_HOOK' };

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lockbox-targets-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const problemsOf = (env: Record<string, string>): string => {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('expected a ConfigError');
};

describe('declared grant targets', () => {
  it('embedded default: the demo CRM, for contoso only; production default: none', () => {
    const embedded = loadConfig({});
    expect([...embedded.targets.values()]).toEqual([
      { name: 'contoso-crm', kind: 'postgres', tenants: ['contoso'], connection: 'LOCKBOX_TARGET_DEMO_CRM', database: 'lockbox_demo_crm', schemas: ['crm'], privileges: 'read' },
    ]);
    expect(loadConfig({ LOCKBOX_MODE: 'production' }).targets.size).toBe(0);
  });

  it('reads them inline and from a file (together), with defaults; the operator\'s replace the demo\'s', async () => {
    const file = join(dir, 'targets.json');
    await writeFile(file, JSON.stringify({ 'contoso-crm': crm }));
    const c = loadConfig({ LOCKBOX_TARGETS_FILE: file, LOCKBOX_TARGETS: JSON.stringify({ 'fabrikam-hooks': hooks }) });
    expect(c.targets.get('contoso-crm')).toEqual({ name: 'contoso-crm', ...crm, privileges: 'read' });
    expect(c.targets.get('fabrikam-hooks')).toEqual({ name: 'fabrikam-hooks', ...hooks });
    expect(c.targets.size).toBe(2);
    expect(loadConfig({ LOCKBOX_TARGETS: '{}' }).targets.size).toBe(0);
  });

  it('fails fast naming the variable and the bad field', async () => {
    const bad = problemsOf({
      LOCKBOX_TARGETS: JSON.stringify({
        'contoso-crm': { ...crm, connection: 'DATABASE_URL' },
        'fabrikam-hooks': { ...hooks, secret: 'LOCKBOX_SIGNING_KEY', grantUrl: 'file:///etc/passwd' },
        'Bad Name': crm,
        'no-tenants': { ...crm, tenants: undefined },
        'extra': { ...crm, password: 'x' },
      }),
    });
    expect(bad).toContain('LOCKBOX_TARGETS: contoso-crm.connection: must name a LOCKBOX_TARGET_ environment variable');
    expect(bad).toContain('LOCKBOX_TARGETS: fabrikam-hooks.secret: must name a LOCKBOX_TARGET_ environment variable');
    expect(bad).toContain('LOCKBOX_TARGETS: fabrikam-hooks.grantUrl: must be an http(s) URL');
    expect(bad).toMatch(/LOCKBOX_TARGETS: Bad Name: must be a target name/);
    expect(bad).toMatch(/LOCKBOX_TARGETS: no-tenants\.tenants: /);
    expect(bad).toMatch(/LOCKBOX_TARGETS: extra: .*password/);

    // The webhook list call (docs/webhook-targets.md) is checked like the other URLs.
    expect(problemsOf({ LOCKBOX_TARGETS: JSON.stringify({ 'fabrikam-hooks': { ...hooks, listUrl: 'file:///etc/passwd' } }) })).toContain(
      'LOCKBOX_TARGETS: fabrikam-hooks.listUrl: must be an http(s) URL',
    );
    const listed = { ...hooks, listUrl: 'https://grants.fabrikam.example/list' };
    expect(loadConfig({ LOCKBOX_TARGETS: JSON.stringify({ 'fabrikam-hooks': listed }) }).targets.get('fabrikam-hooks')).toEqual({ name: 'fabrikam-hooks', ...listed });
    expect(problemsOf({ LOCKBOX_TARGETS: '{"contoso-crm": ' })).toContain('LOCKBOX_TARGETS: is not valid JSON');
    expect(problemsOf({ LOCKBOX_TARGETS: JSON.stringify({ builtin: crm }) })).toContain('the name builtin is reserved');
    expect(problemsOf({ LOCKBOX_TARGETS_FILE: join(dir, 'missing.json') })).toContain('LOCKBOX_TARGETS_FILE: cannot read');
    const file = join(dir, 'dup.json');
    await writeFile(file, JSON.stringify({ 'contoso-crm': crm }));
    expect(problemsOf({ LOCKBOX_TARGETS_FILE: file, LOCKBOX_TARGETS: JSON.stringify({ 'contoso-crm': crm }) })).toContain('contoso-crm: is declared in LOCKBOX_TARGETS_FILE too');
  });
});
