/**
 * The noisy neighbour: a healthy app's latency from 202 to receipt alone, then beside each kind of
 * misbehaving neighbour (an endpoint that hangs, one that answers in 2 s, one that answers 500,
 * one that answers 429 past 10 requests a second), on the embedded stack with the template's
 * event sources (batches of 10, the pollers the harness gives each queue). The goal
 * (issue 19): at most 2x alone, for each. The neighbour's own outcome is reported too: delivered,
 * still waiting, and the share of its requests answered 429.
 *
 * The work queue is sharded by app (docs/flow-control.md "Shards"): each neighbour is an app in
 * another shard than the healthy app's, as 7 in 8 apps are; then a hanging neighbour in the same
 * shard shows what the other 1 in 8 see.
 *
 * Each neighbour sends its burst first; the healthy app starts `healthyDelayMs` later and sends
 * one event every `healthyIntervalMs`, open loop. The neighbour's endpoint is disabled after its
 * run, so what it left waiting does not spill into the next one.
 *
 * Then the same on AWS, from a model of the event source mapping's limits (docs/flow-control.md).
 */
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Harness } from './harness';
import { percentile } from './cost';
import { workShardOf } from '../functions/delivery/work-shards';
import { topology } from '../infra/topology';

export type NeighbourKind = 'hang' | 'slow2s' | 'fail500' | 'tooMany429';

export const NEIGHBOURS: Record<NeighbourKind, string> = {
  hang: 'accepts the connection and never answers',
  slow2s: 'answers 200 after 2 s',
  fail500: 'answers 500 at once',
  tooMany429: 'answers 429 (Retry-After: 1) past 10 requests a second',
};

export interface IsolationSizes {
  healthyEvents: number;
  healthyIntervalMs: number;
  neighbourEvents: number;
  /** The healthy app starts this long after the neighbour's burst was accepted. */
  healthyDelayMs: number;
  /** How long, after the healthy run, the neighbour's outcome is awaited (all delivered, or this). */
  neighbourSettleMs: number;
}

export interface LatencyFigures {
  p50Ms: number;
  p95Ms: number;
  maxMs: number;
}

export interface NeighbourResult {
  kind: NeighbourKind;
  description: string;
  /** Whether the neighbour's app shares the healthy app's work queue shard (1 app in `shards` does). */
  sameShard: boolean;
  shards: { healthy: number; neighbour: number; of: number };
  healthy: LatencyFigures;
  /** p95 beside it over p95 alone (the goal: at most 2). */
  p95Ratio: number;
  neighbour: {
    events: number;
    delivered: number;
    /** Neither delivered nor failed when measured (waiting for a retry, a probe or its rate). */
    waiting: number;
    failed: number;
    requests: number;
    tooMany: number;
    /** Share of the neighbour's requests answered 429. */
    share429: number;
    /** Its endpoint's throttle state when measured. */
    throttle: unknown;
  };
}

export interface IsolationResult {
  sizes: IsolationSizes;
  timeoutMs: number;
  alone: LatencyFigures;
  beside: NeighbourResult[];
  aws: AwsIsolationModel;
}

