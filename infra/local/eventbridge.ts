/**
 * A PutEvents endpoint speaking the AWS JSON 1.1 protocol, so an unmodified EventBridge client
 * (AWS_ENDPOINT_URL_EVENTBRIDGE pointed here) publishes to the local stack, plus the one rule the
 * stack has: custom events (any Source not starting with `aws.`) go to the ingest function,
 * invoked asynchronously with retries, as Lambda does for EventBridge targets.
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
/** AWS's limit on the summed size of a request's entries (computed as AWS documents it). */
export const MAX_ENTRIES_BYTES = 256 * 1024;
/** Lambda retries a failed asynchronous invocation twice (after ~1 and ~2 minutes on AWS). */
const DEFAULT_RETRY_DELAYS_MS = [1_000, 2_000];

type IngestInvoker = (event: EventBridgeEvent<string, unknown>) => Promise<void>;

export interface PutEventsOptions {
  invoke: IngestInvoker;
  log: Log;
  /** Waits before each retry of a failed ingest invocation (default 1 s, 2 s). */
  retryDelaysMs?: number[];
  /**
   * The template's rules (rules.ts): when given, every accepted event goes here, to the rules
   * and targets the synthesized template defines, instead of the built-in rule and `invoke`.
   */
  publish?: (event: EventBridgeEvent<string, unknown>) => void;
  /** The bus's name in the template, accepted besides `hookrelay` and `default`. */
  busNames?: string[];
}

export interface PutEventsEndpoint {
  listener(req: IncomingMessage, res: ServerResponse): void;
  /** Stops retrying, and resolves once the ingest invocations running now are finished. */
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
  const retryDelays = opts.retryDelaysMs ?? DEFAULT_RETRY_DELAYS_MS;
  const running = new Set<Promise<void>>();
  let draining = false;

  /** Async invocation: the caller already has its EventId; failures are retried, then logged. */
  function dispatch(event: EventBridgeEvent<string, unknown>): void {
    const run = (async () => {
      for (let attempt = 0; ; attempt++) {
        try {
          await opts.invoke(event);
          return;
        } catch (err) {
          const delay = retryDelays[attempt];
          if (delay === undefined || draining) {
            opts.log.error(`ingest of event ${event.id} failed after ${attempt + 1} attempt(s); dropped`, err);
            return;
          }
          opts.log.warn(`ingest of event ${event.id} failed; retrying in ${delay} ms`, err);
          await new Promise((r) => setTimeout(r, delay));
        }
      }
    })();
    running.add(run);
    void run.finally(() => running.delete(run));
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const target = String(req.headers['x-amz-target'] ?? '');
    if (req.method !== 'POST' || target !== 'AWSEvents.PutEvents') {
      throw new RequestError('UnknownOperationException', `unknown operation ${target || req.method || ''}`);
    }
    let input: unknown;
    try {
      input = JSON.parse((await readBody(req, 1024 * 1024)).toString('utf8'));
    } catch (err) {
      if (err instanceof BodyTooLargeError) throw new RequestError('ValidationException', 'request is too large');
      throw new RequestError('SerializationException', 'request body is not valid JSON');
    }
    const entries = validateRequest(input);
    const now = new Date();
    const results: ResultEntry[] = entries.map((entry) => {
      const error = entryError(entry, opts.busNames);
      if (error) return error;
      const event = toEvent(entry, now);
      if (opts.publish) opts.publish(event);
      else if (matchesRule(event)) dispatch(event);
      return { EventId: event.id };
    });
    const failed = results.filter((r) => r.ErrorCode).length;
    sendJson(res, 200, { FailedEntryCount: failed, Entries: results });
  }

  return {
    listener(req, res) {
      void handle(req, res).catch((err: unknown) => {
        if (err instanceof RequestError) {
          sendJson(res, 400, { __type: err.type, message: err.message });
          return;
        }
        opts.log.error('PutEvents failed', err);
        sendJson(res, 500, { __type: 'InternalException', message: 'internal error' });
      });
    },
    async drain() {
      draining = true;
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
