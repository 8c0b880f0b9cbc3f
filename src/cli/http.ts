import { CliError, ExitCode, exitCodeForStatus } from './exit.js';

/** Where the API is and who we are. */
export interface Connection {
  url: string;
  token?: string;
  /** The token is the one `lockbox login` saved (for the hint when the API refuses it). */
  fromLogin?: boolean;
}

/** One invalid field of a validation problem. */
interface FieldError {
  field?: string;
  message?: string;
}

/** An RFC 9457 problem as the API sends it; every member optional, since a proxy may answer instead. */
export interface ProblemBody {
  type?: string;
  title?: string;
  status?: number;
  detail?: string;
  errors?: FieldError[];
}

/** A non-2xx answer, in words; `body` is the raw answer (for `--json`). */
export class ApiError extends CliError {
  constructor(
    readonly status: number,
    readonly body: unknown,
    message: string,
  ) {
    super(message, exitCodeForStatus(status));
    this.name = 'ApiError';
  }

  get problem(): ProblemBody {
    return typeof this.body === 'object' && this.body !== null ? (this.body as ProblemBody) : {};
  }
}

/** Answers slower than this count as "unreachable": an approve waits for the grant, so be generous. */
const CALL_TIMEOUT_MS = 60_000;

/** A problem in words: title, status, detail, then each invalid field on its own line. */
export function describeProblem(status: number, body: unknown, conn: Connection): string {
  if (typeof body !== 'object' || body === null) {
    const text = typeof body === 'string' ? body.trim().slice(0, 200) : '';
    return `the API answered HTTP ${status}${text ? `: ${text}` : ''}`;
  }
  const p = body as ProblemBody;
  const head = `${p.title ?? 'Error'} (HTTP ${status})`;
  const fields = (p.errors ?? []).map((e) => `  ${e.field ?? '(body)'}: ${e.message ?? 'is not valid'}`);
  const lines = fields.length > 0 ? [`${head}:`, ...fields] : [`${head}: ${p.detail ?? 'no details given'}`];
  if (status === 401 && !conn.token) lines.push('  (not signed in: run lockbox login, or set LOCKBOX_TOKEN or pass --token)');
  else if (status === 401 && conn.fromLogin) lines.push('  (the API refused your saved login: run lockbox login)');
  return lines.join('\n');
}

/** The low-level cause of a failed fetch (ECONNREFUSED, ENOTFOUND, ...), for the message. */
function causeOf(err: unknown): string {
  if (err instanceof Error && err.name === 'TimeoutError') return `no answer within ${CALL_TIMEOUT_MS / 1000}s`;
  const cause = err instanceof Error ? (err.cause as { code?: string; message?: string } | undefined) : undefined;
  return cause?.code ?? cause?.message ?? (err instanceof Error ? err.message : String(err));
}

/** A tiny client for the Lockbox HTTP API: JSON in, JSON out, problems turned into ApiError. */
export function createApi(conn: Connection) {
  let base: URL;
  try {
    base = new URL(conn.url);
  } catch {
    throw new CliError(`--url / LOCKBOX_URL is not a URL: ${conn.url}`, ExitCode.usage);
  }

  async function call<T = unknown>(
    method: string,
    path: string,
    init: { body?: unknown; query?: Record<string, string | undefined>; headers?: Record<string, string>; raw?: boolean } = {},
  ): Promise<{ body: T; headers: Headers; status: number }> {
    const url = new URL(path.replace(/^\//, ''), base.href.endsWith('/') ? base : `${base.href}/`);
    for (const [k, v] of Object.entries(init.query ?? {})) if (v !== undefined) url.searchParams.set(k, v);
    const headers: Record<string, string> = { accept: 'application/json', ...init.headers };
    if (conn.token) headers.authorization = `Bearer ${conn.token}`;
    if (init.body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await fetch(url, {
        method,
        headers,
        body: init.body === undefined ? undefined : JSON.stringify(init.body),
        signal: AbortSignal.timeout(CALL_TIMEOUT_MS),
      });
    } catch (err) {
      throw new CliError(`cannot reach the Lockbox API at ${base.origin} (${causeOf(err)})`, ExitCode.unreachable);
    }
    const text = await res.text();
    let body: unknown = text;
    try {
      body = text ? JSON.parse(text) : null;
    } catch {
      // Not JSON: a proxy or another server; reported as text below.
    }
    if (!res.ok) throw new ApiError(res.status, body, describeProblem(res.status, body, conn));
    if (init.raw) return { body: text as T, headers: res.headers, status: res.status };
    if (typeof body !== 'object' || body === null) {
      throw new CliError(`${method} ${url.pathname} answered HTTP ${res.status} without a JSON body: is ${base.origin} a Lockbox API?`, ExitCode.unexpected);
    }
    return { body: body as T, headers: res.headers, status: res.status };
  }

  return {
    get: <T = unknown>(path: string, query?: Record<string, string | undefined>) => call<T>('GET', path, { query }),
    /** A body that is not JSON (CSV, HTML), as text. */
    getText: (path: string, query?: Record<string, string | undefined>) => call<string>('GET', path, { query, raw: true, headers: { accept: '*/*' } }),
    post: <T = unknown>(path: string, body: unknown, headers?: Record<string, string>) => call<T>('POST', path, { body, headers }),
    put: <T = unknown>(path: string, body: unknown, headers?: Record<string, string>) => call<T>('PUT', path, { body, headers }),
  };
}
export type Api = ReturnType<typeof createApi>;

/** Encodes one path segment (ids come from the command line). */
export const seg = (s: string) => encodeURIComponent(s);
