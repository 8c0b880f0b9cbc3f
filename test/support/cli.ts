import { spawn } from 'node:child_process';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '..', '..');
const BIN = join(ROOT, 'bin', 'lockbox.js');

/** How a `lockbox` run ended and what it printed. */
export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the real binary (`node bin/lockbox.js <args>`) with exactly `env`; `onStderr` sees progress as it comes. */
export function runLockbox(args: string[], env: NodeJS.ProcessEnv, onStderr?: (all: string) => void): Promise<CliRun> {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
    onStderr?.(stderr);
  });
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr })));
}

/** Text for an assertion message: what the CLI said. */
export const said = (r: CliRun): string => `exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`;
