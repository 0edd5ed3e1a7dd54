/**
 * Counting what an embedded-stack run would be billed for, at the boundaries where AWS bills it:
 *
 * - Lambda: every handler is wrapped (the local stack takes handler overrides), so each
 *   invocation is counted, with its records and its wall-clock duration, under the function's name.
 * - DynamoDB and SQS: middleware on the handlers' own SDK clients (the clients of the container
 *   the harness builds for them, functions/container.ts) sees every request the functions make, adds
 *   `ReturnConsumedCapacity: 'TOTAL'` to DynamoDB ones, and records units and billed requests.
 * - The SQS event source (Lambda's pollers): one ReceiveMessage per delivery invocation and one
 *   DeleteMessageBatch per ten records it succeeded on, as the event source mapping does. The
 *   local poller's own calls (it also asks the emulator for queue depths) are not AWS's, and are
 *   not counted.
 * - API Gateway: one request per api invocation (the local shim turns each HTTP request into one).
 * - Logs: what the handlers write to stdout and stderr, attributed to the function whose
 *   invocation wrote it (AsyncLocalStorage), is counted and kept off the terminal.
 *
 * Everything a function does runs inside `origin.run(name, ...)`, so a call is attributed to the
 * function that made it even when invocations overlap.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import type { Context } from 'aws-lambda';
import type { Container } from '../functions/container';
import type { FunctionName, Handlers } from '../infra/local/lambda';
import {
  INDEXES,
  ItemShadow,
  indexWrites,
  kindOf,
  updateName,
  writeUnits,
  type IndexWrite,
  type WireItem,
} from './dynamo-capacity';
import { BILLING_CHUNKS } from './prices';

/** `rule target`: EventBridge putting each matched event on the SQS ingest queue (a billed SendMessage). */
export type Origin = FunctionName | 'event source' | 'rule target' | 'bench';

/** The function whose invocation is running, for attributing SDK calls and log lines. */
export const origin = new AsyncLocalStorage<FunctionName>();
const currentOrigin = (): Origin => origin.getStore() ?? 'bench';

export interface LambdaCounts {
  invocations: number;
  records: number;
  /** Wall-clock duration of each invocation, ms. */
  durationsMs: number[];
}

export interface DynamoCounts {
  origin: Origin;
  /** The API action (PutItem, Query, ...). */
  action: string;
  /** What the call was for, e.g. "put event" or "update delivery: claim (lease)". */
  label: string;
  calls: number;
  /** Items written (a BatchWriteItem counts each of its items). */
  items: number;
  readUnits: number;
  /** Write units on the table itself, as reported by DynamoDB. */
  tableWriteUnits: number;
  /** Write units on each global secondary index, computed (see dynamo-capacity.ts). */
  indexWriteUnits: Record<string, number>;
  /** How many index writes of each kind (put, delete, move, update) each index took. */
  indexWriteKinds: Record<string, Record<Exclude<IndexWrite['kind'], 'none'>, number>>;
  conditionFailures: number;
}

export interface SqsCounts {
  origin: Origin;
  action: string;
  calls: number;
  /** Billed requests: each 64 KB chunk of a call's payload is one. */
  billedRequests: number;
  messages: number;
  payloadBytes: number;
}

export interface LogCounts {
  bytes: number;
  lines: number;
  /** Of those, embedded-metric-format lines (Powertools Metrics), which CloudWatch bills as logs. */
  metricBytes: number;
  metricLines: number;
}

/** Write and read units one partition key took (a table partition, or `<index>:<index pk>`). */
export interface KeyUnits {
  wcu: number;
  rcu: number;
}

const emptyLambda = (): LambdaCounts => ({ invocations: 0, records: 0, durationsMs: [] });

/** The counters for one measured window; `reset()` starts a new window, the item shadow stays. */
export class Meter {
  lambda: Record<FunctionName, LambdaCounts> = this.freshLambda();
  dynamo = new Map<string, DynamoCounts>();
  sqs = new Map<string, SqsCounts>();
  logs = new Map<Origin, LogCounts>();
  api = { requests: 0, billedRequests: 0, bodyBytes: 0 };
  /** Units by partition key (the capacity model's input: what lands on each partition). */
  keys = new Map<string, KeyUnits>();
  /** Items written through the instrumented client, as they are now. */
  readonly shadow = new ItemShadow();
  /** Keys of the items created in the current window (for storage estimates). */
  created = new Map<string, WireItem>();
  private inFlight = 0;
  private idleWaiters: Array<() => void> = [];

