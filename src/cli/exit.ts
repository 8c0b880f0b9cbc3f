/**
 * Exit codes scripts can rely on (docs/cli.md lists them). Stable: a code never changes meaning; new outcomes get
 * new numbers.
 */
export const ExitCode = {
  ok: 0,
  /** A bug, a 5xx from the API, an answer that is not the API's: anything not covered below. */
  unexpected: 1,
  /** Bad command line (commander's errors), or a feature the API does not offer. */
  usage: 2,
  /** 401: no token, or the token is not valid; `login` refused or expired, a saved login that cannot be renewed. */
  unauthenticated: 3,
  /** 403: signed in, but not allowed. */
  forbidden: 4,
  /** 404: no such request (or one the caller may not see), tenant or route. */
  notFound: 5,
  /** 409 / 412: the state changed (not pending any more, settings changed since read). */
  conflict: 6,
  /** 400 / 413 / 415 / 422, or a local input (file) that cannot be used. */
  invalidInput: 7,
  /** The API (or, signing in, the identity provider) did not answer at all (connection refused, DNS, timeout). */
  unreachable: 8,
  /** `--wait`: the request ended without access (rejected, expired, cancelled, failed). */
  endedWithoutAccess: 9,
  /** `--wait`: still pending when `--timeout` ran out (the request itself goes on). */
  waitTimedOut: 10,
  /** `audit verify`: the hash chain is broken (an event edited, deleted, reordered or inserted). */
  chainBroken: 11,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** An error the CLI reports in words (never a stack trace) and ends with `exitCode`. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCode,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/** The exit code for an HTTP error status. */
export function exitCodeForStatus(status: number): ExitCode {
  switch (status) {
    case 401:
      return ExitCode.unauthenticated;
    case 403:
      return ExitCode.forbidden;
    case 404:
      return ExitCode.notFound;
    case 409:
    case 412:
      return ExitCode.conflict;
    case 400:
    case 413:
    case 415:
    case 422:
      return ExitCode.invalidInput;
    default:
      return ExitCode.unexpected;
  }
}
