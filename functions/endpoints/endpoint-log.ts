/**
 * An endpoint's delivery log and statistics, read from what the delivery path already writes:
 * each delivery's outcome record lives in its endpoint's partition, sorted by its event's time
 * (docs/data-model.md), so the log is one Query newest first and the statistics are the same
 * Query aggregated. Neither adds a write to a delivery.
 */
import { NotFoundError, ValidationError } from '../shared/errors';
import type { Endpoint, StoredEvent } from '../shared/model';
import { Status, type DeliveryStatus } from '../delivery/lifecycle';
import { deliveriesQuerySchema, eventIdSchema, parseOrThrow, statsQuerySchema } from '../api/schemas';

/** A delivery as the log shows it. */
export interface LoggedDelivery {
  eventId: string;
  eventType: string;
  status: DeliveryStatus;
  attempts: number;
  lastStatusCode: number | null;
  lastAttemptAt: string | null;
  nextAttemptAt: string | null;
  /** The event's time: what the log is sorted and windowed by. */
  createdAt: string;
  /** The successful attempt's duration, for a success. */
  durationMs: number | null;
  /** Set on a test event's delivery (send-example). */
  test?: true;
}

/** A delivery in the log's answer: what the log reads, with its latest attempt's error. */
export type LogEntry = Omit<LoggedDelivery, 'durationMs'> & {
  /** Why the latest attempt failed (`HTTP 500`, `connection refused`...), when it did. */
  lastError: string | null;
};

export interface EndpointLogFilter {
  since: string;
  until: string;
  status?: DeliveryStatus;
  eventType?: string;
  /**
   * One event's delivery alone: its id, its time (the record's place in the partition) and its
   * event's shard (the partition's; absent: the one its id names).
   */
  event?: { id: string; at: string; shard?: number };
}

export interface EndpointLogStore {
  /** Deliveries of the endpoint in the window, newest first, a page at a time. */
  listEndpointDeliveries(
    appId: string,
    endpointId: string,
    filter: EndpointLogFilter,
    limit: number,
    cursor?: string,
  ): Promise<{ items: LoggedDelivery[]; nextCursor: string | null }>;
  /** Every delivery of the endpoint in the window (at most `max`; `truncated` when there were more). */
  scanEndpointDeliveries(
    appId: string,
    endpointId: string,
    filter: EndpointLogFilter,
    max: number,
  ): Promise<{ items: LoggedDelivery[]; truncated: boolean }>;
  /**
   * The error of each delivery's latest attempt (its attempt record, numbered `attempts`), by
   * event id; deliveries whose record is missing are left out. One batched read.
   */
  latestErrors(
    appId: string,
    endpointId: string,
    deliveries: readonly Pick<LoggedDelivery, 'eventId' | 'attempts'>[],
  ): Promise<Map<string, string | null>>;
}

/** Whether a delivery's latest attempt failed: it waits for a retry or it finally failed. */
const lastAttemptFailed = (d: LoggedDelivery) =>
  d.attempts > 0 && (d.status === Status.retrying || d.status === Status.failed);

/** The nearest-rank percentile of sorted values (null for none). */
export function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1]!;
}

/** Counts by status and by last HTTP code, the success rate and the latency of successes. */
export function summarize(items: readonly LoggedDelivery[]) {
  const byStatus: Record<DeliveryStatus, number> = { pending: 0, retrying: 0, succeeded: 0, failed: 0, skipped: 0 };
  const byStatusCode: Record<string, number> = {};
  const durations: number[] = [];
  for (const d of items) {
    byStatus[d.status] += 1;
    if (d.lastStatusCode !== null)
      byStatusCode[String(d.lastStatusCode)] = (byStatusCode[String(d.lastStatusCode)] ?? 0) + 1;
    if (d.status === Status.succeeded && d.durationMs !== null) durations.push(d.durationMs);
  }
  durations.sort((a, b) => a - b);
  const finished = byStatus.succeeded + byStatus.failed;
  return {
    total: items.length,
    byStatus,
    byStatusCode,
    successRate: finished === 0 ? null : byStatus.succeeded / finished,
    latencyMs: { p50: percentile(durations, 50), p95: percentile(durations, 95) },
  };
}

