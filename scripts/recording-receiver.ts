/**
 * The recording receiver: an HTTP server on 127.0.0.1:0 that records every webhook it gets and
 * answers what the test scripted for that path: a status (with headers), a delay, a reset
 * connection, or a response that stalls mid-body. The workhorse of every delivery test.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface Received {
  path: string;
  method: string;
  headers: Record<string, string>;
  body: string;
  /** Epoch ms when the request started arriving (its first byte). */
  at: number;
}

export type Behaviour =
  | number
  | { status: number; headers?: Record<string, string>; delayMs?: number; body?: string }
  | { fault: 'reset' }
  | { fault: 'stall-body'; status?: number }
  | { fault: 'hang' };

export class RecordingReceiver {
  readonly received: Received[] = [];
  private readonly scripts = new Map<string, Behaviour[]>();
  /** Paths whose script runs afresh for each event (by `webhook-id`) rather than once for the path. */
  private readonly perEvent = new Set<string>();
  private readonly responders = new Map<string, (request: Received) => Behaviour>();
  private readonly counts = new Map<string, number>();
  private readonly sockets = new Set<Socket>();
  private server: Server | undefined;
  private waiters: (() => void)[] = [];
  baseUrl = '';

  /** Answers on `path` follow `behaviours` in order; the last one repeats. Default: 200. */
  script(path: string, behaviours: Behaviour[]): string {
    this.scripts.set(path, behaviours);
    return `${this.baseUrl}${path}`;
  }

  /** A fresh, unique path answered by `answer` for each request (by its body, say); returns its full URL. */
  respond(answer: (request: Received) => Behaviour): string {
    const path = `/hook/${Math.random().toString(36).slice(2, 10)}`;
    this.responders.set(path, answer);
    return `${this.baseUrl}${path}`;
  }

  /**
   * A fresh, unique path answered by `behaviours`; returns its full URL. With `perEvent`, each
   * event (its `webhook-id`) goes through the script from the start: `[500, 200]` fails every
   * event's first attempt and accepts its second.
   */
  endpoint(behaviours: Behaviour[] = [200], opts: { perEvent?: boolean } = {}): string {
    const path = `/hook/${Math.random().toString(36).slice(2, 10)}`;
    if (opts.perEvent) this.perEvent.add(path);
    return this.script(path, behaviours);
  }

  on(pathOrUrl: string): Received[] {
    const path = pathOrUrl.startsWith('http') ? new URL(pathOrUrl).pathname : pathOrUrl;
    return this.received.filter((r) => r.path === path);
  }

  async start(host = '127.0.0.1'): Promise<this> {
    this.server = createServer((req, res) => void this.handle(req, res));
    this.server.keepAliveTimeout = 60_000;
    this.server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve) => this.server!.listen(0, host, resolve));
    const { port } = this.server.address() as AddressInfo;
    this.baseUrl = `http://${host}:${port}`;
    return this;
  }

  /** Resolves once `predicate` holds over what was received, or rejects after `timeoutMs`. */
  async waitFor(predicate: (received: Received[]) => boolean, timeoutMs = 20_000, what = 'condition'): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate(this.received)) {
      const left = deadline - Date.now();
      if (left <= 0)
        throw new Error(
          `receiver: timed out after ${timeoutMs} ms waiting for ${what} (${this.received.length} received)`,
        );
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 250));
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const at = Date.now();
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers))
      if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(', ') : v;
    this.received.push({ path, method: req.method ?? '', headers, body: Buffer.concat(chunks).toString('utf8'), at });
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();

    const counted = this.perEvent.has(path) ? `${path} ${headers['webhook-id'] ?? ''}` : path;
    const n = this.counts.get(counted) ?? 0;
    this.counts.set(counted, n + 1);
    const script = this.scripts.get(path) ?? [200];
    const responder = this.responders.get(path);
    const b = responder ? responder(this.received.at(-1)!) : (script[Math.min(n, script.length - 1)] ?? 200);
    if (typeof b === 'number') {
      res.writeHead(b, { 'content-type': 'text/plain' }).end(`status ${b}`);
      return;
    }
    if ('fault' in b) {
      if (b.fault === 'reset') {
        req.socket.destroy();
      } else if (b.fault === 'stall-body') {
        res.writeHead(b.status ?? 200, { 'content-type': 'text/plain', 'content-length': '1000' });
        res.write('partial');
      }
      return; // 'hang': never answer
    }
    if (b.delayMs) await new Promise((r) => setTimeout(r, b.delayMs));
    res.writeHead(b.status, { 'content-type': 'text/plain', ...b.headers }).end(b.body ?? `status ${b.status}`);
  }
}
