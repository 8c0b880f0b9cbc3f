/**
 * Structured logs: JSON lines on stderr through pino, `{"level":"info","time":"...","component":"...","msg":"...",...}`.
 * Callers never pass secrets in `fields`; as a second line of defence, fields with a secret's name are redacted
 * wherever they sit (top level or one object down), unless they hold only a flag (true/false) or nothing.
 */
import { pino } from 'pino';

export interface Logger {
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

/** Field names that hold secrets, never written: their value becomes "[redacted]". */
export const SECRET_FIELDS = [
  'password',
  'secret',
  'secretKey',
  'token',
  'accessToken',
  'refreshToken',
  'idToken',
  'apiKey',
  'authorization',
  'cookie',
  'credential',
  'credentials',
  'privateKey',
  'clientSecret',
] as const;

/**
 * A logger for one component (`lockbox`, `lockbox-api`, `lockbox-worker`). `quiet`: warnings and errors only.
 * `destination`: a file descriptor or stream to write to (default stderr, written synchronously so nothing is lost
 * when the process exits right after).
 */
export function createLogger(component: string, opts: { quiet?: boolean; destination?: number | NodeJS.WritableStream } = {}): Logger {
  const destination = typeof opts.destination === 'object' ? opts.destination : pino.destination({ fd: opts.destination ?? 2, sync: true });
  const log = pino(
    {
      level: opts.quiet ? 'warn' : 'info',
      base: { component },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      // A flag (`apiKey: true`: one is configured) or an absent value says nothing secret: kept.
      redact: { paths: SECRET_FIELDS.flatMap((f) => [f, `*.${f}`]), censor: (value) => (typeof value === 'boolean' || value == null ? value : '[redacted]') },
    },
    destination,
  );
  return {
    info: (msg, fields) => log.info(fields ?? {}, msg),
    warn: (msg, fields) => log.warn(fields ?? {}, msg),
    error: (msg, fields) => log.error(fields ?? {}, msg),
  };
}
