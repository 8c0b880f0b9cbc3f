/**
 * The portal's only way to the API: same origin, either the server-side session (an HttpOnly cookie the page never
 * sees, plus the session's CSRF token in `X-CSRF-Token` on every call that changes something) after signing in at the
 * identity provider, or `Authorization: Bearer <token>` from this tab's sessionStorage (pasted demo tokens; never the
 * URL, never localStorage). Problems (RFC 9457) become `ApiError`s that keep `detail` and the field errors, so the
 * page can say what went wrong in words.
 */

const TOKEN_KEY = 'lockbox.token';
const SAFE = new Set(['GET', 'HEAD']);

export const session = {
  get token() {
    return sessionStorage.getItem(TOKEN_KEY);
  },
  set token(value) {
    if (value) sessionStorage.setItem(TOKEN_KEY, value);
    else sessionStorage.removeItem(TOKEN_KEY);
  },
  /** The signed-in session's CSRF token (from GET /auth/session), in memory only; null without a session. */
  csrf: /** @type {string | null} */ (null),
};

/** A refused or failed call: `status` 0 when the API could not be reached. */
export class ApiError extends Error {
  /**
   * @param {number} status
   * @param {string} title
   * @param {string} detail
   * @param {Array<{ field: string, pointer: string, message: string }>} [errors]
   */
  constructor(status, title, detail, errors = [], type = '', loginUrl = '') {
    super(detail || title);
    this.status = status;
    this.title = title;
    this.detail = detail;
    this.errors = errors;
    /** The problem's type URI, e.g. https://lockbox.dev/problems/step-up-required. */
    this.type = type;
    /** For `step-up-required`: where to sign in again (same origin), coming back to this page. */
    this.loginUrl = loginUrl;
  }

  get stepUp() {
    return this.status === 401 && this.type.endsWith('/step-up-required') && this.loginUrl.startsWith('/auth/login');
  }

  /** One sentence for people: the API's own words, or what we know. */
  get words() {
    if (this.status === 0) return `The Lockbox API cannot be reached (${this.detail}). Check your connection; the page keeps trying.`;
    return this.detail ? `${this.title}: ${this.detail}` : this.title;
  }
}

/** Called when the API says the token is not (or no longer) valid. */
let onUnauthorized = () => {};
export function whenUnauthorized(fn) {
  onUnauthorized = fn;
}

/** Called when a decision needs a fresh login (step-up): with the problem, whose `loginUrl` comes back here. */
let onStepUp = () => {};
export function whenStepUpRequired(fn) {
  onStepUp = fn;
}

/**
 * `call('POST', '/v1/requests', { body })` -> `{ body, headers }`, or throws ApiError.
 * @param {string} method
 * @param {string} path
 * @param {{ body?: unknown, headers?: Record<string, string>, token?: string | null, auth?: boolean, cookie?: boolean, text?: boolean }} [opts]
 *   `text`: a successful answer's body as text (a page), not parsed as JSON
 */
export async function call(method, path, opts = {}) {
  const headers = { accept: 'application/json, application/problem+json', ...opts.headers };
  const token = opts.token !== undefined ? opts.token : session.token;
  if (opts.auth !== false && token) headers.authorization = `Bearer ${token}`;
  else if (opts.auth !== false && session.csrf && !SAFE.has(method)) headers['x-csrf-token'] = session.csrf;
  let body;
  if (opts.body !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(opts.body);
  }
  let res;
  try {
    // The session cookie goes along only with calls meant to use it (never with a pasted token's calls).
    const credentials = opts.cookie === true || (opts.auth !== false && !token && session.csrf) ? 'same-origin' : 'omit';
    res = await fetch(path, { method, headers, body, cache: 'no-store', credentials, redirect: 'error' });
  } catch (err) {
    throw new ApiError(0, 'Network error', err instanceof Error ? err.message : String(err));
  }
  const text = await res.text();
  if (opts.text && res.ok) return { body: text, headers: res.headers };
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!res.ok) {
    const p = data && typeof data === 'object' ? data : {};
    const err = new ApiError(
      res.status,
      typeof p.title === 'string' ? p.title : `HTTP ${res.status}`,
      typeof p.detail === 'string' ? p.detail : text.slice(0, 200),
      Array.isArray(p.errors) ? p.errors : [],
      typeof p.type === 'string' ? p.type : '',
      typeof p.loginUrl === 'string' ? p.loginUrl : '',
    );
    if (err.stepUp) onStepUp(err);
    else if (res.status === 401 && opts.token === undefined) onUnauthorized(err);
    throw err;
  }
  return { body: data, headers: res.headers };
}

export const get = (path, opts) => call('GET', path, opts).then((r) => r.body);
export const post = (path, body = {}, opts = {}) => call('POST', path, { ...opts, body }).then((r) => r.body);
/** A page the API renders (the evidence pack as HTML), as text; a refusal is still an ApiError with its problem. */
export const getText = (path) => call('GET', path, { text: true, headers: { accept: 'text/html, application/problem+json' } }).then((r) => /** @type {string} */ (r.body));