  private freshLambda(): Record<FunctionName, LambdaCounts> {
    return { api: emptyLambda(), delivery: emptyLambda(), ingest: emptyLambda(), housekeeping: emptyLambda() };
  }

  reset(): void {
    this.lambda = this.freshLambda();
    this.dynamo = new Map();
    this.sqs = new Map();
    this.logs = new Map();
    this.api = { requests: 0, billedRequests: 0, bodyBytes: 0 };
    this.created = new Map();
    this.keys = new Map();
  }

  /** Adds units to a partition key's count. */
  keyUnits(pk: string, wcu: number, rcu: number): void {
    const k = this.keys.get(pk) ?? { wcu: 0, rcu: 0 };
    k.wcu += wcu;
    k.rcu += rcu;
    this.keys.set(pk, k);
  }

  /** Invocations running now. */
  get running(): number {
    return this.inFlight;
  }

  /** Resolves when no invocation is running. */
  idle(): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** One HTTP API request; API Gateway meters each started 512 KB of it as one request. */
  apiRequest(event: { body?: string; isBase64Encoded?: boolean }): void {
    const body = event.body ?? '';
    const bytes = event.isBase64Encoded ? Buffer.from(body, 'base64').length : Buffer.byteLength(body);
    this.api.requests++;
    this.api.billedRequests += Math.max(1, Math.ceil(bytes / BILLING_CHUNKS.apiGatewayBytes));
    this.api.bodyBytes += bytes;
  }

  invocationStarted(): void {
    this.inFlight++;
  }

  invocationEnded(fn: FunctionName, durationMs: number, records: number): void {
    const l = this.lambda[fn];
    l.invocations++;
    l.records += records;
    l.durationsMs.push(durationMs);
    this.inFlight--;
    if (this.inFlight === 0) for (const w of this.idleWaiters.splice(0)) w();
  }

  dynamoCall(
    action: string,
    label: string,
    delta: Partial<Pick<DynamoCounts, 'calls' | 'items' | 'readUnits' | 'tableWriteUnits' | 'conditionFailures'>> & {
      index?: IndexWrite[];
    },
  ): void {
    const o = currentOrigin();
    const key = `${o}|${action}|${label}`;
    let c = this.dynamo.get(key);
    if (!c) {
      c = {
        origin: o,
        action,
        label,
        calls: 0,
        items: 0,
        readUnits: 0,
        tableWriteUnits: 0,
        indexWriteUnits: Object.fromEntries(INDEXES.map((i) => [i.name, 0])),
        indexWriteKinds: Object.fromEntries(INDEXES.map((i) => [i.name, { put: 0, delete: 0, move: 0, update: 0 }])),
        conditionFailures: 0,
      };
      this.dynamo.set(key, c);
    }
    c.calls += delta.calls ?? 0;
    c.items += delta.items ?? 0;
    c.readUnits += delta.readUnits ?? 0;
    c.tableWriteUnits += delta.tableWriteUnits ?? 0;
    c.conditionFailures += delta.conditionFailures ?? 0;
    for (const w of delta.index ?? []) {
      if (w.kind === 'none') continue;
      c.indexWriteUnits[w.index] = (c.indexWriteUnits[w.index] ?? 0) + w.units;
      const kinds = c.indexWriteKinds[w.index];
      if (kinds) kinds[w.kind]++;
    }
  }

  sqsCall(o: Origin, action: string, messages: number, payloadBytes: number, calls = 1): void {
    const key = `${o}|${action}`;
    const c = this.sqs.get(key) ?? { origin: o, action, calls: 0, billedRequests: 0, messages: 0, payloadBytes: 0 };
    c.calls += calls;
    // A call is one request per started 64 KB of payload, and at least one.
    c.billedRequests += Math.max(calls, Math.ceil(payloadBytes / BILLING_CHUNKS.sqsBytes));
    c.messages += messages;
    c.payloadBytes += payloadBytes;
    this.sqs.set(key, c);
  }

  logged(o: Origin, text: string): void {
    const c = this.logs.get(o) ?? { bytes: 0, lines: 0, metricBytes: 0, metricLines: 0 };
    for (const l of text.split('\n')) {
      if (l.trim() === '') continue;
      const bytes = Buffer.byteLength(l) + 1;
      c.bytes += bytes;
      c.lines++;
      if (l.includes('"_aws":')) {
        c.metricBytes += bytes;
        c.metricLines++;
      }
    }
    this.logs.set(o, c);
  }
}

// ---- Lambda -----------------------------------------------------------------------------------

type AnyHandler = (event: unknown, context: Context) => Promise<unknown>;

