/** Typed outcomes of client calls that the API maps to problem+json. */
export class RequestNotFoundError extends Error {
  constructor(readonly requestId: string) {
    super(`request ${requestId} not found`);
  }
}

/** The decision was refused by the request's rules: `conflict` -> 409, `forbidden` -> 403. */
export class DecisionRefusedError extends Error {
  constructor(
    readonly kind: 'conflict' | 'forbidden',
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** A request id that a workflow run already used and closed: it is never run again. */
export class RequestIdUsedError extends Error {
  constructor(readonly requestId: string) {
    super(`request ${requestId} already ran and ended; it is never started again`);
  }
}
