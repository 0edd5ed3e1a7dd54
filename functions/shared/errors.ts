/**
 * Domain errors carry their own code and HTTP status; one mapper at the edge
 * (functions/handlers/http/errors.ts) renders them as the contract's error shape.
 */
export interface ErrorDetail {
  path: string;
  message: string;
}

export abstract class DomainError extends Error {
  abstract readonly status: number;
  abstract readonly code: string;
  readonly details: ErrorDetail[] | undefined;

  constructor(message: string, details?: ErrorDetail[]) {
    super(message);
    this.name = new.target.name;
    this.details = details;
  }
}

/** 400: the request is malformed or fails validation; `details` names each failing field. */
export class ValidationError extends DomainError {
  readonly status = 400;
  readonly code = 'validation_failed';
}

/** 400: the request line and headers together are over API Gateway's 10 KB. */
export class HeadersTooLargeError extends DomainError {
  readonly status = 400;
  readonly code = 'headers_too_large';
}

/** 400: the body is not parseable JSON. */
export class MalformedJsonError extends DomainError {
  readonly status = 400;
  readonly code = 'malformed_json';
}

export class UnauthorizedError extends DomainError {
  readonly status = 401;
  readonly code = 'unauthorized';
}

export class ForbiddenError extends DomainError {
  readonly status = 403;
  readonly code = 'forbidden';
}

export class NotFoundError extends DomainError {
  readonly status = 404;
  readonly code = 'not_found';
}

export class MethodNotAllowedError extends DomainError {
  readonly status = 405;
  readonly code = 'method_not_allowed';
}

export class ConflictError extends DomainError {
  readonly status = 409;
  readonly code = 'conflict';
}

/**
 * An event id another request is storing right now (or died storing a moment ago): a 409 to an
 * API caller, who retries; a bus event waits and is tried again rather than dead-lettered.
 */
export class IdInUseError extends ConflictError {}

export class PayloadTooLargeError extends DomainError {
  readonly status = 413;
  readonly code = 'payload_too_large';
}

export class UnsupportedMediaTypeError extends DomainError {
  readonly status = 415;
  readonly code = 'unsupported_media_type';
}

/** 422: well-formed, but refers to something that cannot be used (e.g. a forbidden destination). */
export class UnprocessableError extends DomainError {
  readonly status = 422;
  readonly code = 'unprocessable';
}

/** 429: too many calls from one caller; `retryAfterS` becomes the Retry-After header. */
export class TooManyRequestsError extends DomainError {
  readonly status = 429;
  readonly code = 'rate_limited';
  constructor(
    message: string,
    readonly retryAfterS: number,
  ) {
    super(message);
  }
}
