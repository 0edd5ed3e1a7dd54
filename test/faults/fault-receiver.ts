/**
 * A recording receiver for the fault suites. Unlike test/helpers/receiver.ts, whose script runs
 * per path, this one scripts each endpoint per event: the n-th request carrying a given
 * `webhook-id` gets the n-th behaviour (the last one repeats). So "500 twice, then 200" holds for
 * every event fanned out to the endpoint, whatever order their attempts arrive in.
 *
 * Every request is recorded with what it was answered, so a test can count, per endpoint and
 * event, how many times a webhook was delivered (answered 2xx): at-least-once means one or more.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export type FaultBehaviour =
  | number
  | { status: number; headers?: Record<string, string> }
  | { fault: 'reset' }
  | { fault: 'hang' }
  /** Headers (200 unless `status`), a few bytes of a 1000-byte body, then silence. */
  | { fault: 'stall-body'; status?: number };

export interface FaultRequest {
  path: string;
  eventId: string;
  /** 1 for the first request of this event on this path. */
  nth: number;
  /** Epoch ms when the whole request had arrived. */
  at: number;
  /** The status answered, or the fault applied. */
  answer: number | 'reset' | 'hang' | 'stall-body';
}

export class FaultReceiver {
  readonly requests: FaultRequest[] = [];
  private readonly routes = new Map<string, FaultBehaviour[]>();
  private readonly counts = new Map<string, number>();
  private readonly sockets = new Set<Socket>();
  private server: Server | undefined;
  baseUrl = '';

  async start(): Promise<this> {
    this.server = createServer((req, res) => void this.handle(req, res));
    this.server.keepAliveTimeout = 60_000;
    this.server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.baseUrl = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  /** Scripts `path` (per event, see above) and returns its URL. */
  route(path: string, behaviours: FaultBehaviour[]): string {
    if (behaviours.length === 0) throw new Error('a route needs at least one behaviour');
    this.routes.set(path, behaviours);
    return `${this.baseUrl}${path}`;
  }

  on(path: string): FaultRequest[] {
    return this.requests.filter((r) => r.path === path);
  }

  /** How many times each event was answered 2xx on `path` (events never answered 2xx are absent). */
  deliveredCounts(path: string): Map<string, number> {
    const counts = new Map<string, number>();
    for (const r of this.on(path)) {
      if (typeof r.answer === 'number' && r.answer >= 200 && r.answer < 300)
        counts.set(r.eventId, (counts.get(r.eventId) ?? 0) + 1);
    }
    return counts;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    for await (const _ of req) {
      // Drain the body: only the headers matter here.
    }
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const eventId = String(req.headers['webhook-id'] ?? '');
    const key = `${path} ${eventId}`;
    const nth = (this.counts.get(key) ?? 0) + 1;
    this.counts.set(key, nth);
    const script = this.routes.get(path) ?? [404];
    const b = script[Math.min(nth, script.length) - 1] ?? 404;
    const record = (answer: FaultRequest['answer']) =>
      this.requests.push({ path, eventId, nth, at: Date.now(), answer });

    if (typeof b === 'number') {
      record(b);
      res.writeHead(b, { 'content-type': 'text/plain' }).end(`status ${b}`);
    } else if ('status' in b && !('fault' in b)) {
      record(b.status);
      res.writeHead(b.status, { 'content-type': 'text/plain', ...b.headers }).end(`status ${b.status}`);
    } else if (b.fault === 'reset') {
      record('reset');
      req.socket.destroy();
    } else if (b.fault === 'stall-body') {
      record('stall-body');
      res.writeHead(b.status ?? 200, { 'content-type': 'text/plain', 'content-length': '1000' });
      res.write('partial');
    } else {
      record('hang');
    }
  }
}
