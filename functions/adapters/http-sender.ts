/**
 * Outbound HTTP for webhook attempts: keep-alive connections, a per-attempt timeout covering
 * connect, headers and the excerpt read, redirects never followed, and only the first bytes of
 * the receiver's answer kept.
 */
import { Agent, request, type Dispatcher } from 'undici';
import type { WebhookSender } from '../core/deliver';
import type { SendResult } from '../core/outcome';
import type { WebhookRequest } from '../core/webhook';

export interface HttpSenderOptions {
  /** Bytes of the response body kept with the attempt. */
  excerptBytes: number;
  /** The connection pool; the SSRF-guarded agent in production. */
  dispatcher?: Dispatcher;
}

/** Errors from the destination guard carry this name or code (see guarded-lookup.ts). */
function isForbidden(err: unknown): boolean {
  let e: unknown = err;
  for (let depth = 0; e && depth < 4; depth++) {
    const x = e as { name?: string; code?: string; cause?: unknown };
    if (x.name === 'ForbiddenDestinationError' || x.code === 'ERR_FORBIDDEN_DESTINATION') return true;
    e = x.cause;
  }
  return false;
}

function describe(err: unknown): string {
  const e = err as { code?: string; message?: string; cause?: { code?: string; message?: string } };
  const code = e.code ?? e.cause?.code;
  const message = e.cause?.message ?? e.message ?? String(err);
  switch (code) {
    case 'ECONNREFUSED':
      return 'connection refused';
    case 'ECONNRESET':
    case 'UND_ERR_SOCKET':
      return 'connection reset';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'DNS lookup failed';
    default:
      return code ? `${code}: ${message}` : message;
  }
}

export class HttpSender implements WebhookSender {
  private readonly dispatcher: Dispatcher;

  constructor(private readonly options: HttpSenderOptions) {
    this.dispatcher =
      options.dispatcher ?? new Agent({ keepAliveTimeout: 30_000, connections: 64, connect: { timeout: 10_000 } });
  }

  async send(req: WebhookRequest, timeoutMs: number): Promise<SendResult> {
    const started = performance.now();
    const elapsed = () => Math.round(performance.now() - started);
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), timeoutMs);
    try {
      const res = await request(req.url, {
        method: 'POST',
        headers: req.headers,
        body: req.body,
        dispatcher: this.dispatcher,
        signal: abort.signal,
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      });
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(res.headers)) {
        if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(', ') : v;
      }
      const bodyExcerpt = await this.readExcerpt(res.body);
      return { kind: 'response', statusCode: res.statusCode, headers, bodyExcerpt, durationMs: elapsed() };
    } catch (err) {
      if (abort.signal.aborted) return { kind: 'timeout', durationMs: elapsed(), timeoutMs };
      const code = (err as { code?: string }).code;
      if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' || code === 'UND_ERR_CONNECT_TIMEOUT') {
        return { kind: 'timeout', durationMs: elapsed(), timeoutMs };
      }
      if (isForbidden(err)) return { kind: 'forbidden_destination', durationMs: elapsed(), message: describe(err) };
      return { kind: 'network', durationMs: elapsed(), message: describe(err) };
    } finally {
      clearTimeout(timer);
    }
  }

  /** Reads at most `excerptBytes`, then drops the rest of the body (the connection is not reused then). */
  private async readExcerpt(body: Dispatcher.ResponseData['body']): Promise<string> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of body) {
      const buf = chunk as Buffer;
      chunks.push(buf);
      size += buf.length;
      if (size >= this.options.excerptBytes) {
        body.destroy();
        break;
      }
    }
    return Buffer.concat(chunks).subarray(0, this.options.excerptBytes).toString('utf8');
  }

  async close(): Promise<void> {
    await this.dispatcher.close();
  }
}
