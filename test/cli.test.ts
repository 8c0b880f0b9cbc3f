/**
 * The `lockbox` CLI as people and scripts run it: the real binary (`node bin/lockbox.js`) against the real stack,
 * checking output and the exit codes docs/cli.md promises.
 */
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { ulid } from 'ulid';
import { describe, expect, inject, it } from 'vitest';
import { findFreePort } from '../src/dev/dev-server.js';
import { buildProgram } from '../src/cli/program.js';
import { api, eventually, requestBody } from './support/api.js';
import { runLockbox, said, type CliRun as Run } from './support/cli.js';

const TOKENS = { eve: 'eve-dev-token', alice: 'alice-dev-token', bob: 'bob-dev-token', none: '' } as const;
type Who = keyof typeof TOKENS;

/** Starts `lockbox <args>` as `who`; `onStderr` sees progress as it comes. */
function start(args: string[], opts: { as?: Who; url?: string; onStderr?: (all: string) => void } = {}) {
  const env: NodeJS.ProcessEnv = { ...process.env, LOCKBOX_URL: opts.url ?? inject('stack').apiUrl, LOCKBOX_TOKEN: TOKENS[opts.as ?? 'eve'] };
  if (!env.LOCKBOX_TOKEN) delete env.LOCKBOX_TOKEN;
  return { done: runLockbox(args, env, opts.onStderr) };
}
const lockbox = (args: string[], opts: { as?: Who; url?: string } = {}) => start(args, opts).done;

const STACK_TRACE = /\n\s+at .+:\d+:\d+/;

const run = ulid().slice(-8).toLowerCase();
const resource = (name: string) => `mailbox:cli-${run}-${name}@contoso.com`;
const createArgs = (name: string, extra: string[] = []) => ['request', 'create', '--tenant', 'contoso', '--resource', resource(name), '--reason', `cli test ${name}`, '--duration', '1h', ...extra];

/** A pending contoso request made by eve through the API (when the test is not about creating one). */
async function pendingRequest(name: string): Promise<string> {
  const res = await api().as('eve').post('/v1/requests', requestBody({ resource: resource(name) }));
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.id as string;
}

