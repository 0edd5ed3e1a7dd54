/**
 * A PutEvents endpoint speaking the AWS JSON 1.1 protocol, so an unmodified EventBridge client
 * (AWS_ENDPOINT_URL_EVENTBRIDGE pointed here) publishes to the local stack, plus the one rule the
 * stack has: custom events (any Source not starting with `aws.`) go to its target, the ingest
 * queue, as the EventBridge event JSON, as EventBridge puts them on an SQS target.
 *
 * An entry is answered with its EventId only once its event is on the target queue (and, with
 * a data dir, on disk: durable-queues.ts): that is what EventBridge promises once PutEvents
 * answers, that the event is kept and will reach the target. Where the queue cannot take it, the entry fails
 * with `InternalFailure`, which AWS SDK users already retry (FailedEntryCount > 0).
 *
 * The local endpoint has one bus, `hookrelay`. `default`, or no EventBusName at all, is taken as
 * that bus too, so producers work without configuration; any other name is refused per entry,
 * as AWS refuses a bus that does not exist.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { EventBridgeEvent } from 'aws-lambda';
import type { Log } from './log';
import { LOCAL_ACCOUNT_ID, LOCAL_REGION } from './lambda';
import { BodyTooLargeError, readBody } from './net';

export const LOCAL_EVENT_BUS_NAME = 'hookrelay';
const BUS_ALIASES = new Set([LOCAL_EVENT_BUS_NAME, 'default']);
const MAX_ENTRIES = 10;
/**
 * AWS's limit on the summed size of a request's entries (computed as AWS documents it): 1 MiB
 * since EventBridge raised it from 256 KB. An event may therefore carry more `data` than
 * hookrelay accepts (256 KB), and it is the ingest that refuses it, to the ingest DLQ.
 */
export const MAX_ENTRIES_BYTES = 1024 * 1024;
/** Room for JSON escaping around 1 MiB of entries. */
const MAX_REQUEST_BYTES = 4 * MAX_ENTRIES_BYTES;

/** Puts one event on the rule's target (the ingest queue); rejects when it could not. */
export type RuleTarget = (event: EventBridgeEvent<string, unknown>) => Promise<void>;

export interface PutEventsOptions {
  target: RuleTarget;
  log: Log;
  /** The bus's name in the template, accepted besides `hookrelay` and `default`. */
  busNames?: string[];
}

export interface PutEventsEndpoint {
  listener(req: IncomingMessage, res: ServerResponse): void;
  /** Resolves once the PutEvents requests being answered now are answered. */
  drain(): Promise<void>;
}

interface ResultEntry {
  EventId?: string;
  ErrorCode?: string;
  ErrorMessage?: string;
}

class RequestError extends Error {
  constructor(
    readonly type: string,
    message: string,
  ) {
    super(message);
  }
}

export function putEventsEndpoint(opts: PutEventsOptions): PutEventsEndpoint {
  const running = new Set<Promise<void>>();

  async function route(event: EventBridgeEvent<string, unknown>): Promise<ResultEntry> {
    if (!matchesRule(event)) return { EventId: event.id };
    try {
      await opts.target(event);
      return { EventId: event.id };
    } catch (err) {
      opts.log.error(`PutEvents: event ${event.id} could not be put on the ingest queue; the entry fails`, err);
      return { ErrorCode: 'InternalFailure', ErrorMessage: 'The event could not be delivered to its target; retry.' };
    }
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const target = String(req.headers['x-amz-target'] ?? '');
    if (req.method !== 'POST' || target !== 'AWSEvents.PutEvents') {
      throw new RequestError('UnknownOperationException', `unknown operation ${target || req.method || ''}`);
    }
    let input: unknown;
    try {
      input = JSON.parse((await readBody(req, MAX_REQUEST_BYTES)).toString('utf8'));
    } catch (err) {
      if (err instanceof BodyTooLargeError) throw new RequestError('ValidationException', 'request is too large');
      throw new RequestError('SerializationException', 'request body is not valid JSON');
    }
    const entries = validateRequest(input);
    const now = new Date();
    const results: ResultEntry[] = await Promise.all(
      entries.map((entry) => {
        const error = entryError(entry, opts.busNames);
        return error ? error : route(toEvent(entry, now));
      }),
    );
    const failed = results.filter((r) => r.ErrorCode).length;
    sendJson(res, 200, { FailedEntryCount: failed, Entries: results });
  }

  return {
    listener(req, res) {
      const run = handle(req, res).catch((err: unknown) => {
        if (err instanceof RequestError) {
          sendJson(res, 400, { __type: err.type, message: err.message });
          return;
        }
        opts.log.error('PutEvents failed', err);
        sendJson(res, 500, { __type: 'InternalException', message: 'internal error' });
      });
      running.add(run);
      void run.finally(() => running.delete(run));
    },
    async drain() {
      while (running.size > 0) await Promise.allSettled([...running]);
    },
  };
}

type Entry = Record<string, unknown>;

