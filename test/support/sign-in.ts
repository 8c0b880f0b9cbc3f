/**
 * Signing in at the stack's demo OpenID provider without a browser: the same redirects a browser follows, with a
 * tiny cookie jar (per host:port, as these tests need), so API tests can get a real session cookie and its CSRF token.
 */
import { DEMO_PASSWORD } from '../../src/dev/demo-sign-in.js';

/** Cookies by origin (host:port); enough for 127.0.0.1 servers that set no Domain. */
export class CookieJar {
  private readonly jars = new Map<string, Map<string, string>>();
  header(url: string): string {
    return [...(this.jars.get(new URL(url).host) ?? new Map<string, string>()).entries()].map(([k, v]) => `${k}=${v}`).join('; ');
  }
  take(url: string, res: Response): void {
    const host = new URL(url).host;
    const jar = this.jars.get(host) ?? new Map<string, string>();
    this.jars.set(host, jar);
    for (const line of res.headers.getSetCookie()) {
      const [pair = ''] = line.split(';');
      const i = pair.indexOf('=');
      const name = pair.slice(0, i).trim();
      const value = pair.slice(i + 1).trim();
      if (/max-age=0/i.test(line) || value === '') jar.delete(name);
      else jar.set(name, value);
    }
  }
  get(url: string, name: string): string | undefined {
    return this.jars.get(new URL(url).host)?.get(name);
  }
}

/** One request with the jar's cookies, no redirect followed. */
export async function send(jar: CookieJar, url: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  const cookie = jar.header(url);
  if (cookie) headers.set('cookie', cookie);
  const res = await fetch(url, { ...init, headers, redirect: 'manual' });
  jar.take(url, res);
  return res;
}

/** Follows redirects from `url` until a page answers (not 3xx); returns it and the URL it came from. */
export async function follow(jar: CookieJar, url: string, init: RequestInit = {}): Promise<{ res: Response; url: string }> {
  let res = await send(jar, url, init);
  for (let i = 0; i < 10 && res.status >= 300 && res.status < 400; i++) {
    url = new URL(res.headers.get('location') ?? '/', url).href;
    res = await send(jar, url);
  }
  return { res, url };
}

/** Starts a sign-in at the API, logs in at the provider's form; returns the jar (holding the session) and the CSRF token. */
export async function signInOverHttp(apiUrl: string, login: string, opts: { returnTo?: string; password?: string; jar?: CookieJar } = {}) {
  const jar = opts.jar ?? new CookieJar();
  const start = `${apiUrl}/auth/login${opts.returnTo ? `?returnTo=${encodeURIComponent(opts.returnTo)}` : ''}`;
  const form = await follow(jar, start);
  if (!/\/interaction\//.test(form.url)) throw new Error(`expected the provider's login form, got ${form.res.status} ${form.url}`);
  await form.res.text();
  const done = await follow(jar, form.url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ login, password: opts.password ?? DEMO_PASSWORD }).toString(),
  });
  await done.res.text();
  const session = (await (await send(jar, `${apiUrl}/auth/session`)).json()) as { signedIn: boolean; csrfToken?: string; authTime?: string; amr?: string[] };
  return { jar, landedOn: done.url, session };
}
