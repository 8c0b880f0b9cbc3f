/**
 * The build lock the dev tools take before building a Go binary (src/dev/build-lock.ts): a live holder is waited
 * for, an abandoned lock (holder gone, or not refreshed for 2 minutes) is broken. Needs no stack.
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acquireBuildLock } from '../src/dev/build-lock.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lockbox-build-lock-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The pid of a process that has exited. */
function deadPid(): number {
  return spawnSync(process.execPath, ['-e', '']).pid!;
}

describe('acquireBuildLock', () => {
  it('takes a free lock, writes its owner and removes the file on release', async () => {
    const lock = join(dir, 'free.lock');
    const release = await acquireBuildLock(lock, 'the thing', () => undefined);
    expect(JSON.parse(await readFile(lock, 'utf8'))).toMatchObject({ pid: process.pid, host: hostname() });
    await release();
    await expect(stat(lock)).rejects.toThrow(/ENOENT/);
  });

  it('breaks a lock whose holder on this host is gone', async () => {
    const lock = join(dir, 'dead.lock');
    await writeFile(lock, JSON.stringify({ pid: deadPid(), host: hostname() }));
    const lines: string[] = [];
    const release = await acquireBuildLock(lock, 'the thing', (l) => lines.push(l));
    expect(lines).toEqual([`removing stale build lock ${lock}`]);
    await release();
  });

  it('breaks a lock from another host that has not been refreshed for over 2 minutes, but not a fresh one', async () => {
    const lock = join(dir, 'old.lock');
    await writeFile(lock, JSON.stringify({ pid: 1, host: 'elsewhere' }));
    const old = new Date(Date.now() - 3 * 60_000);
    await utimes(lock, old, old);
    const release = await acquireBuildLock(lock, 'the thing', () => undefined);
    await release();
  });

  it('waits for a live holder, says so once, and takes the lock when it is released', async () => {
    const lock = join(dir, 'live.lock');
    await writeFile(lock, JSON.stringify({ pid: process.pid, host: hostname() }));
    const lines: string[] = [];
    const started = Date.now();
    setTimeout(() => void rm(lock, { force: true }), 2_500);
    const release = await acquireBuildLock(lock, 'the thing', (l) => lines.push(l));
    expect(Date.now() - started).toBeGreaterThanOrEqual(2_400);
    expect(lines).toEqual([`another process (pid ${process.pid}) is building the thing; waiting for it to finish`]);
    await release();
  }, 15_000);
});
