/**
 * The production shape (docker-compose.yml, Dockerfile) is validated without a Docker engine: Debian's
 * `docker-compose` package parses and interpolates the file (`docker-compose config`).
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const SERVICES = ['postgresql', 'temporal', 'temporal-ui', 'lockbox-worker', 'lockbox-api'];

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs docker-compose; a missing binary fails the test (CI installs it) instead of skipping it. */
function compose(args: string[], env: NodeJS.ProcessEnv): Promise<Run> {
  return new Promise((resolve, reject) => {
    execFile('docker-compose', ['-f', 'docker-compose.yml', ...args], { cwd: root, env }, (err, stdout, stderr) => {
      const code = (err as NodeJS.ErrnoException | null)?.code;
      if (code === 'ENOENT') {
        reject(new Error('docker-compose is not installed: run `apt-get install docker-compose` (.ci/run installs it)'));
        return;
      }
      resolve({ code: err ? (typeof code === 'number' ? code : 1) : 0, stdout, stderr });
    });
  });
}

function envWithout(...names: string[]): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const name of names) delete env[name];
  return env;
}

describe('docker-compose.yml', () => {
  it('is valid and names the five services', async () => {
    const run = await compose(['config'], { ...process.env, POSTGRES_PASSWORD: 'only-for-this-test' });
    expect(run.code, run.stderr).toBe(0);
    for (const service of SERVICES) expect(run.stdout).toMatch(new RegExp(`^  ${service}:$`, 'm'));

    const listed = await compose(['config', '--services'], { ...process.env, POSTGRES_PASSWORD: 'only-for-this-test' });
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout.trim().split('\n').sort()).toEqual([...SERVICES].sort());
  }, 60_000);

  it('points worker and API at Temporal and PostgreSQL', async () => {
    const run = await compose(['config'], { ...process.env, POSTGRES_PASSWORD: 'only-for-this-test' });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain('TEMPORAL_ADDRESS: temporal:7233');
    expect(run.stdout).toContain('TEMPORAL_NAMESPACE: lockbox');
    expect(run.stdout).toContain('LOCKBOX_DATABASE_URL: postgres://lockbox:only-for-this-test@postgresql:5432/lockbox');
    expect(run.stdout).toContain('DB: postgres12');
    expect(run.stdout).toContain('src/main/run-worker.ts');
  }, 60_000);

  it('refuses to start without a password instead of using a committed one', async () => {
    const run = await compose(['config'], envWithout('POSTGRES_PASSWORD'));
    expect(run.code).not.toBe(0);
    expect(run.stderr).toContain('set POSTGRES_PASSWORD');

    const text = await readFile(join(root, 'docker-compose.yml'), 'utf8');
    for (const line of text.split('\n').filter((l) => /(PASSWORD|PWD):/.test(l) && !l.trim().startsWith('#'))) {
      expect(line).toMatch(/\$\{POSTGRES_PASSWORD:\?/);
    }
  }, 60_000);
});

describe('Dockerfile', () => {
  it('runs the API as a non-root user on Node 20', async () => {
    const text = await readFile(join(root, 'Dockerfile'), 'utf8');
    expect(text).toMatch(/^FROM node:20-bookworm-slim$/m);
    expect(text).toMatch(/^RUN npm ci\b/m);
    const user = /^USER (\S+)$/m.exec(text)?.[1];
    expect(user).toBeDefined();
    expect(user).not.toBe('root');
    // node directly (SIGTERM reaches it), and the workflow bundle built into the image, not by each worker.
    expect(text).toMatch(/^CMD \["node", "--import", "tsx", "src\/main\/run-api\.ts"\]$/m);
    expect(text).toMatch(/^RUN node --import tsx scripts\/bundle-workflows\.ts$/m);
  });
});
