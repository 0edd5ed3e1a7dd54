/**
 * Cost per million deliveries, from counting. Each scenario sends its events through the public
 * API (or PutEvents) of the instrumented embedded stack, waits until every webhook has arrived and
 * every invocation has ended, and prices what the meter counted in that window at the list prices
 * of bench/prices.ts, with the memory sizes the CDK stack configures (bench/deployed.ts).
 *
 * Scenarios (all with a 1 KB event: an invoice with random ids, amounts and times, `data`
 * serializing to exactly 1,024 bytes; see eventData):
 *   single     one endpoint, first-try success, one event per POST /events
 *   batch      the same, 100 events per POST /events/batch
 *   putevents  the same, 10 entries per EventBridge PutEvents call
 *   fanout     ten endpoints per app, one event per POST (ten deliveries per event)
 *   retry      one endpoint that answers 500 once, then 200: one retry, then success
 * Events are sent one request at a time (the next once the previous answered), so each scenario
 * shows the batching its ingest mode produces by itself, not what a load generator adds.
 */
import type { FunctionName } from '../infra/local/lambda';
import type { Received } from '../scripts/recording-receiver';
import type { DeployedConfig } from './deployed';
import type { Harness } from './harness';
import type { DynamoCounts, LogCounts, Origin, SqsCounts } from './instrument';
import { indexEntry, itemBytes, INDEXES, kindOf } from './dynamo-capacity';
import { PRICES, XRAY_DEFAULT_SAMPLING, type Price } from './prices';

export const SCENARIOS = {
  single: '1 KB event, one endpoint, first-try success: single POSTs',
  singleIds: "1 KB event, one endpoint, first-try success: single POSTs with the producer's own ids",
  batch: '1 KB event, one endpoint, first-try success: batch POSTs of 100',
  putevents: '1 KB event, one endpoint, first-try success: PutEvents, 10 entries per call',
  fanout: 'fan-out: 1 KB event to 10 endpoints (single POSTs)',
  retry: 'one retry, then success (single POSTs)',
} as const;
export type ScenarioId = keyof typeof SCENARIOS;

export const EVENT_DATA_BYTES = 1024;
const RETENTION_DAYS = 30;
const DAYS_PER_MONTH = 365.25 / 12;
/** CloudWatch Logs counts 26 bytes of overhead with every log event. */
const LOG_EVENT_OVERHEAD_BYTES = 26;

/** A small seeded PRNG (mulberry32), so a run's payloads are random but reproducible. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

const ALPHANUMERIC = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const PRODUCTS = ['Team plan seat', 'API calls (1k)', 'Priority support', 'Storage (GB-month)', 'SSO add-on'];
const NOTES =
  'Thank you for your business. Payment received by card; no further action is needed. Questions about ' +
  'this invoice? Reply to this email or call +33 1 84 88 00 00 (9:00-18:00 CET, Monday to Friday). VAT FR40303265045.';

let nextSeed = 1;

/**
 * A realistic event: an invoice-paid payload (customer, line items, amounts, tax, a payment with
 * its card and timestamps), with random ids, amounts and times, whose JSON is exactly `bytes`
 * long (a note field takes up the rest). Random ids compress as badly as real ones, so a
 * compression saving is a real one.
 */