/** Bucket widths a series may use (seconds), smallest first: whole minutes, hours and days in UTC. */
const BUCKETS_S = [60, 300, 900, 1800, 3600, 7200, 10_800, 21_600, 43_200, 86_400, 604_800];
/** Buckets a series holds at most: an hour in minutes, a day in half hours, 30 days in half days. */
export const MAX_POINTS = 64;

/**
 * The window cut into at most {@link MAX_POINTS} buckets of one width from {@link BUCKETS_S},
 * aligned to UTC (an hour's buckets start on the hour), each with its deliveries by status (by
 * event time, as the log) and the latency of its successes.
 */
export function series(items: readonly LoggedDelivery[], since: string, until: string) {
  const from = Date.parse(since);
  const to = Date.parse(until);
  const spanS = Math.max(1, (to - from) / 1000);
  const bucketS = BUCKETS_S.find((b) => Math.ceil(spanS / b) + 1 <= MAX_POINTS) ?? BUCKETS_S.at(-1)!;
  const width = bucketS * 1000;
  const first = Math.floor(from / width) * width;
  const count = Math.floor((to - first) / width) + 1;
  const buckets = Array.from({ length: count }, () => ({ items: [] as LoggedDelivery[] }));
  for (const d of items) {
    const n = Math.floor((Date.parse(d.createdAt) - first) / width);
    if (n >= 0 && n < count) buckets[n]!.items.push(d);
  }
  return {
    bucketSeconds: bucketS,
    points: buckets.map((b, n) => {
      const s = summarize(b.items);
      return { at: new Date(first + n * width).toISOString(), ...s.byStatus, latencyMs: s.latencyMs };
    }),
  };
}

/** What the log needs of an event: its time and shard (the delivery's key), its type and its fan-out. */
export type LoggedEvent = Pick<
  StoredEvent,
  'id' | 'type' | 'timestamp' | 'endpointIds' | 'skippedEndpointIds' | 'shard'
>;

/** A request as people read it, secrets hidden (see describeWebhookRequest). */
export interface RequestView {
  method: 'POST';
  url: string;
  headers: Record<string, string>;
}

export interface EndpointLogDeps {
  store: EndpointLogStore;
  /** The endpoint, or a NotFoundError. */
  requireEndpoint(appId: string, endpointId: string): Promise<Endpoint>;
  /** An app's event by its id (undefined when there is no such event). */
  findEvent(appId: string, eventId: string): Promise<LoggedEvent | undefined>;
  /** The request an attempt at `at` sends, secrets hidden. */
  describeRequest(endpoint: Endpoint, event: LoggedEvent, at: Date): RequestView;
  /** Deliveries the statistics read at most (a bound on one call's read units). */
  statsMax: number;
  now?: () => Date;
}

const DAY_MS = 86_400_000;

