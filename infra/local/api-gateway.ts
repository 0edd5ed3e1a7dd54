/**
 * API Gateway HTTP API, emulated for one `$default` route with a Lambda proxy integration,
 * payload format 2.0: each request becomes an APIGatewayProxyEventV2, and the handler's result is
 * mapped back the way API Gateway maps it.
 */
import type { Duplex } from 'node:stream';
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { APIGatewayProxyEventV2, APIGatewayProxyResultV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import type { Log } from './log';
import { InvocationTimeoutError, LOCAL_ACCOUNT_ID } from './lambda';
import { BodyTooLargeError, readBody } from './net';

/** API Gateway's payload limit for HTTP APIs. */
export const MAX_PAYLOAD_BYTES = 10 * 1024 * 1024;
export const LOCAL_API_ID = 'local';

type ApiHandler = (event: APIGatewayProxyEventV2) => Promise<APIGatewayProxyResultV2>;

export interface ApiGatewayOptions {
  /** Invokes the api function (Context and timeout are the caller's business). */
  invoke: ApiHandler;
  log: Log;
  /** Overrides the 10 MB limit (tests). */
  maxPayloadBytes?: number;
}

/** A request listener for node:http that fronts the api function. */
export function apiGatewayListener(opts: ApiGatewayOptions): (req: IncomingMessage, res: ServerResponse) => void {
  const limit = opts.maxPayloadBytes ?? MAX_PAYLOAD_BYTES;
  return (req, res) => {
    const requestId = newRequestId();
    res.setHeader('apigw-requestid', requestId);
    void handle(req, res, requestId).catch((err: unknown) => {
      opts.log.error(`api ${req.method} ${req.url} (request ${requestId}) failed`, err);
      if (res.headersSent) res.destroy();
      // API Gateway answers an integration timeout with 503 and anything else with a generic 500;
      // the cause is only logged, never sent.
      else if (err instanceof InvocationTimeoutError) sendError(res, 503, 'unavailable', 'Service Unavailable');
      else sendError(res, 500, 'internal', 'Internal Server Error');
    });
  };

  async function handle(req: IncomingMessage, res: ServerResponse, requestId: string): Promise<void> {
    let body: Buffer;
    try {
      body = await readBody(req, limit);
    } catch (err) {
      if (!(err instanceof BodyTooLargeError)) throw err;
      sendError(res, 413, 'payload_too_large', `request body exceeds the ${limit}-byte limit`);
      return;
    }
    const event = toEventV2(req, body, requestId);
    const result = await opts.invoke(event);
    writeResult(res, result);
  }
}

/** API Gateway request ids look like `JKJaXmPLvHcESHA=`: 10 random bytes, base64. */
function newRequestId(): string {
  return randomBytes(10).toString('base64');
}

export function toEventV2(
  req: IncomingMessage,
  body: Buffer,
  requestId: string,
  now = new Date(),
): APIGatewayProxyEventV2 {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  const rawPath = q === -1 ? url : url.slice(0, q);
  const rawQueryString = q === -1 ? '' : url.slice(q + 1);
  const sourceIp = req.socket.remoteAddress?.replace(/^::ffff:/, '') ?? '127.0.0.1';

  // Format 2.0 joins repeated headers with commas; cookies move out of the headers into `cookies`.
  const headers: Record<string, string> = {};
  let cookies: string[] | undefined;
  for (const [name, values] of Object.entries(req.headersDistinct)) {
    if (!values) continue;
    if (name === 'cookie') {
      cookies = values
        .flatMap((v) => v.split(';'))
        .map((c) => c.trim())
        .filter(Boolean);
    } else {
      headers[name] = values.join(',');
    }
  }
  // What API Gateway adds in front of every integration.
  headers['x-forwarded-for'] = headers['x-forwarded-for'] ? `${headers['x-forwarded-for']}, ${sourceIp}` : sourceIp;
  headers['x-forwarded-proto'] ??= 'http';
  headers['x-forwarded-port'] ??= String(req.socket.localPort ?? '');
  const host = headers.host ?? `127.0.0.1:${req.socket.localPort ?? ''}`;

  const queryStringParameters = rawQueryString ? joinedQuery(rawQueryString) : undefined;
  const textual = isTextual(headers['content-type'], body);

  return {
    version: '2.0',
    routeKey: '$default',
    rawPath,
    rawQueryString,
    cookies,
    headers,
    queryStringParameters,
    pathParameters: undefined,
    requestContext: {
      accountId: LOCAL_ACCOUNT_ID,
      apiId: LOCAL_API_ID,
      domainName: host,
      domainPrefix: host.split('.')[0]?.split(':')[0] ?? host,
      http: {
        method: req.method ?? 'GET',
        path: rawPath,
        protocol: `HTTP/${req.httpVersion}`,
        sourceIp,
        userAgent: headers['user-agent'] ?? '',
      },
      requestId,
      routeKey: '$default',
      stage: '$default',
      time: clfTime(now),
      timeEpoch: now.getTime(),
    },
    body: body.length === 0 ? undefined : textual ? body.toString('utf8') : body.toString('base64'),
    isBase64Encoded: body.length > 0 && !textual,
  };
}

function joinedQuery(raw: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of new URLSearchParams(raw)) out[k] = k in out ? `${out[k]},${v}` : v;
  return out;
}

