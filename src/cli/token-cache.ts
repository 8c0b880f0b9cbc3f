/**
 * Where `lockbox login` keeps its tokens: `$XDG_CONFIG_HOME/lockbox/tokens.json` (default `~/.config/lockbox`), one
 * entry per API URL. The file is the user's alone (mode 0600, its directory 0700) and is replaced atomically (write a
 * new file, then rename), so a crash or a second `lockbox` never leaves half a file behind.
 */
import { randomBytes } from 'node:crypto';
import { chmod, lstat, mkdir, open, readFile, rename, rm, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { CliError, ExitCode } from './exit.js';

/** One API's login: the provider and client it came from (to refresh and revoke) and the tokens. */
export interface SavedLogin {
  issuer: string;
  clientId: string;
  resource?: string;
  scopes: string[];
  /** Secret. */
  accessToken: string;
  /** Secret. Absent when the provider issued none: the login then ends with the access token. */
  refreshToken?: string;
  /** ISO-8601: when the access token expires (by this machine's clock, from `expires_in`). */
  expiresAt: string;
  /** Who logged in (the ID token's e-mail or subject), for messages. */
  user?: string;
  /** Seconds since the epoch: when the person logged in at the provider (the ID token's `auth_time`). */
  authTime?: number;
}

interface TokenFile {
  version: 1;
  logins: Record<string, SavedLogin>;
}

const FILE_MODE = 0o600;
const DIR_MODE = 0o700;

/** `~/.config/lockbox` or `$XDG_CONFIG_HOME/lockbox`. */
export function configDir(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CONFIG_HOME && env.XDG_CONFIG_HOME.startsWith('/') ? env.XDG_CONFIG_HOME : join(homedir(), '.config');
  return join(base, 'lockbox');
}

export function tokenFilePath(env: NodeJS.ProcessEnv = process.env): string {
  return join(configDir(env), 'tokens.json');
}

/** The cache key of an API URL: origin and path, no trailing slash, so `http://h:3000/` and `http://h:3000` agree. */
export function loginKey(url: string): string {
  const u = new URL(url);
  return `${u.origin}${u.pathname.replace(/\/+$/, '')}`;
}

/** Reads the file; a missing one is empty. A looser mode is fixed (with a warning on `warn`); a symlink is refused. */
async function readTokenFile(path: string, warn: (line: string) => void): Promise<TokenFile> {
  let info;
  try {
    info = await lstat(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { version: 1, logins: {} };
    throw new CliError(`cannot read ${path}: ${(err as Error).message}`, ExitCode.unexpected);
  }
  if (!info.isFile()) throw new CliError(`${path} is not a plain file (a link?): remove it and run lockbox login`, ExitCode.invalidInput);
  if (typeof process.getuid === 'function' && info.uid !== process.getuid()) {
    throw new CliError(`${path} belongs to another user: remove it and run lockbox login`, ExitCode.invalidInput);
  }
  if ((info.mode & 0o077) !== 0) {
    await chmod(path, FILE_MODE);
    warn(`lockbox: warning: ${path} was readable by others (mode ${(info.mode & 0o777).toString(8)}); it is now 0600. Its tokens may have been read: run lockbox logout, then lockbox login.`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(path, 'utf8'));
  } catch {
    throw new CliError(`${path} is not valid JSON: remove it and run lockbox login`, ExitCode.invalidInput);
  }
  const logins = (parsed as Partial<TokenFile> | null)?.logins;
  if (typeof logins !== 'object' || logins === null) throw new CliError(`${path} is not a lockbox token file: remove it and run lockbox login`, ExitCode.invalidInput);
  return { version: 1, logins: logins as Record<string, SavedLogin> };
}

/** Writes the whole file atomically, 0600, creating the directory 0700 (and tightening it if it was looser). */
async function writeTokenFile(path: string, dir: string, file: TokenFile): Promise<void> {
  await mkdir(dir, { recursive: true, mode: DIR_MODE });
  if (((await stat(dir)).mode & 0o077) !== 0) await chmod(dir, DIR_MODE);
  const tmp = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  const handle = await open(tmp, 'wx', FILE_MODE);
  try {
    await handle.writeFile(`${JSON.stringify(file, null, 2)}\n`, 'utf8');
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

/** A lock older than this was left by a process that died: taken over. */
const STALE_LOCK_MS = 30_000;

/**
 * Runs `fn` holding `<file>.lock` (exclusive create), so two commands renewing at once do not both spend the same
 * refresh token: providers that rotate refresh tokens treat the second use as theft and end the login.
 */
async function withLock<T>(path: string, dir: string, fn: () => Promise<T>): Promise<T> {
  const lock = `${path}.lock`;
  await mkdir(dir, { recursive: true, mode: DIR_MODE });
  const deadline = Date.now() + 20_000;
  for (;;) {
    try {
      await (await open(lock, 'wx', FILE_MODE)).close();
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const age = await stat(lock).then((i) => Date.now() - i.mtimeMs, () => 0);
      if (age > STALE_LOCK_MS) await rm(lock, { force: true });
      else if (Date.now() > deadline) throw new CliError(`${lock} is held by another lockbox for too long; if none is running, remove it`, ExitCode.unexpected);
      else await new Promise((r) => setTimeout(r, 100));
    }
  }
  try {
    return await fn();
  } finally {
    await rm(lock, { force: true });
  }
}

/** The token cache of one user (one config directory). */
export function tokenCache(opts: { env?: NodeJS.ProcessEnv; warn?: (line: string) => void } = {}) {
  const env = opts.env ?? process.env;
  const warn = opts.warn ?? ((line: string) => void process.stderr.write(`${line}\n`));
  const path = tokenFilePath(env);
  const dir = configDir(env);
  return {
    path,
    /** The login saved for this API URL, or null. */
    async get(url: string): Promise<SavedLogin | null> {
      return (await readTokenFile(path, warn)).logins[loginKey(url)] ?? null;
    },
    /** Runs `fn` while no other lockbox process changes the file through `locked` (renewals). */
    locked: <T>(fn: () => Promise<T>) => withLock(path, dir, fn),
    async put(url: string, login: SavedLogin): Promise<void> {
      const file = await readTokenFile(path, warn);
      file.logins[loginKey(url)] = login;
      await writeTokenFile(path, dir, file);
    },
    /** Removes this API URL's login; returns what was there. The file goes when its last login does. */
    async remove(url: string): Promise<SavedLogin | null> {
      const file = await readTokenFile(path, warn);
      const key = loginKey(url);
      const found = file.logins[key] ?? null;
      if (!found) return null;
      delete file.logins[key];
      if (Object.keys(file.logins).length === 0) await rm(path, { force: true });
      else await writeTokenFile(path, dir, file);
      return found;
    },
  };
}
export type TokenCache = ReturnType<typeof tokenCache>;