describe('lockbox request', () => {
  it('create -> show -> approve (alice) -> list --json', async () => {
    const created = await lockbox(createArgs('flow', ['--ticket', 'SUP-1']));
    expect(created.code, said(created)).toBe(0);
    const id = /Request\s+(req-contoso-[0-9A-Z]{26})/.exec(created.stdout)?.[1];
    expect(id, said(created)).toBeDefined();
    expect(created.stdout).toMatch(/Status\s+pending: waiting for customer approval, 0 of 1/);
    expect(created.stdout).toContain(resource('flow'));

    const shown = await lockbox(['request', 'show', id!, '--json']);
    expect(shown.code, said(shown)).toBe(0);
    expect(JSON.parse(shown.stdout)).toMatchObject({ id, status: 'pending', requester: 'eve@lockbox.dev', ticket: 'SUP-1', resource: resource('flow') });

    const approved = await lockbox(['request', 'approve', id!, '--comment', 'ok from the cli'], { as: 'alice' });
    expect(approved.code, said(approved)).toBe(0);
    expect(approved.stdout).toMatch(/Status\s+active: access until/);
    expect(approved.stdout).toContain('alice@contoso.com approved (customer stage): "ok from the cli"');

    // Visibility is eventually consistent: the list shows the new status shortly after.
    const listed = await eventually(
      () => lockbox(['request', 'list', '--json', '--resource', resource('flow')]),
      (r) => r.code === 0 && JSON.parse(r.stdout).requests.some((x: { id: string; status: string }) => x.id === id && x.status === 'active'),
    );
    expect(listed.code, said(listed)).toBe(0);
    expect(JSON.parse(listed.stdout).requests).toEqual([expect.objectContaining({ id, status: 'active', tenant: 'contoso' })]);

    const table = await lockbox(['request', 'list', '--resource', resource('flow')]);
    expect(table.code, said(table)).toBe(0);
    expect(table.stdout.split('\n')[0]).toMatch(/^ID\s+STATUS\s+TENANT\s+RESOURCE/);
    expect(table.stdout).toMatch(new RegExp(`${id}\\s+active\\s+contoso`));
  });

  it('exits 3 when not authenticated, with the reason in words', async () => {
    const bad = await lockbox(['request', 'list'], { as: 'none', url: undefined });
    expect(bad.code, said(bad)).toBe(3);
    expect(bad.stderr).toContain('Not authenticated (HTTP 401)');
    expect(bad.stderr).toContain('set LOCKBOX_TOKEN');
    const wrong = await lockbox(['request', 'list', '--token', 'not-a-real-token']);
    expect(wrong.code, said(wrong)).toBe(3);
    expect(wrong.stderr).toContain('the bearer token is not valid');
    expect(wrong.stderr).not.toMatch(STACK_TRACE);
  });

  it('exits 5 for a request that does not exist, 4 when forbidden', async () => {
    const missing = await lockbox(['request', 'show', `req-contoso-${ulid()}`]);
    expect(missing.code, said(missing)).toBe(5);
    expect(missing.stderr).toMatch(/Not found \(HTTP 404\): no request with id req-contoso-/);
    const id = await pendingRequest('forbidden');
    const self = await lockbox(['request', 'approve', id]);
    expect(self.code, said(self)).toBe(4);
    expect(self.stderr).toContain('Not allowed (HTTP 403)');
  });

  it('exits 6 when approving twice, and --json puts the problem on stdout', async () => {
    const id = await pendingRequest('twice');
    const first = await lockbox(['request', 'approve', id], { as: 'alice' });
    expect(first.code, said(first)).toBe(0);
    const second = await lockbox(['request', 'approve', id, '--json'], { as: 'bob' });
    expect(second.code, said(second)).toBe(6);
    expect(second.stderr).toMatch(/Conflict \(HTTP 409\): .*active/);
    expect(JSON.parse(second.stdout)).toMatchObject({ status: 409, title: 'Conflict' });
  });

  it('exits 7 on invalid input, naming the field; never a stack trace', async () => {
    const bad = await lockbox(createArgs('bad-duration').map((a) => (a === '1h' ? 'for a while' : a)));
    expect(bad.code, said(bad)).toBe(7);
    expect(bad.stderr).toContain('Invalid request (HTTP 400)');
    expect(bad.stderr).toMatch(/^\s+duration: must be a duration like 45s/m);
    expect(bad.stderr).not.toMatch(STACK_TRACE);
    const json = await lockbox([...createArgs('bad-duration-json').map((a) => (a === '1h' ? '9y' : a)), '--json']);
    expect(json.code, said(json)).toBe(7);
    expect(JSON.parse(json.stdout).errors).toEqual([expect.objectContaining({ field: 'duration' })]);
  });

  it('exits 2 on a usage error and 8 when the API cannot be reached', async () => {
    const missing = await lockbox(['request', 'create', '--tenant', 'contoso']);
    expect(missing.code, said(missing)).toBe(2);
    expect(missing.stderr).toContain("required option '--resource <resource>' not specified");
    const unknown = await lockbox(['request', 'list', '--colour', 'blue']);
    expect(unknown.code, said(unknown)).toBe(2);
    const status = await lockbox(['request', 'list', '--status', 'sleeping']);
    expect(status.code, said(status)).toBe(2);
    expect(status.stderr).toContain('Allowed choices are pending, granting, active');

    const closed = await findFreePort();
    const down = await lockbox(['request', 'list'], { url: `http://127.0.0.1:${closed}` });
    expect(down.code, said(down)).toBe(8);
    expect(down.stderr).toContain(`cannot reach the Lockbox API at http://127.0.0.1:${closed}`);
  });
});