/** Each real handler over `container`, loaded on first use (the handler modules' factories). */
const realHandlers: Record<FunctionName, (container: () => Container) => Promise<AnyHandler>> = {
  api: async (c) => (await import('../functions/handlers/api')).createApiHandler(c) as unknown as AnyHandler,
  delivery: async (c) =>
    (await import('../functions/handlers/delivery')).createDeliveryHandler(c) as unknown as AnyHandler,
  ingest: async (c) => (await import('../functions/handlers/ingest')).createIngestHandler(c) as unknown as AnyHandler,
  housekeeping: async (c) =>
    (await import('../functions/handlers/housekeeping')).createHousekeepingHandler(c) as unknown as AnyHandler,
};

function recordsIn(fn: FunctionName, event: unknown): number {
  if (fn === 'delivery' || fn === 'ingest') return (event as { Records?: unknown[] }).Records?.length ?? 0;
  return 1;
}

/**
 * The real handlers over `container`, each timed and counted. They are imported on their first
 * call, which the local stack makes only after it has set the environment (Powertools reads it
 * when the modules load; the container when it is built).
 */
export function instrumentedHandlers(
  meter: Meter,
  container: () => Container,
  opts: { oneAtATime?: boolean } = {},
): Handlers {
  const cache = new Map<FunctionName, Promise<AnyHandler>>();
  // On AWS each invocation has an execution environment of its own; here they share one thread,
  // so overlapping invocations would each be timed with the others' work in it. One at a time,
  // an invocation's duration is its own work plus the emulators' answers to its own calls.
  let turn: Promise<void> = Promise.resolve();
  const wrap = (fn: FunctionName): AnyHandler => {
    return async (event, context) => {
      let load = cache.get(fn);
      if (!load) {
        load = realHandlers[fn](container);
        cache.set(fn, load);
      }
      const handler = await load;
      if (fn === 'api') meter.apiRequest(event as { body?: string; isBase64Encoded?: boolean });
      meter.invocationStarted();
      let release = () => {};
      if (opts.oneAtATime) {
        const previous = turn;
        turn = new Promise((resolve) => (release = resolve));
        await previous;
      }
      const started = performance.now();
      let result: unknown;
      try {
        result = await origin.run(fn, () => handler(event, context));
      } finally {
        meter.invocationEnded(fn, performance.now() - started, recordsIn(fn, event));
        release();
      }
      // The delivery and ingest functions both drain SQS queues through event source mappings.
      if (fn === 'delivery' || fn === 'ingest') countEventSourceCalls(meter, event, result);
      return result;
    };
  };
  return {
    api: wrap('api') as Handlers['api'],
    delivery: wrap('delivery') as Handlers['delivery'],
    ingest: wrap('ingest') as Handlers['ingest'],
    housekeeping: wrap('housekeeping') as Handlers['housekeeping'],
  };
}

/** The event source mapping's side of one batch: the receive that got it, the deletes after it. */
function countEventSourceCalls(meter: Meter, event: unknown, result: unknown): void {
  const records = (event as { Records?: Array<{ messageId: string; body: string }> }).Records ?? [];
  const failed = new Set(
    ((result as { batchItemFailures?: Array<{ itemIdentifier: string }> } | undefined)?.batchItemFailures ?? []).map(
      (f) => f.itemIdentifier,
    ),
  );
  const bytes = records.reduce((n, r) => n + Buffer.byteLength(r.body), 0);
  meter.sqsCall('event source', 'ReceiveMessage', records.length, bytes);
  const done = records.filter((r) => !failed.has(r.messageId)).length;
  for (let i = 0; i < done; i += 10) meter.sqsCall('event source', 'DeleteMessageBatch', Math.min(10, done - i), 0);
}

// ---- DynamoDB ---------------------------------------------------------------------------------

type Native = Record<string, unknown>;
type Mw = (
  next: (args: { input: Native }) => Promise<{ output: Native }>,
  context: { commandName?: string },
) => (args: { input: Native }) => Promise<{ output: Native }>;

const wire = (native: unknown): WireItem =>
  marshall(native as Native, { removeUndefinedValues: true, convertClassInstanceToMap: true }) as unknown as WireItem;

const keyOf = (item: WireItem): WireItem => ({ pk: item.pk ?? {}, sk: item.sk ?? {} });
const keyId = (key: WireItem) => `${JSON.stringify(key.pk)}|${JSON.stringify(key.sk)}`;

interface Capacity {
  CapacityUnits?: number;
}

