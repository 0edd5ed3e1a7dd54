/**
 * Where an error becomes an HTTP answer, and the only place: each domain error's code picks its
 * status here, and the answer takes the contract's shape
 * `{"error": {"code", "message", "details"?}}`. Anything unknown is a 500 with a generic message
 * and the request id; its cause is logged, never sent.
 */
import {
  DomainError,
  MethodNotAllowedError,
  NotFoundError,
  TooManyRequestsError,
  type ErrorCode,
} from '../../shared/errors';
import type { Mw } from './middleware';
import { json } from './respond';

/** The HTTP status of each domain error's code. */
export const STATUS: Record<ErrorCode, number> = {
  validation_failed: 400,
  headers_too_large: 400,
  malformed_json: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  method_not_allowed: 405,
  conflict: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  unprocessable: 422,
  rate_limited: 429,
};

interface Log {
  error(message: string, extra: Record<string, unknown>): void;
}

/** Maps errors to the contract's shape; anything unknown is a 500 whose cause is logged, never sent. */
export function errorMapper(log: Log): Mw {
  return {
    onError: (request) => {
      const err = request.error;
      const requestId = request.event.requestContext?.requestId ?? request.context?.awsRequestId;
      if (err instanceof DomainError) {
        const body: Record<string, unknown> = { code: err.code, message: err.message };
        if (err.details && err.details.length > 0) body.details = err.details;
        const headers: Record<string, string> =
          err instanceof TooManyRequestsError ? { 'retry-after': String(err.retryAfterS) } : {};
        if (err instanceof MethodNotAllowedError && err.allow.length > 0) headers.allow = err.allow.join(', ');
        request.response = json(STATUS[err.code], { error: body }, headers);
        return;
      }
      // middy's own HTTP errors (the router's "no such route") carry a status below 500.
      const status = (err as { statusCode?: unknown } | null)?.statusCode;
      if (status === 404) {
        const e = new NotFoundError(
          `no route for ${request.event.requestContext.http.method} ${request.event.rawPath}`,
        );
        request.response = json(STATUS[e.code], { error: { code: e.code, message: e.message } });
        return;
      }
      if (status === 405) {
        const e = new MethodNotAllowedError(`method ${request.event.requestContext.http.method} not allowed here`);
        request.response = json(STATUS[e.code], { error: { code: e.code, message: e.message } });
        return;
      }
      log.error('unhandled error', { error: err, requestId });
      request.response = json(500, { error: { code: 'internal', message: `internal error (request ${requestId})` } });
    },
  };
}