describe('lockbox request create --wait', () => {
  /** Starts `create --wait --json`; resolves the request id as soon as the progress line shows it. */
  function createAndWait(name: string, extra: string[] = []) {
    let announce: (id: string) => void = () => undefined;
    const id = new Promise<string>((resolve) => (announce = resolve));
    const proc = start(createArgs(name, ['--wait', '--json', '--timeout', '45s', ...extra]), {
      onStderr: (all) => {
        const m = /(req-contoso-[0-9A-Z]{26}) pending/.exec(all);
        if (m?.[1]) announce(m[1]);
      },
    });
    return { id: Promise.race([id, proc.done.then((r) => Promise.reject(new Error(`ended before showing an id: ${said(r)}`)))]), done: proc.done };
  }

  it('exits 0 once alice approves from another process while it waits', async () => {
    const waiting = createAndWait('wait-approve');
    const id = await waiting.id;
    await new Promise((r) => setTimeout(r, 1500)); // let it poll at least once while pending
    const approve = await lockbox(['request', 'approve', id, '--comment', 'go'], { as: 'alice' });
    expect(approve.code, said(approve)).toBe(0);
    const result = await waiting.done;
    expect(result.code, said(result)).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ id, status: 'active', access: expect.objectContaining({ endsAt: expect.any(String) }) });
    expect(result.stderr).toContain('waiting for customer approval, 0 of 1');
    expect(result.stderr).toContain('alice@contoso.com approved (customer stage)');
    expect(result.stderr).toMatch(/active: access until/);
  });

  it('exits 9 when bob rejects', async () => {
    const waiting = createAndWait('wait-reject');
    const id = await waiting.id;
    const reject = await lockbox(['request', 'reject', id, '--reason', 'not today'], { as: 'bob' });
    expect(reject.code, said(reject)).toBe(0);
    const result = await waiting.done;
    expect(result.code, said(result)).toBe(9);
    expect(JSON.parse(result.stdout)).toMatchObject({ id, status: 'rejected' });
    expect(result.stderr).toContain('rejected by bob@contoso.com (customer stage): "not today"');
  });

  it('exits 10 when --timeout runs out while still pending', async () => {
    const result = await lockbox(createArgs('wait-timeout', ['--wait', '--timeout', '1s']));
    expect(result.code, said(result)).toBe(10);
    expect(result.stderr).toMatch(/still pending, stopped waiting .*lockbox request wait req-contoso-/);
  });
});

describe('lockbox --help', () => {
  /** Every command path of the program, e.g. ['request', 'create']: new commands are covered without editing this. */
  function commandPaths(cmd: Command, prefix: string[] = []): string[][] {
    return cmd.commands.flatMap((c) => [[...prefix, c.name()], ...commandPaths(c, [...prefix, c.name()])]);
  }

  it('exits 0 and shows usage for the program and every command', async () => {
    const paths = [[], ...commandPaths(buildProgram())];
    expect(paths.map((p) => p.join(' '))).toEqual(expect.arrayContaining(['request create', 'request list', 'request show', 'request approve', 'request reject', 'request revoke', 'request cancel', 'audit tail', 'audit verify', 'settings get', 'settings set', 'dev', 'worker', 'api']));
    const results: Array<{ path: string[]; r: Run }> = [];
    for (let i = 0; i < paths.length; i += 6) {
      const batch = paths.slice(i, i + 6);
      results.push(...(await Promise.all(batch.map(async (path) => ({ path, r: await lockbox([...path, '--help']) })))));
    }
    for (const { path, r } of results) {
      expect(r.code, `${path.join(' ')} --help: ${said(r)}`).toBe(0);
      expect(r.stdout, path.join(' ')).toContain(`Usage: lockbox${path.length ? ` ${path.join(' ')}` : ''}`);
    }
  }, 120_000);
});

