/**
 * The bearer token an API command uses when none is given (`--token`, `LOCKBOX_TOKEN`): the one `lockbox login`
 * saved for this API URL, renewed with the refresh token when it has less than a minute left.
 */
import { CliError, ExitCode } from './exit.js';
import { REFRESH_MARGIN_MS, refreshLogin } from './sign-in.js';
import { tokenCache, type SavedLogin, type TokenCache } from './token-cache.js';

/** The saved login's access token for `url`, fresh; undefined when nobody logged in there. */
export async function savedAccessToken(url: string, cache: TokenCache = tokenCache()): Promise<string | undefined> {
  let login: SavedLogin | null;
  try {
    login = await cache.get(url);
  } catch (err) {
    // A URL that does not parse is reported by the API client, in its words.
    if (err instanceof TypeError) return undefined;
    throw err;
  }
  if (!login) return undefined;
  if (fresh(login)) return login.accessToken;
  return cache.locked(async () => {
    // Another lockbox may have renewed it while this one waited for the lock.
    const current = await cache.get(url);
    if (!current) throw new CliError(`not signed in to ${url} any more (logged out meanwhile): run lockbox login`, ExitCode.unauthenticated);
    if (fresh(current)) return current.accessToken;
    let renewed: SavedLogin;
    try {
      renewed = await refreshLogin(current);
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      const code = err instanceof CliError && err.exitCode === ExitCode.unreachable ? ExitCode.unreachable : ExitCode.unauthenticated;
      throw new CliError(`could not renew your login at ${url}: ${why}${why.includes('lockbox login') ? '' : '; run lockbox login'}`, code);
    }
    await cache.put(url, renewed);
    return renewed.accessToken;
  });
}

const fresh = (login: SavedLogin) => Date.parse(login.expiresAt) - Date.now() > REFRESH_MARGIN_MS;
