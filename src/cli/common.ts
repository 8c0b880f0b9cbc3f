import { Option, type Command } from 'commander';
import { ExitCode } from './exit.js';
import { ApiError, createApi, type Api } from './http.js';
import { printJson, stdio, type Output } from './output.js';
import { savedAccessToken } from './saved-token.js';

export const DEFAULT_URL = 'http://127.0.0.1:3000';

/** Options every command that talks to the API has. */
export interface ApiOptions {
  url: string;
  token?: string;
  json?: boolean;
}

/** What an API command's handler gets. */
export interface ApiContext {
  api: Api;
  json: boolean;
  io: Output;
}

/** Adds `--url`, `--token` (with their environment variables) and `--json` to a command. */
export function withApiOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--url <url>', 'Lockbox API base URL').env('LOCKBOX_URL').default(DEFAULT_URL))
    .addOption(new Option('--token <token>', 'bearer token (prefer the environment variable: argv is visible to others); default: the one lockbox login saved').env('LOCKBOX_TOKEN'))
    .addOption(new Option('--json', 'print the API answer as JSON (errors too, on stdout) instead of text'));
}

/**
 * Registers an action that talks to the API (adding the API options after the command's own, for --help). With `--json` an API error's raw problem goes to stdout as well, so a
 * script reads one JSON document either way and tells success from failure by the exit code.
 */
export function apiAction<O extends ApiOptions>(cmd: Command, handler: (ctx: ApiContext, opts: O, args: string[]) => Promise<number | void>): Command {
  return withApiOptions(cmd).action(async (...received: unknown[]) => {
    const opts = cmd.opts<O>();
    const args = received.slice(0, cmd.registeredArguments.length) as string[];
    // No token given: the one `lockbox login` saved for this URL (renewed when about to expire), if any.
    const saved = opts.token ? undefined : await savedAccessToken(opts.url);
    const token = opts.token ?? saved;
    const ctx: ApiContext = { api: createApi({ url: opts.url, ...(token ? { token } : {}), fromLogin: saved !== undefined }), json: opts.json === true, io: stdio };
    try {
      const code = await handler(ctx, opts, args);
      if (typeof code === 'number' && code !== ExitCode.ok) process.exitCode = code;
    } catch (err) {
      if (ctx.json && err instanceof ApiError && typeof err.body === 'object' && err.body !== null) printJson(ctx.io, err.body);
      throw err;
    }
  });
}