describe('lockbox audit', () => {
  it('tail --request lists a request\'s events in order, as a table or JSON Lines', async () => {
    const id = await pendingRequest('tail');
    expect((await api().as('alice').post(`/v1/requests/${id}/approve`, {})).status).toBe(200);
    const table = await lockbox(['audit', 'tail', '--request', id]);
    expect(table.code, said(table)).toBe(0);
    const types = table.stdout.split('\n').slice(1).map((l) => l.split(/\s{2,}/)[1]);
    expect(types.slice(0, 1)).toEqual(['request.created']);
    expect(types).toEqual(expect.arrayContaining(['request.approved', 'access.granted']));
    const lines = await lockbox(['audit', 'tail', '--request', id, '--json']);
    expect(lines.code, said(lines)).toBe(0);
    const events = lines.stdout.trim().split('\n').map((l) => JSON.parse(l) as { requestId: string; seq: number });
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    expect(new Set(events.map((e) => e.requestId))).toEqual(new Set([id]));
  });

  it('tail without --request reads the audit feed (or says it needs --request), and its JSON Lines verify', async () => {
    const feed = await api().call('GET', '/v1/audit?tenant=contoso&limit=1', { token: TOKENS.alice });
    if (feed.status === 404) {
      const r = await lockbox(['audit', 'tail'], { as: 'alice' });
      expect(r.code, said(r)).toBe(2);
      expect(r.stderr).toContain('pass --request <id>');
      return;
    }
    expect(feed.status, JSON.stringify(feed.body)).toBe(200);
    const id = await pendingRequest('feed');
    await eventually(
      () => api().call('GET', `/v1/audit?tenant=contoso&type=request.created&limit=1000`, { token: TOKENS.alice }),
      (r) => JSON.stringify(r.body).includes(id),
      30_000,
    );
    const tail = await lockbox(['audit', 'tail', '--tenant', 'contoso', '--type', 'request.created', '--limit', '1000'], { as: 'alice' });
    expect(tail.code, said(tail)).toBe(0);
    expect(tail.stdout).toMatch(new RegExp(`request\\.created\\s+eve@lockbox\\.dev\\s+${id}`));
    // The whole contoso feed as JSON Lines is a chain prefix: `audit verify` accepts it.
    const all = await lockbox(['audit', 'tail', '--tenant', 'contoso', '--limit', '1000000', '--json'], { as: 'alice' });
    expect(all.code, said(all)).toBe(0);
    const file = join(await mkdtemp(join(tmpdir(), 'lockbox-cli-')), 'feed.jsonl');
    await writeFile(file, all.stdout);
    const verified = await lockbox(['audit', 'verify', file]);
    expect(verified.code, said(verified)).toBe(0);
    expect(verified.stdout).toMatch(/ok, \d+ events/);
  });

  it('verify exits 0 on the stack\'s audit file and 11 once an event is edited or deleted', async () => {
    const id = await pendingRequest('verify');
    expect((await api().as('alice').post(`/v1/requests/${id}/approve`, {})).status).toBe(200);
    const source = join(inject('stack').dataDir, 'audit.jsonl');
    // Events are exported in the background: wait until the approval is in the file.
    await eventually(() => readFile(source, 'utf8').catch(() => ''), (t) => t.includes(`"id":"${id}:3"`), 30_000);
    const text = (await readFile(source, 'utf8')).split('\n').filter((l) => l.trim() !== '' && l.endsWith('}'));
    const dir = await mkdtemp(join(tmpdir(), 'lockbox-cli-'));
    const good = join(dir, 'good.jsonl');
    await writeFile(good, `${text.join('\n')}\n`);

    const ok = await lockbox(['audit', 'verify', good]);
    expect(ok.code, said(ok)).toBe(0);
    expect(ok.stdout).toMatch(/ok, \d+ events/);
    expect(ok.stdout).toMatch(/contoso: \d+ events, head [0-9a-f]{64}/);

    const target = text.findIndex((l) => l.includes(`"id":"${id}:3"`));
    expect(target).toBeGreaterThanOrEqual(0);
    const edited = join(dir, 'edited.jsonl');
    const editedLines = [...text];
    editedLines[target] = editedLines[target]!.replace(/"actor":"[^"]+"/, '"actor":"mallory@contoso.com"');
    expect(editedLines[target]).not.toBe(text[target]);
    await writeFile(edited, `${editedLines.join('\n')}\n`);
    const broken = await lockbox(['audit', 'verify', edited]);
    expect(broken.code, said(broken)).toBe(11);
    expect(broken.stdout).toContain(`broken at event ${id}:3`);
    expect(broken.stdout).toContain('hash_mismatch');

    const deleted = join(dir, 'deleted.jsonl');
    await writeFile(deleted, `${text.filter((_, i) => i !== target - 1).join('\n')}\n`);
    const gap = await lockbox(['audit', 'verify', deleted, '--json']);
    expect(gap.code, said(gap)).toBe(11);
    expect(JSON.parse(gap.stdout)).toMatchObject({ ok: false, brokenAt: { reason: expect.stringMatching(/index_mismatch|prev_mismatch/) } });

    const none = await lockbox(['audit', 'verify', join(dir, 'missing.jsonl')]);
    expect(none.code, said(none)).toBe(7);
    expect(none.stderr).toContain('no such file');
  });
});