export function eventData(bytes = EVENT_DATA_BYTES, seed = nextSeed++): Record<string, unknown> {
  const rnd = prng(seed);
  const id = (prefix: string, n: number) =>
    `${prefix}_${Array.from({ length: n }, () => ALPHANUMERIC[Math.floor(rnd() * ALPHANUMERIC.length)]).join('')}`;
  const int = (lo: number, hi: number) => lo + Math.floor(rnd() * (hi - lo + 1));
  const created = 1_790_000_000 + int(0, 10_000_000);
  const line = () => {
    const quantity = int(1, 20);
    const unitAmount = int(100, 9_999);
    return {
      id: id('il', 14),
      description: PRODUCTS[int(0, PRODUCTS.length - 1)],
      quantity,
      unit_amount: unitAmount,
      amount: quantity * unitAmount,
      period: { start: created, end: created + int(28, 31) * 86_400 },
    };
  };
  const invoice = (lines: ReturnType<typeof line>[]) => {
    const subtotal = lines.reduce((n, l) => n + l.amount, 0);
    const tax = Math.round(subtotal * 0.2);
    const base = {
      id: id('in', 24),
      object: 'invoice',
      number: `INV-${int(100_000, 999_999)}`,
      customer: { id: id('cus', 14), email: `${id('user', 6).slice(5).toLowerCase()}@example.com`, country: 'FR' },
      currency: 'eur',
      lines,
      subtotal,
      tax,
      total: subtotal + tax,
      status: 'paid',
      created,
      due_date: created + 30 * 86_400,
      payment: {
        id: id('pi', 24),
        method: 'card',
        card: { brand: 'visa', last4: String(int(0, 9999)).padStart(4, '0'), exp: `${int(1, 12)}/${int(27, 31)}` },
        paid_at: new Date((created + int(60, 86_400)) * 1000).toISOString(),
      },
      note: '',
    };
    return base;
  };
  // Line items until the invoice nearly fills `bytes`; a note of at most NOTES fills the rest.
  const lines = [line()];
  for (;;) {
    const more = [...lines, line()];
    if (Buffer.byteLength(JSON.stringify(invoice(more))) > bytes - 20) break;
    lines.push(more.at(-1)!);
  }
  const base = invoice(lines);
  const pad = bytes - Buffer.byteLength(JSON.stringify(base));
  if (pad < 0) throw new Error(`an invoice does not fit in ${bytes} bytes`);
  if (pad > NOTES.length) throw new Error(`an invoice leaves ${pad} bytes to fill, more than its note`);
  return { ...base, note: NOTES.slice(0, pad) };
}

export interface CostLine {
  service: string;
  item: string;
  /** Billed units per delivery. */
  quantity: number;
  unit: string;
  usdPerMillion: number;
  /** How the quantity was obtained. */
  basis: string;
}

export interface StoredBytes {
  items: number;
  table: number;
  /** In the indexes as they are (ALL projection). */
  index: number;
  /** In the indexes if they projected keys only. */
  indexKeysOnly: number;
}

export interface FunctionStats {
  invocations: number;
  records: number;
  meanMs: number;
  p50Ms: number;
  p95Ms: number;
  memoryMb: number;
  billedGbSeconds: number;
  billedGbSecondsAt2x: number;
}

export interface ScenarioResult {
  id: ScenarioId;
  title: string;
  events: number;
  deliveries: number;
  endpointsPerEvent: number;
  /** Webhook requests that reached the receiver (attempts, including failed ones). */
  requests: number;
  exactlyOnce: { ok: boolean; missing: number; duplicates: number; unexpected: number; onFirstTry: number };
  functions: Record<FunctionName, FunctionStats>;
  dynamo: DynamoCounts[];
  sqs: SqsCounts[];
  logs: {
    byOrigin: Partial<Record<Origin, LogCounts>>;
    platformBytesPerInvocation: number;
    accessLogBytesPerRequest: number;
  };
  api: { requests: number; billedRequests: number };
  putEvents: { calls: number; entries: number; billedEvents: number };
  outboundBytes: number;
  /** Bytes stored by the items the window created, by item kind (each with 100 B of overhead). */
  storage: Record<string, StoredBytes>;
  /** Fraction of invocations X-Ray records (the default rule's fixed rate). */
  xraySampling: number;
  /** How DynamoDB is billed: on demand (the stack), or provisioned at a target utilization. */
  dynamoCapacity: { mode: 'on-demand' } | { mode: 'provisioned'; utilization: number };
  /** Deliveries whose first attempt succeeded (one request, answered 2xx). */
  firstTrySuccesses: number;
  lines: CostLine[];
  totalPerMillion: number;
  /** The total with every Lambda duration doubled (local durations stand in for Lambda's). */
  totalPerMillionAt2xDuration: number;
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
export function percentile(xs: number[], p: number): number {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] ?? 0;
}

