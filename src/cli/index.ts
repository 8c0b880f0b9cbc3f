/**
 * `lockbox`: the command-line face of Lockbox (bin/lockbox.js runs this file through tsx). Every outcome ends in a
 * documented exit code (src/cli/exit.ts, docs/cli.md); errors are printed in words, never as a stack trace
 * (LOCKBOX_DEBUG=1 adds one for unexpected errors).
 */
import { CommanderError } from 'commander';
import { CliError, ExitCode } from './exit.js';
import { buildProgram } from './program.js';

/** Runs the CLI on `argv` (node-style: [node, script, ...args]); resolves to the exit code. */
export async function run(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : ExitCode.ok;
  } catch (err) {
    // Commander has already printed its message (or the help); help and --version exit 0, the rest are usage errors.
    if (err instanceof CommanderError) return err.exitCode === 0 ? ExitCode.ok : ExitCode.usage;
    if (err instanceof CliError) {
      process.stderr.write(`lockbox: ${err.message}\n`);
      return err.exitCode;
    }
    const detail = process.env.LOCKBOX_DEBUG === '1' && err instanceof Error ? `\n${err.stack}` : '';
    process.stderr.write(`lockbox: unexpected error: ${err instanceof Error ? err.message : String(err)}${detail}\n`);
    return ExitCode.unexpected;
  }
}

process.exitCode = await run(process.argv);