describe('lockbox settings', () => {
  // On the second (short-lifetime) Lockbox, whose settings no other test changes with If-Match.
  const url = () => inject('stack').shortTtlApiUrl;

  it('get shows the settings to the admin and exits 4 for an approver who is not one', async () => {
    const shown = await lockbox(['settings', 'get', 'contoso'], { as: 'alice', url: url() });
    expect(shown.code, said(shown)).toBe(0);
    expect(shown.stdout).toMatch(/Approvers\s+alice@contoso\.com, bob@contoso\.com/);
    expect(shown.stdout).toMatch(/Quorum\s+1/);
    const bob = await lockbox(['settings', 'get', 'contoso'], { as: 'bob', url: url() });
    expect(bob.code, said(bob)).toBe(4);
  });

  it('set changes only what it is given, as a new version; a bad value exits 7 naming the field', async () => {
    const before = JSON.parse((await lockbox(['settings', 'get', 'contoso', '--json'], { as: 'alice', url: url() })).stdout);
    const set = await lockbox(['settings', 'set', 'contoso', '--quorum', String(before.quorum), '--json'], { as: 'alice', url: url() });
    expect(set.code, said(set)).toBe(0);
    const after = JSON.parse(set.stdout);
    expect(after.version).toBeGreaterThan(before.version);
    expect(after).toMatchObject({ approvers: before.approvers, requestTtl: before.requestTtl, maxAccess: before.maxAccess, updatedBy: 'alice@contoso.com' });

    const bad = await lockbox(['settings', 'set', 'contoso', '--quorum', '0'], { as: 'alice', url: url() });
    expect(bad.code, said(bad)).toBe(7);
    expect(bad.stderr).toMatch(/^\s+quorum: /m);
    const nothing = await lockbox(['settings', 'set', 'contoso'], { as: 'alice', url: url() });
    expect(nothing.code, said(nothing)).toBe(2);
  });

  it('set takes reminders and escalation as JSON (null removes them); an escalation after the lifetime exits 7 naming escalation.after', async () => {
    const set = await lockbox(['settings', 'set', 'contoso', '--reminders', '{"count":2,"every":"1h"}'], { as: 'alice', url: url() });
    expect(set.code, said(set)).toBe(0);
    expect(set.stdout).toMatch(/Reminders\s+2, every 1h/);
    const late = await lockbox(['settings', 'set', 'contoso', '--escalation', '{"after":"8d","to":["carol@contoso.com"]}'], { as: 'alice', url: url() });
    expect(late.code, said(late)).toBe(7);
    expect(late.stderr).toMatch(/^\s+escalation\.after: /m);
    const reset = await lockbox(['settings', 'set', 'contoso', '--reminders', 'null'], { as: 'alice', url: url() });
    expect(reset.code, said(reset)).toBe(0);
    expect(reset.stdout).toMatch(/Reminders\s+\(one, an hour before expiry\)/);
    expect(reset.stdout).toMatch(/Escalation\s+\(none\)/);
  });
});