// ---- running the scenarios --------------------------------------------------------------------

interface Plan {
  /** Endpoint URLs by app. */
  apps: Array<{ appId: string; urls: string[] }>;
  send(): Promise<Array<{ appId: string; eventId: string }>>;
  attemptsPerDelivery: number;
}

async function createEndpoints(
  h: Harness,
  apps: number,
  endpointsPerApp: number,
  behaviours: Array<number>,
  perEvent = false,
): Promise<Plan['apps']> {
  const out: Plan['apps'] = [];
  const one = async () => {
    const appId = await h.api.createApp('bench');
    const urls: string[] = [];
    for (let e = 0; e < endpointsPerApp; e++) {
      const url = h.receiver.endpoint(behaviours, { perEvent });
      const r = await h.api.call<{ id: string }>('POST', `/v1/apps/${appId}/endpoints`, { url });
      if (r.status !== 201) throw new Error(`create endpoint: ${r.status} ${JSON.stringify(r.body)}`);
      urls.push(url);
    }
    out.push({ appId, urls });
  };
  // A few at a time: setup is not measured, only its duration matters.
  for (let i = 0; i < apps; i += 8) await Promise.all(Array.from({ length: Math.min(8, apps - i) }, one));
  return out;
}

async function plan(h: Harness, id: ScenarioId, deliveries: number, runId: string): Promise<Plan> {
  const type = 'invoice.paid';
  const eventId = (n: number) => `${runId}-${id}-${n}`;
  // Events carry no id of their own unless the scenario is about one: hookrelay generates it.
  const single = async (apps: Plan['apps'], events: number, appOf: (n: number) => string, ownIds = false) => {
    const accepted: Array<{ appId: string; eventId: string }> = [];
    for (let n = 0; n < events; n++) {
      const appId = appOf(n);
      const r = await h.api.sendEvent(appId, { type, data: eventData(), ...(ownIds ? { id: eventId(n) } : {}) });
      if (r.status !== 202) throw new Error(`POST /events: ${r.status} ${JSON.stringify(r.body)}`);
      accepted.push({ appId, eventId: r.body.id });
    }
    return accepted;
  };

  switch (id) {
    case 'single': {
      const apps = await createEndpoints(h, 1, 1, [200]);
      return { apps, attemptsPerDelivery: 1, send: () => single(apps, deliveries, () => apps[0]!.appId) };
    }
    case 'singleIds': {
      const apps = await createEndpoints(h, 1, 1, [200]);
      return { apps, attemptsPerDelivery: 1, send: () => single(apps, deliveries, () => apps[0]!.appId, true) };
    }
    case 'fanout': {
      const apps = await createEndpoints(h, 1, 10, [200]);
      return {
        apps,
        attemptsPerDelivery: 1,
        send: () => single(apps, Math.ceil(deliveries / 10), () => apps[0]!.appId),
      };
    }
    case 'retry': {
      // A tenant mix: RETRY_APPS apps whose events follow a Zipf law (the busiest sends about a
      // quarter, the quietest a fiftieth of that), each endpoint failing every event's first
      // attempt (its script runs per event) and accepting the second.
      const apps = await createEndpoints(h, RETRY_APPS, 1, [500, 200], true);
      const appOf = zipfPicker(apps.map((a) => a.appId));
      return { apps, attemptsPerDelivery: 2, send: () => single(apps, deliveries, appOf) };
    }
    case 'batch': {
      const apps = await createEndpoints(h, 1, 1, [200]);
      const appId = apps[0]!.appId;
      return {
        apps,
        attemptsPerDelivery: 1,
        async send() {
          const accepted: Array<{ appId: string; eventId: string }> = [];
          for (let n = 0; n < deliveries; n += 100) {
            const events = Array.from({ length: Math.min(100, deliveries - n) }, () => ({ type, data: eventData() }));
            const r = await h.api.call<{ items: Array<{ id?: string; error?: unknown }> }>(
              'POST',
              `/v1/apps/${appId}/events/batch`,
              { events },
            );
            if (r.status !== 202 || r.body.items.some((i) => i.id === undefined))
              throw new Error(`POST /events/batch: ${r.status} ${JSON.stringify(r.body).slice(0, 300)}`);
            accepted.push(...r.body.items.map((i) => ({ appId, eventId: i.id! })));
          }
          return accepted;
        },
      };
    }
    case 'putevents': {
      const apps = await createEndpoints(h, 1, 1, [200]);
      const appId = apps[0]!.appId;
      return {
        apps,
        attemptsPerDelivery: 1,
        async send() {
          const accepted: Array<{ appId: string; eventId: string }> = [];
          for (let n = 0; n < deliveries; n += 10) {
            const ids = Array.from({ length: Math.min(10, deliveries - n) }, (_, i) => eventId(n + i));
            await h.sendPutEvents(
              ids.map((id) => ({
                Source: 'com.example.billing',
                DetailType: type,
                Detail: JSON.stringify({ appId, id, data: eventData() }),
              })),
            );
            accepted.push(...ids.map((id) => ({ appId, eventId: id })));
          }
          return accepted;
        },
      };
    }
  }
}

