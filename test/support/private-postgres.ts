import { execFile, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, existsSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { findFreePort } from '../../src/dev/dev-server.js';

const run = promisify(execFile);

/** A throwaway PostgreSQL cluster that checks passwords, unlike the machine's trust-auth server. */
export interface PrivatePostgres {
  port: number;
  host: string;
  /** `postgres://admin:<password>@127.0.0.1:<port>/postgres`, a superuser. */
  adminUrl: string;
  /** The server's log (readable by the test's user), e.g. to check what statements it logged. */
  logFile: string;
  /** Stops the server and deletes its directory; idempotent. */
  stop(): Promise<void>;
  /**
   * A real outage: shuts the server down (`pg_ctl stop -m fast`: sessions are ended, the port is closed) but keeps
   * its data; `resume` starts it again on the same port with the same data.
   */
  pause(): Promise<void>;
  resume(): Promise<void>;
}

/** The newest installed PostgreSQL's binaries (`/usr/lib/postgresql/<major>/bin`). */
function findBinDir(): string {
  const root = '/usr/lib/postgresql';
  const majors = existsSync(root) ? readdirSync(root).filter((d) => existsSync(join(root, d, 'bin', 'initdb'))) : [];
  const newest = majors.sort((a, b) => Number(b) - Number(a))[0];
  if (!newest) throw new Error(`no PostgreSQL server binaries under ${root}/*/bin`);
  return join(root, newest, 'bin');
}

/** initdb and postgres refuse to run as root, so as root we drop to the `postgres` user. */
function asServerUser(): { wrap: (cmd: string, args: string[]) => [string, string[]]; uid?: number; gid?: number } {
  if (process.getuid?.() !== 0) return { wrap: (cmd, args) => [cmd, args] };
  const id = (flag: string) => Number(spawnSync('id', [flag, 'postgres'], { encoding: 'utf8' }).stdout.trim());
  return { wrap: (cmd, args) => ['runuser', ['-u', 'postgres', '--', cmd, ...args]], uid: id('-u'), gid: id('-g') };
}

/**
 * Starts a private PostgreSQL cluster with scram-sha-256 password authentication on a free port of 127.0.0.1,
 * with a superuser `admin` whose password is random. About a second. Callers must `stop()` it; should they crash
 * first, an exit hook still stops the server (the directory under the temp dir is then left for the OS).
 */
export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  const bin = findBinDir();
  const user = asServerUser();
  const dir = await mkdtemp(join(tmpdir(), 'lockbox-pg-'));
  const data = join(dir, 'data');
  const password = randomBytes(18).toString('base64url');
  const exec = async (cmd: string, args: string[]) => {
    const [c, a] = user.wrap(join(bin, cmd), args);
    await run(c, a, { timeout: 60_000 });
  };
  let started = false;
  const stopSync = () => {
    if (started) spawnSync(...user.wrap(join(bin, 'pg_ctl'), ['-D', data, '-m', 'immediate', 'stop']));
  };
  process.once('exit', stopSync);

  try {
    if (user.uid !== undefined && user.gid !== undefined) chownSync(dir, user.uid, user.gid);
    // The password reaches initdb through a file only the server user can read, not through argv.
    const pwfile = join(dir, 'pwfile');
    writeFileSync(pwfile, `${password}\n`, { mode: 0o600 });
    if (user.uid !== undefined && user.gid !== undefined) chownSync(pwfile, user.uid, user.gid);
    await exec('initdb', ['-D', data, '-A', 'scram-sha-256', `--pwfile=${pwfile}`, '-U', 'admin', '-E', 'UTF8', '--locale=C', '--no-sync']);
    rmSync(pwfile);
    chmodSync(dir, 0o700);

    // A free port can be taken between finding and binding it, so try a few.
    for (let attempt = 1; ; attempt++) {
      const port = await findFreePort();
      // fsync off: the cluster is thrown away, and it makes DDL-heavy tests faster. -l keeps pg_ctl from holding
      // our pipes open for the server's lifetime.
      const opts = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off`;
      try {
        await exec('pg_ctl', ['-D', data, '-o', opts, '-l', join(dir, 'server.log'), '-w', '-t', '30', 'start']);
      } catch (err) {
        if (attempt < 3) continue;
        throw err;
      }
      started = true;
      let stopped = false;
      let paused = false;
      return {
        port,
        host: '127.0.0.1',
        adminUrl: `postgres://admin:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`,
        logFile: join(dir, 'server.log'),
        async pause() {
          if (stopped || paused) return;
          await exec('pg_ctl', ['-D', data, '-m', 'fast', '-w', 'stop']);
          paused = true;
        },
        async resume() {
          if (stopped || !paused) return;
          await exec('pg_ctl', ['-D', data, '-o', opts, '-l', join(dir, 'server.log'), '-w', '-t', '30', 'start']);
          paused = false;
        },
        async stop() {
          if (stopped) return;
          stopped = true;
          try {
            if (!paused) await exec('pg_ctl', ['-D', data, '-m', 'fast', '-w', 'stop']);
          } finally {
            started = false;
            process.removeListener('exit', stopSync);
            rmSync(dir, { recursive: true, force: true });
          }
        },
      };
    }
  } catch (err) {
    stopSync();
    process.removeListener('exit', stopSync);
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}
