/**
 * Outbound HTTP for webhook attempts, on Node's own `node:http`/`node:https` (no client library
 * in the bundle): keep-alive connections through the guarded agent, one deadline per attempt for
 * connecting, sending and the response's status, redirects never followed (Node's client does not
 * follow them), and only the first bytes of the receiver's answer kept.
 *
 * An attempt is judged by its status: once it has arrived in time, a body that stalls or breaks
 * off changes nothing (the receiver has answered), and reading it stops after a short grace.
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { SendResult } from './outcome';
import type { WebhookRequest, WebhookSender } from './webhook';
import { GuardedAgent } from './guarded-lookup';

export interface HttpSenderOptions {
  /** Bytes of the response body kept with the attempt. */
  excerptBytes: number;
  /** How long, after the status arrived, the excerpt may take to read (within the attempt's timeout). */
  bodyGraceMs?: number;
  /**
   * The connection pools: the SSRF-guarded agent in production. Without one, the sender allows
   * every destination (`allowPrivate: true`), which only tests should want.
   */
  agent?: GuardedAgent;
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
  const e = err as { code?: string; message?: string; errors?: Array<{ code?: string; message?: string }> };
  // Happy eyeballs (several addresses tried) reports an AggregateError: its parts say why.
  const code = e.code ?? e.errors?.[0]?.code;
  const message = e.message || e.errors?.[0]?.message || String(err);
  switch (code) {
    case 'ECONNREFUSED':
      return 'connection refused';
    case 'ECONNRESET':
    case 'EPIPE':
      return 'connection reset';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'DNS lookup failed';
    default:
      return code ? `${code}: ${message}` : message;
  }
}

export class HttpSender implements WebhookSender {
  private readonly agent: GuardedAgent;

  constructor(private readonly options: HttpSenderOptions) {
    this.agent = options.agent ?? new GuardedAgent({ allowPrivate: true, keepAliveTimeoutMs: 30_000, connections: 64 });
  }

  send(req: WebhookRequest, timeoutMs: number): Promise<SendResult> {
    const started = performance.now();
    const elapsed = () => Math.round(performance.now() - started);
    return new Promise((resolve) => {
      let settled = false;
      const settle = (result: SendResult) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(result);
      };
      let url: URL;
      try {
        url = new URL(req.url);
      } catch {
        settle({ kind: 'network', durationMs: elapsed(), message: `invalid URL: ${req.url}` });
        return;
      }
      const body = Buffer.from(req.body);
      const request = (url.protocol === 'https:' ? httpsRequest : httpRequest)(url, {
        method: 'POST',
        headers: { ...req.headers, 'content-length': String(body.length) },
        agent: this.agent.for(url),
      });
      // One deadline for the attempt: connect, send, and the response's status line and headers.
      let timer = setTimeout(() => {
        settle({ kind: 'timeout', durationMs: elapsed(), timeoutMs });
        request.destroy();
      }, timeoutMs);

      request.on('response', (res: IncomingMessage) => {
        // The status is in: from now on the attempt ends as a response, whatever the body does.
        clearTimeout(timer);
        const grace = Math.min(this.options.bodyGraceMs ?? 2000, Math.max(0, timeoutMs - elapsed()));
        timer = setTimeout(() => {
          done(' [body incomplete]');
          res.destroy();
        }, grace);
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(res.headers)) {
          if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(', ') : v;
        }
        const chunks: Buffer[] = [];
        let size = 0;
        const done = (note = '') =>
          settle({
            kind: 'response',
            statusCode: res.statusCode ?? 0,
            headers,
            bodyExcerpt: Buffer.concat(chunks).subarray(0, this.options.excerptBytes).toString('utf8') + note,
            durationMs: elapsed(),
          });
        res.on('data', (chunk: Buffer) => {
          if (settled) return;
          chunks.push(chunk);
          size += chunk.length;
          // Enough: answer now and drop the rest (the connection is not reused then).
          if (size >= this.options.excerptBytes) {
            done();
            res.destroy();
          }
        });
        res.on('end', () => done());
        // Broken off during the body: the status still stands.
        res.on('error', () => done(' [body incomplete]'));
        res.on('close', () => {
          if (!res.complete) done(' [body incomplete]');
        });
      });
      request.on('error', (err) => {
        if (isForbidden(err)) settle({ kind: 'forbidden_destination', durationMs: elapsed(), message: describe(err) });
        else settle({ kind: 'network', durationMs: elapsed(), message: describe(err) });
      });
      request.end(body);
    });
  }

  async close(): Promise<void> {
    this.agent.destroy();
  }
}