/** Apps in the retry scenario's tenant mix. */
export const RETRY_APPS = 20;

/**
 * The n-th event's app, drawn from a Zipf law over `apps` (weight 1/rank): a deterministic
 * sequence, so two runs send the same mix.
 */
export function zipfPicker<T>(apps: T[]): (n: number) => T {
  const weights = apps.map((_, i) => 1 / (i + 1));
  const total = weights.reduce((a, b) => a + b, 0);
  const cumulative: number[] = [];
  let acc = 0;
  for (const w of weights) cumulative.push((acc += w / total));
  return (n) => {
    // A low-discrepancy sequence in [0, 1): the golden ratio's fractional multiples.
    const u = (n * 0.6180339887498949) % 1;
    const i = cumulative.findIndex((c) => u < c);
    return apps[i < 0 ? apps.length - 1 : i]!;
  };
}

/** Every accepted (event, endpoint) pair got exactly the expected number of requests. */
export function checkExactlyOnce(
  received: Received[],
  accepted: Array<{ appId: string; eventId: string }>,
  urlsByApp: Map<string, string[]>,
  attempts: number,
): ScenarioResult['exactlyOnce'] {
  const counts = new Map<string, number>();
  for (const r of received) {
    const key = `${r.path} ${r.headers['webhook-id'] ?? ''}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  let missing = 0;
  let duplicates = 0;
  let onFirstTry = 0;
  const expected = new Set<string>();
  for (const { appId, eventId } of accepted) {
    for (const url of urlsByApp.get(appId) ?? []) {
      const key = `${new URL(url).pathname} ${eventId}`;
      expected.add(key);
      const n = counts.get(key) ?? 0;
      if (n < attempts) missing++;
      if (n > attempts) duplicates++;
      if (n === 1) onFirstTry++;
    }
  }
  const unexpected = [...counts.keys()].filter((k) => !expected.has(k)).length;
  return {
    ok: missing === 0 && duplicates === 0 && unexpected === 0 && expected.size > 0,
    missing,
    duplicates,
    unexpected,
    onFirstTry,
  };
}

/** Bytes of a webhook request on the wire (request line, headers, body), as the receiver got it. */
export function requestBytes(r: Received): number {
  const head = `${r.method} ${r.path} HTTP/1.1\r\n${Object.entries(r.headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('')}\r\n`;
  return Buffer.byteLength(head) + Buffer.byteLength(r.body);
}

export async function runScenario(
  h: Harness,
  id: ScenarioId,
  deliveries: number,
  deployed: DeployedConfig,
  runId: string,
): Promise<ScenarioResult> {
  const p = await plan(h, id, deliveries, runId);
  const urlsByApp = new Map(p.apps.map((a) => [a.appId, a.urls]));

  await h.settle(0);
  h.meter.reset();
  h.receiver.received.length = 0;
  Object.assign(h.putEvents, { calls: 0, entries: 0, billedEvents: 0 });

  const accepted = await p.send();
  const endpointsPerEvent = p.apps[0]?.urls.length ?? 1;
  const expectedDeliveries = accepted.length * endpointsPerEvent;
  await h.settle(expectedDeliveries * p.attemptsPerDelivery);
  // The reconcile every event gets once from housekeeping (a lease after it was accepted; a
  // recover run does it now): its reads are part of what a delivery costs.
  await h.stack.runHousekeeping({ recover: true });
  await h.settle(expectedDeliveries * p.attemptsPerDelivery);

  const exactlyOnce = checkExactlyOnce(h.receiver.received, accepted, urlsByApp, p.attemptsPerDelivery);
  const m = h.meter;
  const functions = {} as Record<FunctionName, FunctionStats>;
  for (const fn of Object.keys(m.lambda) as FunctionName[]) {
    const l = m.lambda[fn];
    const memoryMb = deployed.functions[fn].memoryMb;
    const gbS = (ms: number) => (Math.ceil(ms) / 1000) * (memoryMb / 1024);
    functions[fn] = {
      invocations: l.invocations,
      records: l.records,
      meanMs: l.invocations ? sum(l.durationsMs) / l.invocations : 0,
      p50Ms: percentile(l.durationsMs, 50),
      p95Ms: percentile(l.durationsMs, 95),
      memoryMb,
      billedGbSeconds: sum(l.durationsMs.map(gbS)),
      billedGbSecondsAt2x: sum(l.durationsMs.map((ms) => gbS(2 * ms))),
    };
  }

  // Storage: the items this window created, as they are at its end, in the table and its indexes.
  const storage: Record<string, StoredBytes> = {};
  for (const key of m.created.values()) {
    const item = m.shadow.get(key);
    if (!item) continue;
    const size = itemBytes(item) + 100;
    const s = (storage[kindOf(item)] ??= { items: 0, table: 0, index: 0, indexKeysOnly: 0 });
    s.items++;
    s.table += size;
    for (const i of INDEXES) {
      if (item[i.pk] === undefined || item[i.sk] === undefined) continue;
      s.index += itemBytes(indexEntry(item, i)) + 100;
      s.indexKeysOnly += itemBytes(indexEntry(item, { ...i, projection: 'KEYS_ONLY' })) + 100;
    }
  }

  const samplePath = `/v1/apps/${p.apps[0]?.appId ?? 'app'}/events${id === 'batch' ? '/batch' : ''}`;
  const result: ScenarioResult = {
    id,
    title: SCENARIOS[id],
    events: accepted.length,
    deliveries: expectedDeliveries,
    endpointsPerEvent,
    requests: h.receiver.received.length,
    exactlyOnce,
    functions,
    // Copies: the meter's objects go on counting (the next scenario's setup runs before its reset).
    dynamo: structuredClone([...m.dynamo.values()]),
    sqs: structuredClone([...m.sqs.values()]),
    logs: {
      byOrigin: structuredClone(Object.fromEntries(m.logs)),
      // platform.start / runtimeDone / report are INFO records: none at a system log level of WARN.
      platformBytesPerInvocation: ['DEBUG', 'INFO'].includes(deployed.functions.delivery.systemLogLevel)
        ? platformLogBytes(deployed.functions.delivery.memoryMb)
        : 0,
      accessLogBytesPerRequest: accessLogBytes(deployed.accessLogFormat, samplePath),
    },
    api: { requests: m.api.requests, billedRequests: m.api.billedRequests },
    putEvents: { ...h.putEvents },
    outboundBytes: sum(h.receiver.received.map(requestBytes)),
    storage,
    xraySampling: XRAY_DEFAULT_SAMPLING.fixedRate,
    dynamoCapacity: { mode: 'on-demand' },
    firstTrySuccesses: p.attemptsPerDelivery === 1 ? exactlyOnce.onFirstTry : 0,
    lines: [],
    totalPerMillion: 0,
    totalPerMillionAt2xDuration: 0,
  };
  result.lines = priceScenario(result);
  result.totalPerMillion = sum(result.lines.map((l) => l.usdPerMillion));
  result.totalPerMillionAt2xDuration = sum(priceScenario(result, 2).map((l) => l.usdPerMillion));
  return result;
}

// ---- pricing ----------------------------------------------------------------------------------

/**
 * The lines Lambda writes to CloudWatch for each invocation with the JSON log format
 * (platform.start, platform.runtimeDone, platform.report: the JSON forms of START, END and
 * REPORT), built from the documented record shapes with the stack's values, and measured.
 */
export function platformLogBytes(memoryMb: number): number {
  const time = '2026-11-22T21:55:26.898Z';
  const requestId = '6d68ca91-49c9-448d-89b8-7ca3e6dc66aa';
  const tracing = {
    spanId: '1a2b3c4d5e6f7a8b',
    type: 'X-Amzn-Trace-Id',
    value: 'Root=1-6740f1a2-3b4c5d6e7f8a9b0c1d2e3f4a;Parent=1a2b3c4d5e6f7a8b;Sampled=0;Lineage=1:a1b2c3d4:0',
  };
  const lines = [
    { time, type: 'platform.start', record: { requestId, version: '$LATEST', tracing } },
    {
      time,
      type: 'platform.runtimeDone',
      record: {
        requestId,
        status: 'success',
        tracing,
        spans: [
          { name: 'responseLatency', start: time, durationInMs: 35.123 },
          { name: 'responseDuration', start: time, durationInMs: 0.123 },
        ],
        metrics: { durationMs: 35.987, producedBytes: 120 },
      },
    },
    {
      time,
      type: 'platform.report',
      record: {
        requestId,
        metrics: { durationMs: 35.987, billedDurationMs: 36, memorySizeMB: memoryMb, maxMemoryUsedMB: 98 },
        tracing,
        status: 'success',
      },
    },
  ];
  return sum(lines.map((l) => Buffer.byteLength(JSON.stringify(l)) + LOG_EVENT_OVERHEAD_BYTES));
}

/** One API Gateway access-log line: the stage's format with typical values, measured. */
export function accessLogBytes(format: string, path: string): number {
  const values: Record<string, string> = {
    '$context.requestId': 'Kx1a2bCdIAMEbQ=',
    '$context.identity.sourceIp': '203.0.113.10',
    '$context.requestTime': '22/Nov/2026:21:55:26 +0000',
    '$context.httpMethod': 'POST',
    '$context.path': path,
    '$context.status': '202',
    '$context.protocol': 'HTTP/1.1',
    '$context.responseLength': '96',
    '$context.responseLatency': '37',
    '$context.integrationLatency': '35',
    '$context.integrationErrorMessage': '-',
  };
  const line = format.replace(/\$context\.[A-Za-z.]+/g, (v) => values[v] ?? '-');
  return Buffer.byteLength(line) + LOG_EVENT_OVERHEAD_BYTES;
}

const line = (
  service: string,
  item: string,
  quantity: number,
  price: Price,
  basis: string,
  unit = price.unit,
): CostLine => ({
  service,
  item,
  quantity,
  unit,
  usdPerMillion: quantity * price.usd * 1e6,
  basis,
});

const SQS_NAMES: Record<string, string> = {
  SendMessageBatch: 'SendMessageBatch',
  SendMessage: 'SendMessage',
  ReceiveMessage: 'ReceiveMessage (event source)',
  DeleteMessageBatch: 'DeleteMessageBatch (event source)',
};

/** The scenario's billable lines per delivery; `durationFactor` scales every Lambda duration. */
export function priceScenario(r: ScenarioResult, durationFactor: 1 | 2 = 1): CostLine[] {
  const D = r.deliveries;
  const lines: CostLine[] = [];
  const fnNames = (Object.keys(r.functions) as FunctionName[]).filter((f) => r.functions[f].invocations > 0);

  if (r.api.billedRequests > 0) {
    lines.push(
      line(
        'API Gateway',
        'HTTP API requests',
        r.api.billedRequests / D,
        PRICES.apiGatewayHttpRequest,
        'counted: one per api invocation, 512 KB chunks',
      ),
    );
  }
  if (r.putEvents.billedEvents > 0) {
    lines.push(
      line(
        'EventBridge',
        'PutEvents custom events',
        r.putEvents.billedEvents / D,
        PRICES.eventBridgeCustomEvent,
        'counted: entries put, 64 KB chunks',
      ),
    );
  }
  for (const fn of fnNames) {
    const f = r.functions[fn];
    lines.push(line('Lambda', `${fn}: requests`, f.invocations / D, PRICES.lambdaRequest, 'counted invocations'));
    const gbS = durationFactor === 2 ? f.billedGbSecondsAt2x : f.billedGbSeconds;
    lines.push(
      line(
        'Lambda',
        `${fn}: compute (${f.memoryMb} MB, Arm)`,
        gbS / D,
        PRICES.lambdaArmGbSecond,
        `measured durations${durationFactor === 2 ? ' x2' : ''}, rounded up to 1 ms`,
        'GB-s',
      ),
    );
  }
  for (const s of r.sqs) {
    const where = s.origin === 'event source' ? '' : ` (${s.origin})`;
    lines.push(
      line(
        'SQS',
        `${SQS_NAMES[s.action] ?? s.action}${where}`,
        s.billedRequests / D,
        PRICES.sqsStandardRequest,
        s.origin === 'event source' ? 'counted batches (event source mapping)' : 'counted requests, 64 KB chunks',
        'request',
      ),
    );
  }
  const table = sum(r.dynamo.map((d) => d.tableWriteUnits));
  const reads = sum(r.dynamo.map((d) => d.readUnits));
  const cap = r.dynamoCapacity;
  // Provisioned: a unit-hour is 3,600 unit-seconds, paid for whether used or not (hence /utilization).
  const writePrice: Price =
    cap.mode === 'on-demand'
      ? PRICES.dynamoWriteRequestUnit
      : { ...PRICES.dynamoProvisionedWcuHour, usd: PRICES.dynamoProvisionedWcuHour.usd / 3600 / cap.utilization };
  const readPrice: Price =
    cap.mode === 'on-demand'
      ? PRICES.dynamoReadRequestUnit
      : { ...PRICES.dynamoProvisionedRcuHour, usd: PRICES.dynamoProvisionedRcuHour.usd / 3600 / cap.utilization };
  const how = cap.mode === 'on-demand' ? '' : ` (provisioned, ${cap.utilization * 100} % utilized)`;
  lines.push(
    line(
      'DynamoDB',
      `write units: table${how}`,
      table / D,
      writePrice,
      'ConsumedCapacity reported by DynamoDB (dynalite)',
      'WRU',
    ),
  );
  for (const i of INDEXES) {
    const units = sum(r.dynamo.map((d) => d.indexWriteUnits[i.name] ?? 0));
    lines.push(
      line(
        'DynamoDB',
        `write units: index ${i.name}${how}`,
        units / D,
        writePrice,
        'computed from item images (dynalite reports no index units)',
        'WRU',
      ),
    );
  }
  lines.push(
    line(
      'DynamoDB',
      `read units${how}`,
      reads / D,
      readPrice,
      'ConsumedCapacity reported by DynamoDB (dynalite)',
      'RRU',
    ),
  );
  const monthsStored = RETENTION_DAYS / DAYS_PER_MONTH;
  const stored = Object.values(r.storage);
  const tableBytes = sum(stored.map((s) => s.table));
  const indexBytes = sum(stored.map((s) => s.index));
  lines.push(
    line(
      'DynamoDB',
      `storage, table and indexes (${RETENTION_DAYS}-day retention)`,
      ((tableBytes + indexBytes) / D / 1e9) * monthsStored,
      PRICES.dynamoStorageGbMonth,
      'measured item sizes + 100 B each, kept 30 days',
      'GB-month',
    ),
  );
  lines.push(
    line(
      'DynamoDB',
      'point-in-time recovery',
      (tableBytes / D / 1e9) * monthsStored,
      PRICES.dynamoPitrGbMonth,
      'measured table item sizes, kept 30 days',
      'GB-month',
    ),
  );

  const invocations = sum(fnNames.map((f) => r.functions[f].invocations));
  const fnLogs = Object.values(r.logs.byOrigin);
  const appBytes = sum(
    fnLogs.map((l) => l.bytes - l.metricBytes + (l.lines - l.metricLines) * LOG_EVENT_OVERHEAD_BYTES),
  );
  const emfBytes = sum(fnLogs.map((l) => l.metricBytes + l.metricLines * LOG_EVENT_OVERHEAD_BYTES));
  const gb = (bytes: number) => bytes / D / 1e9;
  if (appBytes > 0) {
    lines.push(
      line(
        'CloudWatch',
        'Logs: function log lines',
        gb(appBytes),
        PRICES.cloudWatchLogsIngestGb,
        'measured bytes the handlers logged',
        'GB',
      ),
    );
  }
  lines.push(
    line(
      'CloudWatch',
      'Logs: EMF metric lines',
      gb(emfBytes),
      PRICES.cloudWatchLogsIngestGb,
      'measured bytes of the metrics the handlers flushed',
      'GB',
    ),
  );
  lines.push(
    line(
      'CloudWatch',
      'Logs: Lambda platform lines',
      gb(invocations * r.logs.platformBytesPerInvocation),
      PRICES.cloudWatchLogsIngestGb,
      '3 lines per counted invocation, sized from the documented JSON records',
      'GB',
    ),
  );
  if (r.api.requests > 0 && r.logs.accessLogBytesPerRequest > 0) {
    lines.push(
      line(
        'CloudWatch',
        'Logs: API access log',
        gb(r.api.requests * r.logs.accessLogBytesPerRequest),
        PRICES.cloudWatchLogsIngestGb,
        "one line per counted request, the stage's format",
        'GB',
      ),
    );
  }
  lines.push(
    line(
      'CloudWatch',
      'custom metrics (EMF)',
      0,
      PRICES.cloudWatchCustomMetricMonth,
      'priced per metric-month: a flat $0.30 per metric, not per delivery',
      'metric-month',
    ),
  );
  if (r.xraySampling > 0) {
    lines.push(
      line(
        'X-Ray',
        'traces recorded',
        (r.xraySampling * invocations) / D,
        PRICES.xrayTraceRecorded,
        `one trace per invocation, ${r.xraySampling * 100} % sampled (default rule)`,
        'trace',
      ),
    );
  }
  lines.push(
    line(
      'Data transfer',
      'webhooks out to the internet',
      r.outboundBytes / D / 1e9,
      PRICES.dataTransferOutGb,
      'measured request bytes at the receiver',
      'GB',
    ),
  );
  return lines;
}

/** Lines sorted by cost, most expensive first. */
export const topLines = (r: ScenarioResult, n = 3) =>
  [...r.lines].sort((a, b) => b.usdPerMillion - a.usdPerMillion).slice(0, n);
