/**
 * The portal's only way to the API: same origin, `Authorization: Bearer <token>` from this tab's sessionStorage
 * (never a cookie, never the URL, never localStorage). Problems (RFC 9457) become `ApiError`s that keep `detail` and
 * the field errors, so the page can say what went wrong in words.
 */

const TOKEN_KEY = 'lockbox.token';

export const session = {
  get token() {
    return sessionStorage.getItem(TOKEN_KEY);
  },
  set token(value) {
    if (value) sessionStorage.setItem(TOKEN_KEY, value);
    else sessionStorage.removeItem(TOKEN_KEY);
  },
};

/** A refused or failed call: `status` 0 when the API could not be reached. */
export class ApiError extends Error {
  /**
   * @param {number} status
   * @param {string} title
   * @param {string} detail
   * @param {Array<{ field: string, pointer: string, message: string }>} [errors]
   */
  constructor(status, title, detail, errors = []) {
    super(detail || title);
    this.status = status;
    this.title = title;
    this.detail = detail;
    this.errors = errors;
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

/**
 * `call('POST', '/v1/requests', { body })` -> `{ body, headers }`, or throws ApiError.
 * @param {string} method
 * @param {string} path
 * @param {{ body?: unknown, headers?: Record<string, string>, token?: string | null, auth?: boolean }} [opts]
 */
export async function call(method, path, opts = {}) {
  const headers = { accept: 'application/json, application/problem+json', ...opts.headers };
  const token = opts.token !== undefined ? opts.token : session.token;
  if (opts.auth !== false && token) headers.authorization = `Bearer ${token}`;
  let body;
  if (opts.body !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(opts.body);
  }
  let res;
  try {
    res = await fetch(path, { method, headers, body, cache: 'no-store', credentials: 'omit', redirect: 'error' });
  } catch (err) {
    throw new ApiError(0, 'Network error', err instanceof Error ? err.message : String(err));
  }
  const text = await res.text();
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
    );
    if (res.status === 401 && opts.token === undefined) onUnauthorized(err);
    throw err;
  }
  return { body: data, headers: res.headers };
}

export const get = (path, opts) => call('GET', path, opts).then((r) => r.body);
export const post = (path, body = {}, opts = {}) => call('POST', path, { ...opts, body }).then((r) => r.body);