const capacityOf = (output: Native): number => {
  const c = output.ConsumedCapacity as Capacity | Capacity[] | undefined;
  if (c === undefined) return 0;
  return (Array.isArray(c) ? c : [c]).reduce((n, x) => n + (x.CapacityUnits ?? 0), 0);
};

const isConditionFailure = (err: unknown) =>
  (err as { name?: string } | null)?.name === 'ConditionalCheckFailedException';

/** Adds the counting middleware to the handlers' DynamoDB client (idempotent). */
export function instrumentDynamo(meter: Meter, client: DynamoDBDocumentClient): void {
  const mw: Mw = (next, context) => async (args) => {
    const action = (context.commandName ?? 'Unknown').replace(/Command$/, '');
    const input = args.input;
    input.ReturnConsumedCapacity = 'TOTAL';
    // The new image of an updated item, for its index writes; the adapters read no Attributes.
    const wantsNewImage = action === 'UpdateItem' && input.ReturnValues === undefined;
    if (wantsNewImage) input.ReturnValues = 'ALL_NEW';
    let output: Native;
    try {
      ({ output } = await next(args));
    } catch (err) {
      if (isConditionFailure(err)) recordConditionFailure(meter, action, input);
      throw err;
    }
    recordDynamo(meter, action, input, output);
    if (wantsNewImage) delete output.Attributes;
    return { output } as never;
  };
  client.middlewareStack.add(mw as never, {
    step: 'initialize',
    priority: 'high',
    name: 'benchDynamoCapacity',
    override: true,
  });
}

function recordConditionFailure(meter: Meter, action: string, input: Native): void {
  const key = wire(input.Key ?? input.Item);
  const before = meter.shadow.get(keyOf(key));
  // A failed condition still consumes the write: the existing item's size, at least one unit.
  const label =
    action === 'UpdateItem' ? `update ${kindOf(key)}: ${updateName(input)}` : `${verb(action)} ${kindOf(key)}`;
  meter.dynamoCall(action, label, { calls: 1, items: 1, tableWriteUnits: writeUnits(before), conditionFailures: 1 });
  meter.keyUnits(pkOf(key), writeUnits(before), 0);
}

const pkOf = (item: WireItem | undefined): string => String((item?.pk?.S as string | undefined) ?? '');

const verb = (action: string) => ({ PutItem: 'put', DeleteItem: 'delete', UpdateItem: 'update' })[action] ?? action;