/**
 * Whether API Gateway hands the body over as text. Text and JSON-like media types are text when
 * they are valid UTF-8; without a content type, the bytes decide, so a curl without headers works.
 */
function isTextual(contentType: string | undefined, body: Buffer): boolean {
  if (body.length === 0) return true;
  // Bytes that are not UTF-8 cannot be text: passed base64-encoded, they reach the function
  // unaltered (decoding them as text would turn them into U+FFFD), and the API refuses them.
  if (!contentType || !isUtf8(body)) return isUtf8(body);
  const type = contentType.split(';')[0]!.trim().toLowerCase();
  return (
    type.startsWith('text/') ||
    type === 'application/json' ||
    type.endsWith('+json') ||
    type === 'application/xml' ||
    type.endsWith('+xml') ||
    type === 'application/x-www-form-urlencoded' ||
    type === 'application/javascript'
  );
}

const utf8 = new TextDecoder('utf-8', { fatal: true });
function isUtf8(buf: Buffer): boolean {
  try {
    utf8.decode(buf);
    return true;
  } catch {
    return false;
  }
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
/** `12/Mar/2020:19:03:58 +0000`, the format of requestContext.time. */
function clfTime(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${p(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000`;
}

/** A v2 result may carry v1's multiValueHeaders; API Gateway accepts both. */
type StructuredResult = APIGatewayProxyStructuredResultV2 & {
  multiValueHeaders?: Record<string, (string | number | boolean)[]>;
};

/**
 * Maps a handler result as API Gateway does: an object with a statusCode is a structured
 * result; anything else (an object without statusCode, a string) is a 200 JSON body.
 */
export function writeResult(res: ServerResponse, result: APIGatewayProxyResultV2): void {
  if (!isStructured(result)) {
    res.statusCode = 200;
    res.setHeader('content-type', 'application/json');
    res.end(typeof result === 'string' ? result : (JSON.stringify(result) ?? ''));
    return;
  }
  const status = result.statusCode;
  if (!Number.isInteger(status) || status < 100 || status > 599) {
    throw new Error(`malformed Lambda proxy response: statusCode ${String(status)}`);
  }
  res.statusCode = status;
  for (const [name, values] of Object.entries(result.multiValueHeaders ?? {})) {
    res.setHeader(name, values.map(String));
  }
  for (const [name, value] of Object.entries(result.headers ?? {})) res.setHeader(name, String(value));
  if (result.cookies?.length) {
    const existing = res.getHeader('set-cookie');
    const prior = existing === undefined ? [] : Array.isArray(existing) ? existing : [String(existing)];
    res.setHeader('set-cookie', [...prior, ...result.cookies]);
  }
  const body = result.body ?? '';
  res.end(result.isBase64Encoded ? Buffer.from(body, 'base64') : body);
}

function isStructured(result: APIGatewayProxyResultV2): result is StructuredResult & { statusCode: number } {
  return typeof result === 'object' && result !== null && 'statusCode' in result && result.statusCode !== undefined;
}

export function sendError(res: ServerResponse, status: number, code: string, message: string): void {
  res.statusCode = status;
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify({ error: { code, message } }));
}

/**
 * The front server's header limit. Node refuses more than 16 KB of headers by default with a
 * bare 431 and no body; taking up to 1 MB lets the api function's own 10 KB check (API Gateway's
 * limit) answer with the contract's `400 headers_too_large`, naming the largest header.
 */
export const FRONT_MAX_HEADER_BYTES = 1024 * 1024;

/** Beyond even that, Node's parser gives up before any handler: the same answer, in the contract's shape. */
export function answerClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
  if (err.code !== 'HPE_HEADER_OVERFLOW' || !socket.writable) {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
    else socket.destroy();
    return;
  }
  const body = JSON.stringify({
    error: {
      code: 'headers_too_large',
      message: `the request line and headers exceed ${FRONT_MAX_HEADER_BYTES} bytes; the limit is 10240`,
    },
  });
  socket.end(
    `HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}