/** A receiver for the neighbours, per path; it counts requests, 2xx per event and 429s. */
class NeighbourReceiver {
  private server: Server | undefined;
  baseUrl = '';
  readonly requests = new Map<string, number>();
  readonly tooMany = new Map<string, number>();
  readonly delivered = new Map<string, Set<string>>();
  private readonly accepted: number[] = [];
  private readonly hanging = new Set<ServerResponse>();

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      const path = req.url ?? '/';
      const id = String(req.headers['webhook-id'] ?? '');
      req.resume();
      req.on('end', () => {
        this.requests.set(path, (this.requests.get(path) ?? 0) + 1);
        const ok = () => {
          const set = this.delivered.get(path) ?? new Set<string>();
          set.add(id);
          this.delivered.set(path, set);
          res.writeHead(200).end('ok');
        };
        if (path.startsWith('/hang')) {
          this.hanging.add(res);
          res.on('close', () => this.hanging.delete(res));
        } else if (path.startsWith('/slow2s')) {
          setTimeout(ok, 2000);
        } else if (path.startsWith('/fail500')) {
          res.writeHead(500).end('down');
        } else {
          const now = Date.now();
          while (this.accepted.length > 0 && (this.accepted[0] as number) <= now - 1000) this.accepted.shift();
          if (this.accepted.length >= 10) {
            this.tooMany.set(path, (this.tooMany.get(path) ?? 0) + 1);
            res.writeHead(429, { 'retry-after': '1' }).end('slow down');
          } else {
            this.accepted.push(now);
            ok();
          }
        }
      });
    });
    this.server.keepAliveTimeout = 60_000;
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.baseUrl = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    for (const res of this.hanging) res.destroy();
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve());
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The healthy app's run: open loop, one event every interval; latency from the 202 to the first byte. */
async function healthyRun(h: Harness, appId: string, url: string, s: IsolationSizes, tag: string) {
  const path = new URL(url).pathname;
  const acceptedAt = new Map<string, number>();
  const sends: Promise<void>[] = [];
  const started = performance.now();
  for (let n = 0; n < s.healthyEvents; n++) {
    const wait = started + n * s.healthyIntervalMs - performance.now();
    if (wait > 0) await sleep(wait);
    const id = `${tag}-${n}`;
    sends.push(
      h.api.sendEvent(appId, { type: 'healthy.tick', data: { n }, id }).then((r) => {
        if (r.status !== 202) throw new Error(`healthy POST /events: ${r.status}`);
        acceptedAt.set(id, Date.now());
      }),
    );
  }
  await Promise.all(sends);
  await h.receiver.waitFor(
    (r) => new Set(r.filter((x) => x.path === path).map((x) => x.headers['webhook-id'])).size >= s.healthyEvents,
    120_000,
    `${s.healthyEvents} healthy webhooks`,
  );
  const first = new Map<string, number>();
  for (const r of h.receiver.on(path)) {
    const id = r.headers['webhook-id'] ?? '';
    if (!first.has(id)) first.set(id, r.at);
  }
  const latencies = [...acceptedAt].map(([id, at]) => (first.get(id) ?? Infinity) - at);
  return {
    p50Ms: percentile(latencies, 50),
    p95Ms: percentile(latencies, 95),
    maxMs: Math.max(...latencies),
  };
}

const SHARDS = topology.delivery.workShards;

/** A new app whose work queue shard is (or, with `same` false, is not) `shard`. */
async function appBeside(h: Harness, name: string, shard: number, same: boolean): Promise<string> {
  for (let i = 0; i < 500; i++) {
    const appId = await h.api.createApp(name);
    if ((workShardOf(appId, SHARDS) === shard) === same) return appId;
  }
  throw new Error(`no app ${same ? 'in' : 'outside'} shard ${shard} in 500 tries`);
}

export async function runIsolation(h: Harness, s: IsolationSizes, runId: string, timeoutMs: number) {
  const neighbours = await new NeighbourReceiver().start();
  try {
    const healthyApp = await h.api.createApp('healthy');
    const healthyShard = workShardOf(healthyApp, SHARDS);
    const healthyUrl = h.receiver.endpoint([200]);
    const created = await h.api.call('POST', `/v1/apps/${healthyApp}/endpoints`, { url: healthyUrl });
    if (created.status !== 201) throw new Error(`create endpoint: ${created.status}`);
    for (let i = 0; i < 5; i++) await h.api.sendEvent(healthyApp, { type: 'warm.up', data: {}, id: `${runId}-w${i}` });
    await h.receiver.waitFor((r) => r.length >= 5, 30_000, 'warm-up');

    const alone = await healthyRun(h, healthyApp, healthyUrl, s, `${runId}-alone`);
    const beside: NeighbourResult[] = [];
    // Every kind in another shard, then a hanging one in the healthy app's own.
    const runs = [
      ...(Object.keys(NEIGHBOURS) as NeighbourKind[]).map((kind) => ({ kind, sameShard: false })),
      { kind: 'hang' as const, sameShard: true },
    ];
    for (const { kind, sameShard } of runs) {
      const appId = await appBeside(h, `neighbour-${kind}`, healthyShard, sameShard);
      const path = `/${kind}${sameShard ? '-same' : ''}-${runId}`;
      const ep = await h.api.call('POST', `/v1/apps/${appId}/endpoints`, { url: `${neighbours.baseUrl}${path}` });
      if (ep.status !== 201) throw new Error(`create endpoint: ${ep.status}`);
      const endpointId = (ep.body as { id: string }).id;
      const ids: string[] = [];
      for (let i = 0; i < s.neighbourEvents; i += 100) {
        const events = Array.from({ length: Math.min(100, s.neighbourEvents - i) }, (_, j) => ({
          type: 'noisy',
          data: { n: i + j },
          id: `${runId}-${kind}${sameShard ? '-same' : ''}-${i + j}`,
        }));
        const r = await h.api.call('POST', `/v1/apps/${appId}/events/batch`, { events });
        if (r.status !== 202) throw new Error(`neighbour batch: ${r.status}`);
        ids.push(...events.map((e) => e.id));
      }
      await sleep(s.healthyDelayMs);
      const healthy = await healthyRun(h, healthyApp, healthyUrl, s, `${runId}-${kind}${sameShard ? '-same' : ''}`);

      // The neighbour's outcome: all delivered, or what it is at after the settle time.
      const deadline = Date.now() + s.neighbourSettleMs;
      while (Date.now() < deadline && (neighbours.delivered.get(path)?.size ?? 0) < ids.length) await sleep(250);
      let failed = 0;
      for (const id of ids) {
        const st = await h.api.call('GET', `/v1/apps/${appId}/events/${id}`);
        const d = (st.body as { deliveries?: { status: string }[] }).deliveries?.[0];
        if (d?.status === 'failed') failed++;
      }
      const view = await h.api.call('GET', `/v1/apps/${appId}/endpoints/${endpointId}`);
      const requests = neighbours.requests.get(path) ?? 0;
      const tooMany = neighbours.tooMany.get(path) ?? 0;
      const delivered = neighbours.delivered.get(path)?.size ?? 0;
      beside.push({
        kind,
        description: NEIGHBOURS[kind],
        sameShard,
        shards: { healthy: healthyShard, neighbour: workShardOf(appId, SHARDS), of: SHARDS },
        healthy,
        p95Ratio: alone.p95Ms > 0 ? healthy.p95Ms / alone.p95Ms : Infinity,
        neighbour: {
          events: ids.length,
          delivered,
          failed,
          waiting: ids.length - delivered - failed,
          requests,
          tooMany,
          share429: requests > 0 ? tooMany / requests : 0,
          throttle: (view.body as { throttle?: unknown }).throttle,
        },
      });
      // Out of the way of the next neighbour: what it still has waiting is skipped.
      await h.api.call('PATCH', `/v1/apps/${appId}/endpoints/${endpointId}`, { enabled: false });
      await sleep(1000);
    }
    return { sizes: s, timeoutMs, alone, beside, aws: awsIsolationModel({ timeoutMs, shards: SHARDS }) };
  } finally {
    await neighbours.stop();
  }
}

