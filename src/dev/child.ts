/**
 * Running a server binary as a child process: its output as lines (the last ones kept for error messages), a
 * stop that escalates from SIGTERM to SIGKILL, and no orphan left behind when this process exits first.
 */
import type { ChildProcess } from 'node:child_process';

/** A supervised child: see {@link superviseChild}. */
export interface SupervisedChild {
  /** Resolves once the process has exited. */
  exited: Promise<void>;
  /** The last lines it printed, oldest first. */
  tail(): string;
  /** Why it is not running (could not start, or exited), or undefined while it runs. */
  deadReason(): string | undefined;
  /** SIGTERM, then SIGKILL after the grace period; resolves once it has exited. Safe to call twice. */
  stop(): Promise<void>;
}

/**
 * Watches `child`: each non-empty output line goes to `onLine` (after `shorten`) and into a tail of `tailLines`;
 * the child is killed if this process exits without stopping it.
 */
export function superviseChild(
  child: ChildProcess,
  opts: { tailLines: number; graceMs: number; onLine?: (line: string) => void; shorten?: (line: string) => string },
): SupervisedChild {
  const tail: string[] = [];
  const onLine = (line: string) => {
    if (!line.trim()) return;
    tail.push(opts.shorten ? opts.shorten(line) : line);
    if (tail.length > opts.tailLines) tail.shift();
    opts.onLine?.(line);
  };
  pipeLines(child.stdout, onLine);
  pipeLines(child.stderr, onLine);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let spawnError: Error | undefined;
  child.once('error', (err) => (spawnError = err));
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  return {
    exited,
    tail: () => tail.join('\n'),
    deadReason() {
      if (spawnError) return `could not be started: ${spawnError.message}`;
      if (child.exitCode !== null || child.signalCode !== null) return `exited (code ${child.exitCode ?? child.signalCode}) before it was ready`;
      return undefined;
    },
    async stop() {
      process.removeListener('exit', killOnExit);
      await stopChild(child, exited, opts.graceMs);
    },
  };
}

async function stopChild(child: ChildProcess, exited: Promise<void>, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  child.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const graceful = await Promise.race([
    exited.then(() => true),
    new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), graceMs))),
  ]);
  clearTimeout(timer);
  if (!graceful) {
    child.kill('SIGKILL');
    await exited;
  }
}

/** Calls `onLine` for every line of `stream` (the last one even without a newline). */
export function pipeLines(stream: NodeJS.ReadableStream | null, onLine: (line: string) => void): void {
  if (!stream) return;
  let buffered = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    buffered += chunk;
    const lines = buffered.split('\n');
    buffered = lines.pop() ?? '';
    lines.forEach(onLine);
  });
  stream.on('end', () => buffered && onLine(buffered));
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