export function createEndpointLog(deps: EndpointLogDeps) {
  const now = deps.now ?? (() => new Date());

  function window(since: string | undefined, until: string | undefined) {
    const to = until === undefined ? now() : new Date(until);
    const from = since === undefined ? new Date(to.getTime() - DAY_MS) : new Date(since);
    if (from.getTime() > to.getTime()) {
      throw new ValidationError('invalid query string', [{ path: 'since', message: 'must not be after until' }]);
    }
    return { since: from.toISOString(), until: to.toISOString() };
  }

  return {
    /**
     * The endpoint's deliveries, newest first; the window is the last 24 h unless given. With
     * `eventId`, that event's delivery alone, found by its key whatever its age (a window given
     * too still applies). Each comes with its latest attempt's error, read in one batch.
     */
    async deliveries(
      appId: string,
      endpointId: string,
      query: Record<string, string | undefined>,
    ): Promise<{ items: LogEntry[]; nextCursor: string | null }> {
      const q = parseOrThrow(deliveriesQuerySchema, query, 'query string');
      await deps.requireEndpoint(appId, endpointId);
      const filter: EndpointLogFilter = {
        ...window(q.since, q.until),
        ...(q.status !== undefined ? { status: q.status } : {}),
        ...(q.eventType !== undefined ? { eventType: q.eventType } : {}),
      };
      if (q.eventId !== undefined) {
        const found = await deps.findEvent(appId, q.eventId);
        const at = found?.timestamp;
        const outside =
          at === undefined ||
          (q.since !== undefined && at < filter.since) ||
          (q.until !== undefined && at > filter.until);
        if (outside) return { items: [], nextCursor: null };
        Object.assign(filter, { since: at, until: at, event: { id: q.eventId, at, shard: found?.shard ?? 0 } });
      }
      const page = await deps.store.listEndpointDeliveries(appId, endpointId, filter, q.limit, q.cursor);
      const errors = await deps.store.latestErrors(appId, endpointId, page.items.filter(lastAttemptFailed));
      return {
        items: page.items.map(({ durationMs: _d, ...d }) => ({ ...d, lastError: errors.get(d.eventId) ?? null })),
        nextCursor: page.nextCursor,
      };
    },

    /**
     * One event's delivery to the endpoint, as the log shows it, with the request its latest
     * attempt sent (or its first will send), secrets hidden. A delivery with no record yet (its
     * first attempt in flight) is `pending`.
     */
    async delivery(appId: string, endpointId: string, eventId: string): Promise<LogEntry & { request: RequestView }> {
      const endpoint = await deps.requireEndpoint(appId, endpointId);
      const event = eventIdSchema.safeParse(eventId).success ? await deps.findEvent(appId, eventId) : undefined;
      if (!event || ![...event.endpointIds, ...event.skippedEndpointIds].includes(endpointId)) {
        throw new NotFoundError(`event ${eventId} has no delivery to endpoint ${endpointId}`);
      }
      const at = event.timestamp;
      const filter = { since: at, until: at, event: { id: eventId, at, shard: event.shard ?? 0 } };
      const found = (await deps.store.listEndpointDeliveries(appId, endpointId, filter, 1)).items[0];
      const d: LoggedDelivery = found ?? {
        eventId,
        eventType: event.type,
        status: event.skippedEndpointIds.includes(endpointId) ? Status.skipped : Status.pending,
        attempts: 0,
        lastStatusCode: null,
        lastAttemptAt: null,
        nextAttemptAt: null,
        createdAt: at,
        durationMs: null,
      };
      const lastError = lastAttemptFailed(d)
        ? ((await deps.store.latestErrors(appId, endpointId, [d])).get(eventId) ?? null)
        : null;
      const { durationMs: _d, ...entry } = d;
      const sentAt = new Date(d.lastAttemptAt ?? now().toISOString());
      return { ...entry, lastError, request: deps.describeRequest(endpoint, event, sentAt) };
    },

    /**
     * Counts by status and by HTTP code, the success rate, latency p50/p95 of successes, the same
     * over time (a series for a chart), and the newest delivery whose latest attempt failed.
     */
    async stats(appId: string, endpointId: string, query: Record<string, string | undefined>) {
      const q = parseOrThrow(statsQuerySchema, query, 'query string');
      await deps.requireEndpoint(appId, endpointId);
      const w = window(q.since, undefined);
      const { items, truncated } = await deps.store.scanEndpointDeliveries(appId, endpointId, w, deps.statsMax);
      let last: LoggedDelivery | undefined;
      for (const d of items) {
        if (lastAttemptFailed(d) && (last === undefined || (d.lastAttemptAt ?? '') > (last.lastAttemptAt ?? '')))
          last = d;
      }
      const lastError = last ? (await deps.store.latestErrors(appId, endpointId, [last])).get(last.eventId) : undefined;
      return {
        since: w.since,
        until: w.until,
        ...summarize(items),
        lastFailure:
          last === undefined
            ? null
            : {
                eventId: last.eventId,
                at: last.lastAttemptAt,
                status: last.status,
                statusCode: last.lastStatusCode,
                error: lastError ?? null,
              },
        series: series(items, w.since, w.until),
        truncated,
      };
    },
  };
}

export type EndpointLog = ReturnType<typeof createEndpointLog>;
