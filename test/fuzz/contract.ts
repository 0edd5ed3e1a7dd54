/**
 * The contract every API answer must keep, whatever the request: never a 5xx; a 2xx carries JSON
 * (or nothing, for 204); anything else carries exactly
 * `{"error": {"code": string, "message": string, "details"?: [{"path": string, "message": string}]}}`
 * and nothing that looks like a stack trace or an AWS message.
 */

/** The contract's statuses, and 405 (with Allow) for a method a served path does not take (issue 22). */
export const CONTRACT_STATUSES = [400, 401, 403, 404, 405, 409, 413, 415, 422, 429] as const;

/** Text that only an internal error would put in a response. */
const LEAKS: RegExp[] = [
  /\n\s+at\s/, // a stack frame
  /\bat .*\.(ts|js|mjs):\d+/,
  /node_modules/,
  /\/work\/|\/var\/task|file:\/\//,
  /ValidationException|ResourceNotFoundException|ConditionalCheckFailed|ThrottlingException|AccessDenied/,
  /\b(TypeError|RangeError|ReferenceError|SyntaxError|URIError)\b/,
  /Maximum call stack/,
  /\$metadata/,
];

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Why `body` is not the contract's error shape, or undefined when it is. */
export function errorShapeProblem(body: unknown): string | undefined {
  if (!isObject(body)) return 'the body is not a JSON object';
  const keys = Object.keys(body);
  if (keys.length !== 1 || keys[0] !== 'error')
    return `the body has keys [${keys.join(', ')}], expected exactly [error]`;
  const error = body.error;
  if (!isObject(error)) return 'error is not an object';
  const extra = Object.keys(error).filter((k) => !['code', 'message', 'details'].includes(k));
  if (extra.length > 0) return `error has unexpected keys [${extra.join(', ')}]`;
  if (typeof error.code !== 'string' || error.code === '') return 'error.code is not a non-empty string';
  if (typeof error.message !== 'string' || error.message === '') return 'error.message is not a non-empty string';
  if ('details' in error) {
    if (!Array.isArray(error.details)) return 'error.details is present but not an array';
    for (const [i, d] of error.details.entries()) {
      if (!isObject(d)) return `error.details[${i}] is not an object`;
      const dk = Object.keys(d).sort().join(',');
      if (dk !== 'message,path') return `error.details[${i}] has keys [${dk}], expected exactly [message, path]`;
      if (typeof d.path !== 'string' || typeof d.message !== 'string')
        return `error.details[${i}] path/message are not strings`;
    }
  }
  return undefined;
}

/** Why a response breaks the contract, or undefined when it keeps it. */
export function contractProblem(res: { status: number; body: string; method: string }): string | undefined {
  const { status, body } = res;
  if (status >= 500) return `a ${status}: ${body.slice(0, 500)}`;
  if (status < 200) return `status ${status}`;
  for (const leak of LEAKS) if (leak.test(body)) return `the body leaks internals (${leak}): ${body.slice(0, 500)}`;
  if (status === 204) return body === '' ? undefined : 'a 204 with a body';
  // API Gateway drops the body of an answer to HEAD; the function may still have written one.
  if (res.method.toUpperCase() === 'HEAD' && body === '') return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return `a ${status} whose body is not JSON: ${body.slice(0, 200)}`;
  }
  if (status >= 200 && status < 300) return undefined;
  if (!(CONTRACT_STATUSES as readonly number[]).includes(status))
    return `status ${status} is not one the contract allows`;
  const shape = errorShapeProblem(parsed);
  return shape === undefined ? undefined : `a ${status} not in the error shape (${shape}): ${body.slice(0, 300)}`;
}