function recordDynamo(meter: Meter, action: string, input: Native, output: Native): void {
  const units = capacityOf(output);
  switch (action) {
    case 'PutItem': {
      const item = wire(input.Item);
      write(meter, action, `put ${kindOf(item)}`, keyOf(item), item, units);
      return;
    }
    case 'UpdateItem': {
      const key = wire(input.Key);
      const after = output.Attributes === undefined ? undefined : wire(output.Attributes);
      write(meter, action, `update ${kindOf(key)}: ${updateName(input)}`, key, after, units);
      return;
    }
    case 'DeleteItem': {
      const key = wire(input.Key);
      write(meter, action, `delete ${kindOf(key)}`, key, undefined, units);
      return;
    }
    case 'BatchWriteItem': {
      const requests = Object.values((input.RequestItems ?? {}) as Record<string, Native[]>).flat();
      const unprocessed = new Set(
        Object.values((output.UnprocessedItems ?? {}) as Record<string, Native[]>)
          .flat()
          .map((r) => JSON.stringify(r)),
      );
      const done = requests.filter((r) => !unprocessed.has(JSON.stringify(r)));
      // The table's units are reported for the whole batch; index writes are item by item.
      let first = true;
      for (const r of done) {
        const put = r.PutRequest as { Item: Native } | undefined;
        const del = r.DeleteRequest as { Key: Native } | undefined;
        const item = put ? wire(put.Item) : undefined;
        const key = item ? keyOf(item) : wire(del?.Key);
        write(meter, action, `batch ${put ? 'put' : 'delete'} ${kindOf(key)}`, key, item, first ? units : 0, true);
        first = false;
      }
      if (done.length === 0) meter.dynamoCall(action, 'batch write (nothing processed)', { calls: 1 });
      return;
    }
    case 'Query': {
      const index = (input.IndexName as string | undefined) ?? 'table';
      const values = (input.ExpressionAttributeValues ?? {}) as Native;
      const fullPk = String(values[':pk'] ?? values[':p'] ?? '');
      const pk = fullPk.replace(/#.*$/, '#');
      // A query is billed at least one read unit's worth, even when it finds nothing.
      const min = input.ConsistentRead === true ? 1 : 0.5;
      meter.dynamoCall(action, `query ${index} ${pk}`, { calls: 1, readUnits: Math.max(min, units) });
      meter.keyUnits(index === 'table' ? fullPk : `${index}:${fullPk}`, 0, Math.max(min, units));
      return;
    }
    case 'GetItem':
      meter.dynamoCall(action, `get ${kindOf(wire(input.Key))}`, { calls: 1, readUnits: units });
      meter.keyUnits(pkOf(wire(input.Key)), 0, units);
      return;
    case 'BatchGetItem': {
      const keys = Object.values((input.RequestItems ?? {}) as Record<string, { Keys: Native[] }>).flatMap(
        (t) => t.Keys,
      );
      const kinds = [...new Set(keys.map((k) => kindOf(wire(k))))].join(', ');
      meter.dynamoCall(action, `batch get (${kinds})`, { calls: 1, items: keys.length, readUnits: units });
      // The batch's units, shared over its keys (each item is read on its own partition).
      for (const k of keys) meter.keyUnits(pkOf(wire(k)), 0, units / keys.length);
      return;
    }
    default:
      meter.dynamoCall(action, action, { calls: 1, readUnits: units });
  }
}

function write(
  meter: Meter,
  action: string,
  label: string,
  key: WireItem,
  after: WireItem | undefined,
  tableUnits: number,
  batched = false,
): void {
  const before = meter.shadow.get(key);
  const index = indexWrites(before, after);
  // By partition: the table's own units (a batch reports its total once: each item is sized
  // instead), and each index entry's on the index partition it lands on or leaves.
  meter.keyUnits(pkOf(key), batched ? writeUnits(after) : tableUnits, 0);
  for (const w of index) {
    if (w.kind === 'none') continue;
    const spec = INDEXES.find((i) => i.name === w.index)!;
    const at = (item: WireItem | undefined) => `${w.index}:${String((item?.[spec.pk]?.S as string | undefined) ?? '')}`;
    if (w.kind === 'move') {
      meter.keyUnits(at(before), w.units / 2, 0);
      meter.keyUnits(at(after), w.units / 2, 0);
    } else meter.keyUnits(at(w.kind === 'delete' ? before : after), w.units, 0);
  }
  if (after) meter.shadow.set(after);
  else meter.shadow.delete(key);
  if (!before && after) meter.created.set(keyId(key), key);
  meter.dynamoCall(action, label, { calls: batched ? 0 : 1, items: 1, tableWriteUnits: tableUnits, index });
  if (batched && tableUnits > 0) meter.dynamoCall(action, label, { calls: 1 });
}

// ---- SQS --------------------------------------------------------------------------------------

/** Adds the counting middleware to the handlers' SQS client (idempotent). */
export function instrumentSqs(meter: Meter, client: SQSClient): void {
  const mw: Mw = (next, context) => async (args) => {
    const action = (context.commandName ?? 'Unknown').replace(/Command$/, '');
    const input = args.input;
    const entries = Array.isArray(input.Entries) ? (input.Entries as Native[]) : [input];
    const bodies = entries.map((e) => (typeof e.MessageBody === 'string' ? e.MessageBody : ''));
    const bytes = bodies.reduce((n, b) => n + Buffer.byteLength(b), 0);
    const result = await next(args);
    meter.sqsCall(currentOrigin(), action, bodies.filter((b) => b !== '').length, bytes);
    return result;
  };
  client.middlewareStack.add(mw as never, {
    step: 'initialize',
    priority: 'high',
    name: 'benchSqsRequests',
    override: true,
  });
}

// ---- logs -------------------------------------------------------------------------------------

/**
 * Routes what the functions write to stdout and stderr into the meter instead of the terminal;
 * writes made outside any invocation (the benchmark's own) pass through. Returns the undo.
 */
export function captureFunctionLogs(meter: Meter): () => void {
  const streams = [process.stdout, process.stderr] as const;
  const originals = streams.map((s) => s.write.bind(s));
  streams.forEach((stream, i) => {
    const original = originals[i]!;
    stream.write = ((
      chunk: string | Uint8Array,
      encodingOrCb?: BufferEncoding | ((err?: Error | null) => void),
      cb?: (err?: Error | null) => void,
    ) => {
      const fn = origin.getStore();
      if (fn === undefined) return original(chunk as string, encodingOrCb as BufferEncoding, cb);
      meter.logged(fn, typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
      const done = typeof encodingOrCb === 'function' ? encodingOrCb : cb;
      done?.(null);
      return true;
    }) as typeof stream.write;
  });
  return () => {
    streams.forEach((stream, i) => {
      stream.write = originals[i] as typeof stream.write;
    });
  };
}