/** Whole-request checks; AWS rejects these with a 400 before looking at any entry. */
function validateRequest(input: unknown): Entry[] {
  const entries = (input as { Entries?: unknown } | null)?.Entries;
  if (!Array.isArray(entries)) {
    throw new RequestError(
      'ValidationException',
      "1 validation error detected: Value null at 'entries' failed to satisfy constraint: Member must not be null",
    );
  }
  if (entries.length < 1 || entries.length > MAX_ENTRIES) {
    const bound = entries.length < 1 ? 'greater than or equal to 1' : `less than or equal to ${MAX_ENTRIES}`;
    throw new RequestError(
      'ValidationException',
      `1 validation error detected: Value at 'entries' failed to satisfy constraint: Member must have length ${bound}`,
    );
  }
  const problems: string[] = [];
  entries.forEach((e: unknown, i) => {
    if (typeof e !== 'object' || e === null) problems.push(`Value at 'entries.${i + 1}.member' must be a structure`);
    const entry = (e ?? {}) as Entry;
    const tooLong = (field: string, key: string, max: number) => {
      const v = entry[field];
      if (typeof v === 'string' && v.length > max) {
        problems.push(
          `Value at 'entries.${i + 1}.member.${key}' failed to satisfy constraint: Member must have length less than or equal to ${max}`,
        );
      }
    };
    tooLong('Source', 'source', 256);
    tooLong('DetailType', 'detailType', 128);
    if (Array.isArray(entry.Resources) && entry.Resources.length > 100) {
      problems.push(
        `Value at 'entries.${i + 1}.member.resources' failed to satisfy constraint: Member must have length less than or equal to 100`,
      );
    }
  });
  if (problems.length > 0) {
    throw new RequestError(
      'ValidationException',
      `${problems.length} validation error${problems.length > 1 ? 's' : ''} detected: ${problems.join('; ')}`,
    );
  }
  const total = (entries as Entry[]).reduce((sum, e) => sum + entrySize(e), 0);
  if (total > MAX_ENTRIES_BYTES) {
    throw new RequestError('ValidationException', 'Total size of the entries in the request is over the limit.');
  }
  return entries as Entry[];
}

/** Entry size as AWS computes it: Time counts 14 bytes; strings count their UTF-8 bytes. */
export function entrySize(e: Entry): number {
  const bytes = (v: unknown) => (typeof v === 'string' ? Buffer.byteLength(v, 'utf8') : 0);
  const resources = Array.isArray(e.Resources) ? e.Resources.reduce((s: number, r: unknown) => s + bytes(r), 0) : 0;
  return (e.Time === undefined ? 0 : 14) + bytes(e.Source) + bytes(e.DetailType) + bytes(e.Detail) + resources;
}

/** Per-entry checks, with AWS's codes and messages. */
function entryError(e: Entry, busNames: string[] = []): ResultEntry | undefined {
  for (const field of ['Source', 'DetailType', 'Detail'] as const) {
    if (typeof e[field] !== 'string' || e[field] === '') {
      return {
        ErrorCode: 'InvalidArgument',
        ErrorMessage: `Parameter ${field} is not valid. Reason: ${field} is a required argument.`,
      };
    }
  }
  if (!isJsonObject(e.Detail as string)) return { ErrorCode: 'MalformedDetail', ErrorMessage: 'Detail is malformed.' };
  // The `aws.` prefix is reserved for AWS services: a producer may not publish under it.
  if ((e.Source as string).startsWith('aws.')) {
    return { ErrorCode: 'NotAuthorizedForSourceException', ErrorMessage: 'Not authorized for the source.' };
  }
  const bus = busName(e.EventBusName);
  if (bus !== undefined && !BUS_ALIASES.has(bus) && !busNames.includes(bus)) {
    return { ErrorCode: 'ResourceNotFoundException', ErrorMessage: `Event bus ${bus} does not exist.` };
  }
  return undefined;
}

/** A bus is named by its name or its ARN (`arn:aws:events:region:account:event-bus/name`). */
function busName(value: unknown): string | undefined {
  if (typeof value !== 'string' || value === '') return undefined;
  return value.startsWith('arn:') ? value.slice(value.lastIndexOf('/') + 1) : value;
}

function isJsonObject(text: string): boolean {
  try {
    const v: unknown = JSON.parse(text);
    return typeof v === 'object' && v !== null && !Array.isArray(v);
  } catch {
    return false;
  }
}

/** The event as EventBridge delivers it to a target. */
function toEvent(e: Entry, now: Date): EventBridgeEvent<string, unknown> {
  // The SDK sends Time as epoch seconds (the JSON protocol's timestamp format).
  const time = typeof e.Time === 'number' ? new Date(e.Time * 1000) : now;
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': e.DetailType as string,
    source: e.Source as string,
    account: LOCAL_ACCOUNT_ID,
    time: time.toISOString().replace(/\.\d{3}Z$/, 'Z'),
    region: LOCAL_REGION,
    resources: Array.isArray(e.Resources) ? e.Resources.filter((r): r is string => typeof r === 'string') : [],
    detail: JSON.parse(e.Detail as string) as unknown,
  };
}

/**
 * The stack's one rule: every custom event on the bus. `aws.` sources are already refused at
 * PutEvents; the check stays so the rule reads as it is written in the CDK stack.
 */
function matchesRule(event: EventBridgeEvent<string, unknown>): boolean {
  return !event.source.startsWith('aws.');
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/x-amz-json-1.1',
    'content-length': Buffer.byteLength(text),
    'x-amzn-requestid': randomUUID(),
  });
  res.end(text);
}