export interface AwsIsolationModel {
  /** Shards of the work queue, each with its own event source of `maxConcurrency` slots. */
  shards: number;
  maxConcurrency: number;
  batchSize: number;
  timeoutMs: number;
  budgetMs: number;
  cacheMs: number;
  /** For a burst of B events to a hanging endpoint: the longest a healthy event waits for a slot. */
  bursts: Array<{
    events: number;
    slotsHeld: number;
    /** Before flow control and shards: one work queue, each batch held for the whole timeout. */
    beforeWaitMs: number;
    repeatsBefore: string;
    /** Now, for an app in another shard than the hanging endpoint's (shards - 1 in shards). */
    otherShardWaitMs: number;
    /** Now, for an app in the same shard (1 in shards): the shared-lane budget once, when the burst fills it. */
    sameShardWaitMs: number;
  }>;
}

/**
 * The same on AWS, from the event source mapping's limits: a burst of B events to a hanging
 * endpoint arrives in its app's shard as ceil(B / batch) batches; they take min(C, that) of the
 * shard's C slots at once. A healthy event waits for a slot only when all C of its own shard's
 * are held: an app in another shard never does (its shard's slots are its own, and the function's
 * concurrency is not the limit: the account's is); an app in the same shard waits for at most the
 * shared-lane budget, once (each container cuts once, and knows after). Before flow control and
 * shards, one work queue held every slot for the whole timeout, again at each retry wave (which
 * came back to the shared retry queue).
 */
export function awsIsolationModel(o: {
  timeoutMs: number;
  shards?: number;
  maxConcurrency?: number;
  batchSize?: number;
  budgetMs?: number;
}): AwsIsolationModel {
  const C = o.maxConcurrency ?? topology.delivery.maxConcurrency;
  const batch = o.batchSize ?? topology.delivery.batchSize;
  const budget = o.budgetMs ?? topology.delivery.sharedLaneBudgetMs;
  return {
    shards: o.shards ?? topology.delivery.workShards,
    maxConcurrency: C,
    batchSize: batch,
    timeoutMs: o.timeoutMs,
    budgetMs: budget,
    cacheMs: 5000,
    bursts: [60, 500, 5000].map((events) => {
      const batches = Math.ceil(events / batch);
      const slotsHeld = Math.min(C, batches);
      const full = batches >= C;
      const waves = Math.ceil(batches / C);
      return {
        events,
        slotsHeld,
        beforeWaitMs: full ? waves * o.timeoutMs : 0,
        repeatsBefore: full ? 'at every retry wave (5 s, 5 min, 30 min...)' : 'no',
        otherShardWaitMs: 0,
        sameShardWaitMs: full ? budget : 0,
      };
    }),
  };
}
