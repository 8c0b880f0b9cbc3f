import { spawn } from 'node:child_process';
import { Command, Option } from 'commander';
import { describeRoles } from '../../domain/directory.js';
import { apiAction, DEFAULT_URL } from '../common.js';
import { CliError, ExitCode } from '../exit.js';
import { createApi } from '../http.js';
import { printJson, stdio, whenRelative } from '../output.js';
import { deviceLogin, fetchSignInInfo, revokeLogin } from '../sign-in.js';
import { tokenCache } from '../token-cache.js';

/** `GET /v1/me` as the CLI reads it. */
interface Me {
  id: string;
  roles: string[];
  tenantRoles: Array<{ tenant: string; role: string }>;
}

const urlOption = () => new Option('--url <url>', 'Lockbox API base URL').env('LOCKBOX_URL').default(DEFAULT_URL);
const jsonOption = () => new Option('--json', 'print the result as JSON');

/** Tries to open `url` in the person's browser; silent when there is none (the URL is printed anyway). */
function openBrowser(url: string): void {
  const [cmd, args] = process.platform === 'darwin' ? ['open', [url]] : process.platform === 'win32' ? ['cmd', ['/c', 'start', '', url]] : ['xdg-open', [url]];
  try {
    const child = spawn(cmd, args, { stdio: 'ignore', detached: true });
    child.on('error', () => undefined);
    child.unref();
  } catch {
    // No opener on this machine: the printed URL is the way.
  }
}

const secondsToText = (s: number) => (s >= 120 ? `${Math.round(s / 60)} minutes` : `${s} seconds`);
const isoOf = (authTime: number | undefined) => (authTime === undefined ? undefined : new Date(authTime * 1000).toISOString());

/** `lockbox login`: the device flow at the provider the API names; the tokens go to the user's token file. */
function loginCommand(): Command {
  const cmd = new Command('login')
    .description('sign in at the identity provider of the Lockbox API (device flow: a URL and a code to confirm in a browser)')
    .addOption(urlOption())
    .addOption(new Option('--open', 'also try to open the URL in a browser on this machine'))
    .addOption(jsonOption())
    .addHelpText('after', '\nThe tokens are saved in $XDG_CONFIG_HOME/lockbox/tokens.json (default ~/.config/lockbox), mode 0600,\nand every command then uses them for this --url. See docs/cli.md, "Signing in".');
  return cmd.action(async () => {
    const opts = cmd.opts<{ url: string; open?: boolean; json?: boolean }>();
    const api = createApi({ url: opts.url });
    const info = await fetchSignInInfo(api, opts.url);
    const login = await deviceLogin(info, (d) => {
      stdio.err(`To sign in, open ${d.verificationUri} and enter the code ${d.userCode}`);
      if (d.verificationUriComplete) stdio.err(`  (or open ${d.verificationUriComplete})`);
      stdio.err(`Waiting for you to confirm in the browser (the code expires in ${secondsToText(d.expiresInSec)})...`);
      if (opts.open) openBrowser(d.verificationUriComplete ?? d.verificationUri);
    });
    // Check the API accepts the token before keeping it: a wrong audience would otherwise show up only later.
    let me: Me;
    try {
      me = (await createApi({ url: opts.url, token: login.accessToken }).get<Me>('/v1/me')).body;
    } catch (err) {
      if (err instanceof CliError && err.exitCode === ExitCode.unauthenticated) {
        throw new CliError(`signed in at ${info.issuer}, but the Lockbox API refuses its access token (${err.message.split('\n')[0]}): the API's LOCKBOX_OIDC_AUDIENCE or the resource (LOCKBOX_OIDC_CLI_RESOURCE) does not match what the provider issues`, ExitCode.unauthenticated);
      }
      throw err;
    }
    const cache = tokenCache();
    await cache.put(opts.url, { ...login, user: me.id });
    if (opts.json) {
      printJson(stdio, { url: opts.url, user: me, authTime: isoOf(login.authTime) ?? null, expiresAt: login.expiresAt, tokenFile: cache.path });
    } else {
      stdio.out(`Signed in to ${opts.url} as ${me.id} (${describeRoles(me as Parameters<typeof describeRoles>[0])}).`);
      stdio.err(`Tokens saved in ${cache.path}.`);
    }
  });
}

/** `lockbox logout`: forgets this API's login and revokes its refresh token at the provider (best effort). */
function logoutCommand(): Command {
  const cmd = new Command('logout')
    .description('forget the saved login for the API and revoke its refresh token at the identity provider')
    .addOption(urlOption())
    .addOption(jsonOption());
  return cmd.action(async () => {
    const opts = cmd.opts<{ url: string; json?: boolean }>();
    const removed = await tokenCache().remove(opts.url);
    let revoked: boolean | string = false;
    if (removed) {
      revoked = await revokeLogin(removed).catch((err: unknown) => (err instanceof Error ? err.message : String(err)));
    }
    if (opts.json) {
      printJson(stdio, { url: opts.url, signedOut: removed !== null, revoked: revoked === true });
      return;
    }
    if (!removed) return void stdio.out(`Not signed in to ${opts.url}; nothing to do.`);
    stdio.out(`Signed out of ${opts.url}${removed.user ? ` (${removed.user})` : ''}.`);
    if (typeof revoked === 'string') stdio.err(`lockbox: warning: the refresh token could not be revoked at the identity provider (${revoked}); it is deleted here and expires there by itself.`);
  });
}

/** `lockbox whoami`: who the API says the token is, and when the saved login happened. */
function whoamiCommand(): Command {
  const cmd = new Command('whoami').description('who you are to the API: your id, your roles and when you logged in');
  return apiAction(cmd, async (ctx, opts) => {
    const saved = opts.token ? null : await tokenCache().get(opts.url).catch(() => null);
    if (!opts.token && !saved) throw new CliError(`not signed in to ${opts.url}: run lockbox login (or set LOCKBOX_TOKEN)`, ExitCode.unauthenticated);
    const me = (await ctx.api.get<Me>('/v1/me')).body;
    const authTime = isoOf(saved?.authTime);
    if (ctx.json) return void printJson(ctx.io, { ...me, authTime: authTime ?? null, via: saved ? 'login' : 'token' });
    const lines = [
      `${me.id}`,
      `  roles      ${describeRoles(me as Parameters<typeof describeRoles>[0])}`,
      saved ? `  logged in  ${authTime ? whenRelative(authTime) : 'unknown (the provider did not say)'} at ${saved.issuer}` : '  token      from --token / LOCKBOX_TOKEN',
    ];
    ctx.io.out(lines.join('\n'));
  });
}

/** `login`, `logout`, `whoami`. */
export function loginCommands(): Command[] {
  return [loginCommand(), logoutCommand(), whoamiCommand()];
}
