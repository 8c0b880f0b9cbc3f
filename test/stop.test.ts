import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { findFreePort, findFreeTemporalPort } from '../src/dev/dev-server.js';
import { startProc, waitForHttp } from './support/process.js';

const ROOT = join(import.meta.dirname, '..');

/** Whether something listens on 127.0.0.1:port (a listen attempt fails with EADDRINUSE). */
const taken = (port: number) =>
  new Promise<boolean>((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(true));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(false)));
  });

/** Processes whose command line names the data dir (the Temporal dev server's SQLite file is in it). */
const leftovers = (dir: string) =>
  execFileSync('ps', ['-eo', 'pid,args'], { encoding: 'utf8' })
    .split('\n')
    .filter((line) => line.includes(dir) && !line.includes('ps -eo'));

/**
 * `npm start` stops all of its processes, the Temporal dev server included, when the signal goes to the npm process
 * itself (a service manager, `kill <pid of npm>`), not only on Ctrl-C to the whole process group.
 */
describe('stopping npm start', () => {
  it.each(['SIGTERM', 'SIGINT'] as const)('%s to the npm process stops everything; no orphan keeps the ports', async (signal) => {
    const dataDir = await mkdtemp(join(tmpdir(), 'lockbox-stop-'));
    const [apiPort, temporalPort] = [await findFreePort(), await findFreeTemporalPort()];
    const env = { ...process.env, LOCKBOX_DATA_DIR: dataDir, LOCKBOX_PORT: String(apiPort), LOCKBOX_TEMPORAL_PORT: String(temporalPort), LOCKBOX_TASK_QUEUE: 'stop-test' };
    const npm = startProc('npm', ['start', '--silent'], env, ROOT, join(dataDir, 'out.log'));
    try {
      await waitForHttp(`http://127.0.0.1:${apiPort}/readyz`, npm, 120_000);
      expect(leftovers(dataDir).length).toBeGreaterThan(0);
      // A quiet start: the ready banner, and no library's warnings about development choices made on purpose.
      await expect.poll(() => npm.output(), { timeout: 10_000 }).toContain('Lockbox is running.');
      expect(npm.output()).not.toMatch(/oidc-provider WARNING|webpack/);
      npm.child.kill(signal);
      const until = Date.now() + 45_000;
      while (Date.now() < until && (leftovers(dataDir).length > 0 || (await taken(apiPort)) || (await taken(temporalPort)))) {
        await new Promise((r) => setTimeout(r, 500));
      }
      expect(leftovers(dataDir), npm.output().slice(-2000)).toEqual([]);
      expect(await taken(apiPort)).toBe(false);
      expect(await taken(temporalPort)).toBe(false);
      expect(await taken(temporalPort + 1000)).toBe(false);
    } finally {
      await npm.stop();
      for (const line of leftovers(dataDir)) {
        const pid = Number(line.trim().split(/\s+/)[0]);
        if (pid) process.kill(pid, 'SIGKILL');
      }
      await rm(dataDir, { recursive: true, force: true });
    }
  }, 240_000);
});
