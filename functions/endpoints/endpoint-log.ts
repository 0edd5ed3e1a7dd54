/**
 * An endpoint's delivery log and statistics, read from what the delivery path already writes:
 * each delivery's outcome record lives in its endpoint's partition, sorted by its event's time
 * (docs/data-model.md), so the log is one Query newest first and the statistics are the same
 * Query aggregated. Neither adds a write to a delivery.
 */
import { ValidationError } from '../shared/errors';
import { Status, type DeliveryStatus } from '../delivery/lifecycle';
import { deliveriesQuerySchema, parseOrThrow, statsQuerySchema } from '../api/schemas';

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

export interface EndpointLogFilter {
  since: string;
  until: string;
  status?: DeliveryStatus;
  eventType?: string;
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
}

/** The nearest-rank percentile of sorted values (null for none). */
export function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1]!;
}

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

export interface EndpointLogDeps {
  store: EndpointLogStore;
  requireEndpoint(appId: string, endpointId: string): Promise<unknown>;
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
    /** The endpoint's deliveries, newest first; the window is the last 24 h unless given. */
    async deliveries(appId: string, endpointId: string, query: Record<string, string | undefined>) {
      const q = parseOrThrow(deliveriesQuerySchema, query, 'query string');
      await deps.requireEndpoint(appId, endpointId);
      const filter: EndpointLogFilter = {
        ...window(q.since, q.until),
        ...(q.status !== undefined ? { status: q.status } : {}),
        ...(q.eventType !== undefined ? { eventType: q.eventType } : {}),
      };
      const page = await deps.store.listEndpointDeliveries(appId, endpointId, filter, q.limit, q.cursor);
      return {
        items: page.items.map(({ durationMs: _d, ...d }) => d),
        nextCursor: page.nextCursor,
      };
    },

    /** Counts by status and by HTTP code, the success rate, latency p50/p95 of successes. */
    async stats(appId: string, endpointId: string, query: Record<string, string | undefined>) {
      const q = parseOrThrow(statsQuerySchema, query, 'query string');
      await deps.requireEndpoint(appId, endpointId);
      const w = window(q.since, undefined);
      const { items, truncated } = await deps.store.scanEndpointDeliveries(appId, endpointId, w, deps.statsMax);
      return { since: w.since, until: w.until, ...summarize(items), truncated };
    },
  };
}

export type EndpointLog = ReturnType<typeof createEndpointLog>;
