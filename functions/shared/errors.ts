/**
 * Domain errors: each carries a code (the contract's `error.code`), a message and, for bad input,
 * the failing fields. They know nothing of HTTP: the API's edge (functions/handlers/http/errors.ts)
 * picks each code's status and renders the contract's error shape; the bus intake and the batch
 * route classify them by type.
 */
/** Every error code the API can answer with (besides `internal`, the unknown error's). */
export type ErrorCode =
  | 'validation_failed'
  | 'headers_too_large'
  | 'malformed_json'
  | 'unauthorized'
  | 'forbidden'
  | 'not_found'
  | 'method_not_allowed'
  | 'conflict'
  | 'payload_too_large'
  | 'unsupported_media_type'
  | 'unprocessable'
  | 'rate_limited';

export interface ErrorDetail {
  path: string;
  message: string;
}

export abstract class DomainError extends Error {
  abstract readonly code: ErrorCode;
  readonly details: ErrorDetail[] | undefined;

  constructor(message: string, details?: ErrorDetail[]) {
    super(message);
    this.name = new.target.name;
    this.details = details;
  }
}

/** The request is malformed or fails validation; `details` names each failing field. */
export class ValidationError extends DomainError {
  readonly code = 'validation_failed' as const;
}

/** The request line and headers together are over API Gateway's 10 KB. */
export class HeadersTooLargeError extends DomainError {
  readonly code = 'headers_too_large' as const;
}

/** The body is not parseable JSON. */
export class MalformedJsonError extends DomainError {
  readonly code = 'malformed_json' as const;
}

export class UnauthorizedError extends DomainError {
  readonly code = 'unauthorized' as const;
}

export class ForbiddenError extends DomainError {
  readonly code = 'forbidden' as const;
}

export class NotFoundError extends DomainError {
  readonly code = 'not_found' as const;
}

/** A known path asked with a method it does not take; `allow` is what the edge sends as Allow. */
export class MethodNotAllowedError extends DomainError {
  readonly code = 'method_not_allowed' as const;
  constructor(
    message: string,
    readonly allow: readonly string[] = [],
  ) {
    super(message);
  }
}

export class ConflictError extends DomainError {
  readonly code = 'conflict' as const;
}

/**
 * An event id another request is storing right now (or died storing a moment ago): a conflict to
 * an API caller, who retries; a bus event waits and is tried again rather than dead-lettered.
 */
export class IdInUseError extends ConflictError {}

export class PayloadTooLargeError extends DomainError {
  readonly code = 'payload_too_large' as const;
}

export class UnsupportedMediaTypeError extends DomainError {
  readonly code = 'unsupported_media_type' as const;
}

/** Well-formed, but refers to something that cannot be used (e.g. a forbidden destination). */
export class UnprocessableError extends DomainError {
  readonly code = 'unprocessable' as const;
}

/** Too many calls from one caller; the edge sends `retryAfterS` as the Retry-After header. */
export class TooManyRequestsError extends DomainError {
  readonly code = 'rate_limited' as const;
  constructor(
    message: string,
    readonly retryAfterS: number,
  ) {
    super(message);
  }
}
