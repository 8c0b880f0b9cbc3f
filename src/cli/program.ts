import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { auditCommand } from './commands/audit.js';
import { evidenceCommand } from './commands/evidence.js';
import { loginCommands } from './commands/login.js';
import { processCommands } from './commands/processes.js';
import { reconcileCommand } from './commands/reconcile.js';
import { requestCommand } from './commands/request.js';
import { settingsCommand } from './commands/settings.js';

const HELP_FOOTER = `
Environment:
  LOCKBOX_URL    API base URL (default http://127.0.0.1:3000), or --url
  LOCKBOX_TOKEN  bearer token, or --token; default: the one lockbox login saved for the URL
  XDG_CONFIG_HOME  where lockbox login keeps tokens (lockbox/tokens.json; default ~/.config)

Exit codes: 0 ok, 1 unexpected error, 2 usage error, 3 not authenticated (401), 4 forbidden (403),
5 not found (404), 6 conflict (409/412), 7 invalid input (400/413/415/422), 8 API unreachable,
9 --wait: ended without access, 10 --wait: timed out while pending, 11 audit verify: chain broken.
See docs/cli.md.`;

function version(): string {
  try {
    return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

/** Applies `fn` to a command and every command below it (settings set on the root are not inherited by addCommand). */
function eachCommand(cmd: Command, fn: (c: Command) => void): void {
  fn(cmd);
  for (const sub of cmd.commands) eachCommand(sub, fn);
}

/**
 * The whole `lockbox` command tree. Commander's own exits (help, version, usage errors) are thrown as
 * CommanderError instead of exiting, so the caller maps them to the documented exit codes.
 */
export function buildProgram(): Command {
  const program = new Command('lockbox')
    .description('Lockbox: just-in-time access approval. File, decide and follow access requests; read and verify the audit trail.')
    .version(version(), '-V, --version')
    .addCommand(requestCommand())
    .addCommand(auditCommand())
    .addCommand(evidenceCommand())
    .addCommand(settingsCommand())
    .addCommand(reconcileCommand());
  for (const c of loginCommands()) program.addCommand(c);
  for (const p of processCommands()) program.addCommand(p);
  program.addHelpText('after', HELP_FOOTER);
  eachCommand(program, (c) => {
    c.exitOverride((err) => {
      throw err;
    });
    c.showHelpAfterError('(add --help for usage)');
    c.allowExcessArguments(false);
  });
  return program;
}
