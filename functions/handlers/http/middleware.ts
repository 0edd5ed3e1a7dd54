/**
 * The API's middleware, applied once around every route: authentication, the header limit, the
 * portal's rate limit, and JSON body parsing. Errors become HTTP answers in ./errors.ts alone.
 */
import type { MiddlewareObj } from '@middy/core';
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import {
  HeadersTooLargeError,
  MalformedJsonError,
  MethodNotAllowedError,
  PayloadTooLargeError,
  TooManyRequestsError,
  UnsupportedMediaTypeError,
  ValidationError,
} from '../../shared/errors';
import type { Principal } from '../../access/keys';
import { LIMITS } from '../../api/schemas';
import { type HttpResult } from './respond';

export type Mw = MiddlewareObj<ApiEvent, HttpResult, Error, Context>;

/** The API Gateway event with what the middleware adds: the parsed JSON body and the caller. */
export type ApiEvent = APIGatewayProxyEventV2 & { jsonBody?: unknown; principal?: Principal };

/** What API Gateway adds to a request before the function sees it: not the caller's bytes. */
const GATEWAY_HEADERS = new Set(['x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-port', 'x-amzn-trace-id']);

/**
 * Refuses a request whose request line and headers exceed API Gateway's 10 KB with a 400
 * `headers_too_large` naming the largest header: the same answer locally as on AWS (where the
 * gateway stops most of them first), and before authentication reads a 9 KB Authorization header.
 */
export function headerLimit(maxBytes = LIMITS.requestHeaderBytes): Mw {
  return {
    before: (request) => {
      const e = request.event;
      const line = `${e.requestContext?.http?.method ?? ''} ${e.rawPath ?? ''}${e.rawQueryString ? `?${e.rawQueryString}` : ''} HTTP/1.1\r\n`;
      let total = Buffer.byteLength(line);
      let largest: { name: string; bytes: number } | undefined;
      const fields = Object.entries(e.headers ?? {});
      if (e.cookies?.length) fields.push(['cookie', e.cookies.join('; ')]);
      for (const [name, value] of fields) {
        if (GATEWAY_HEADERS.has(name)) continue;
        const bytes = Buffer.byteLength(name) + Buffer.byteLength(value ?? '') + 4; // ": " and CRLF
        total += bytes;
        if (!largest || bytes > largest.bytes) largest = { name, bytes };
      }
      if (total > maxBytes) {
        throw new HeadersTooLargeError(`the request line and headers are ${total} bytes; the limit is ${maxBytes}`, [
          {
            path: largest ? `headers.${largest.name}` : 'headers',
            message: `is the largest header (${largest?.bytes ?? 0} bytes)`,
          },
        ]);
      }
    },
  };
}

/** Requires `Authorization: Bearer <key>` (admin or app-scoped) on every route but the open ones. */
export function authenticate(opts: {
  openPaths: ReadonlySet<string>;
  authenticate: (header: string | undefined) => Promise<Principal>;
}): Mw {
  return {
    before: async (request) => {
      if (opts.openPaths.has(request.event.rawPath)) return;
      request.event.principal = await opts.authenticate(request.event.headers?.authorization);
    },
  };
}

/** Refuses a caller over its rate with 429 and Retry-After; `take` decides per principal. */
export function rateLimit(take: (who: Principal | undefined) => { ok: true } | { ok: false; retryAfterS: number }): Mw {
  return {
    before: (request) => {
      const verdict = take(request.event.principal);
      if (!verdict.ok) {
        throw new TooManyRequestsError(
          `too many calls from this portal link; retry in ${verdict.retryAfterS} s`,
          verdict.retryAfterS,
        );
      }
    },
  };
}

/**
 * A path the API serves asked with another method: 405 with `Allow` naming the methods it takes,
 * rather than the router's 404 "no route" (which stays for paths it does not serve at all).
 */
export function methodCheck(routes: readonly { method: string; path: string }[]): Mw {
  const templates = routes.map((r) => ({
    method: r.method,
    // `{name}` matches one segment; the rest of a path is letters, digits, `/`, `-` and `.`.
    pattern: new RegExp(`^${r.path.replace(/\./g, '\\.').replace(/\{[^}]+\}/g, '[^/]+')}$`),
  }));
  return {
    before: (request) => {
      const e = request.event;
      const method = e.requestContext?.http?.method ?? '';
      const matching = templates.filter((t) => t.pattern.test(e.rawPath ?? ''));
      if (matching.length === 0 || matching.some((t) => t.method === method)) return;
      const allow = [...new Set(matching.map((t) => t.method))];
      throw new MethodNotAllowedError(`${method} is not allowed on ${e.rawPath}; it takes ${allow.join(', ')}`, allow);
    },
  };
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** Parses a JSON body into `event.jsonBody`; other media types are refused with 415. */
export function jsonBody(): Mw {
  return {
    before: (request) => {
      const event = request.event;
      const raw = event.body;
      if (raw === undefined || raw === null || raw === '') return;
      let text = raw;
      if (event.isBase64Encoded) {
        // The gateway passes bytes it cannot pass as text this way: never altered into U+FFFD.
        try {
          text = strictUtf8.decode(Buffer.from(raw, 'base64'));
        } catch {
          throw new ValidationError('request body is not valid UTF-8', [
            { path: '(body)', message: 'must be UTF-8 text: JSON is UTF-8, and these bytes are not' },
          ]);
        }
      }
      if (Buffer.byteLength(text) > LIMITS.requestBodyBytes) {
        throw new PayloadTooLargeError(`request body exceeds ${LIMITS.requestBodyBytes} bytes`);
      }
      const type = (event.headers?.['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
      if (type !== 'application/json' && !(type?.startsWith('application/') && type.endsWith('+json'))) {
        throw new UnsupportedMediaTypeError(`content-type must be application/json, got "${type || 'none'}"`);
      }
      if (nestsDeeperThan(text, LIMITS.jsonDepth)) {
        throw new ValidationError('request body nests too deeply', [
          { path: '(body)', message: `must not nest objects and arrays more than ${LIMITS.jsonDepth} levels deep` },
        ]);
      }
      let parsed: unknown;
      try {
        parsed = JSON.parse(text) as unknown;
      } catch (err) {
        throw new MalformedJsonError(`request body is not valid JSON: ${(err as Error).message}`);
      }
      const proto = protoKeyPath(parsed);
      if (proto !== undefined) {
        throw new ValidationError('request body has a "__proto__" key', [
          {
            path: proto,
            message:
              'the key "__proto__" is not allowed: JavaScript code that copies the object would drop it or change its prototype',
          },
        ]);
      }
      event.jsonBody = parsed;
    },
  };
}

/**
 * The path of the first `__proto__` key in a parsed body. JSON.parse keeps it as a plain key, but
 * validation and copying (zod, Object.assign) do not: it would be accepted and then silently
 * dropped from event data, or set a prototype in a careless consumer.
 */
function protoKeyPath(value: unknown): string | undefined {
  const stack: Array<{ v: unknown; path: string }> = [{ v: value, path: '' }];
  for (let item = stack.pop(); item !== undefined; item = stack.pop()) {
    const { v, path } = item;
    if (typeof v !== 'object' || v === null) continue;
    for (const key of Object.keys(v)) {
      const child = path === '' ? key : `${path}.${key}`;
      if (key === '__proto__') return child;
      stack.push({ v: (v as Record<string, unknown>)[key], path: child });
    }
  }
  return undefined;
}

/** Whether JSON text opens more than `max` objects/arrays at once: one pass, outside strings. */
function nestsDeeperThan(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > max) return true;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return false;
}
