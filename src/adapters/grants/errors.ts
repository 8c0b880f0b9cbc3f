/**
 * Errors of grant providers. Their messages are written here, never copied from a driver or an HTTP body, so they
 * cannot carry a password, a signing secret or a connection URL into logs, audit events or workflow history.
 * They carry no `cause` for the same reason: Temporal serialises the cause chain into history.
 */

/**
 * A grant-target failure that may heal on its own (target down, timeout, 5xx): the activity should retry it.
 * `code` is the target's own error code when there is one (a PostgreSQL SQLSTATE, an HTTP status).
 */
export class GrantTargetError extends Error {
  override name = 'GrantTargetError';
  /** Read by callers that map errors to Temporal failures; false here, true on NonRetryableGrantError. */
  readonly nonRetryable: boolean = false;
  constructor(
    message: string,
    readonly code?: string,
  ) {
    super(message);
  }
}

/**
 * A failure that retrying cannot fix (bad configuration, missing schema, 4xx from a webhook, no grant to extend).
 * Its `name` is stable so a Temporal retry policy can list it in `nonRetryableErrorTypes`.
 */
export class NonRetryableGrantError extends GrantTargetError {
  override name = 'NonRetryableGrantError';
  override readonly nonRetryable: boolean = true;
}

/** Replaces every occurrence of each secret in `text`; a last line of defence, not the main one. */
export function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) if (s.length >= 4) out = out.split(s).join('***');
  return out;
}

/** Grant windows are whole, positive milliseconds; anything else is a caller bug that retrying cannot fix. */
export function checkDuration(provider: string, durationMs: number): void {
  if (!Number.isSafeInteger(durationMs) || durationMs <= 0) {
    throw new NonRetryableGrantError(`${provider} grant provider: durationMs must be a positive integer`);
  }
}
