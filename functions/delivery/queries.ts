/** The polling fallback: what happened to an event, delivery by delivery and attempt by attempt. */
import { NotFoundError, ValidationError } from '../shared/errors';
import { freshDelivery, shownNextAttempt, Status } from './lifecycle';
import type { Attempt, Delivery, StoredEvent } from '../shared/model';
import { feedQuerySchema, parseOrThrow } from '../api/schemas';

export interface EventQueryStore {
  /** The event with the deliveries that have a record (a pending first attempt has none). */
  getEventWithDeliveries(
    appId: string,
    eventId: string,
  ): Promise<{ event: StoredEvent; deliveries: Delivery[] } | null>;
  /** The event with its recorded deliveries and their attempt records. */
  getEventHistory(
    appId: string,
    eventId: string,
  ): Promise<{ event: StoredEvent; deliveries: Delivery[]; attempts: Attempt[] } | null>;
  /** Events of an app in feed order, strictly after `after` and strictly before `before`. */
  listFeed(appId: string, after: string | undefined, before: string, limit: number): Promise<StoredEvent[]>;
}

/**
 * Every delivery of an event: those with a record, and for each endpoint it fans out to without
 * one, the pending first attempt the event stands for (or, for an endpoint disabled at accept
 * time, its skip).
 */
export function withPending(event: StoredEvent, recorded: Delivery[]): Delivery[] {
  const byEndpoint = new Map(recorded.map((d) => [d.endpointId, d]));
  const implied = (endpointId: string, skipped: boolean): Delivery =>
    byEndpoint.get(endpointId) ??
    freshDelivery({ appId: event.appId, eventId: event.id, endpointId, eventAt: event.timestamp }, event.type, skipped);
  const listed = new Set([...event.endpointIds, ...event.skippedEndpointIds]);
  return [
    ...event.endpointIds.map((id) => implied(id, false)),
    ...event.skippedEndpointIds.map((id) => implied(id, true)),
    ...recorded.filter((d) => !listed.has(d.endpointId)),
  ];
}

/** A delivery's successful attempt, which is kept on the delivery rather than as a record. */
export function successAttempt(d: Delivery): Attempt[] {
  if (d.status !== Status.succeeded || !d.success || d.lastAttemptAt === undefined) return [];
  return [
    {
      appId: d.appId,
      eventId: d.eventId,
      endpointId: d.endpointId,
      attempt: d.attempts,
      at: d.lastAttemptAt,
      statusCode: d.lastStatusCode ?? null,
      durationMs: d.success.durationMs,
      outcome: 'succeeded',
      error: null,
      responseExcerpt: d.success.responseExcerpt,
    },
  ];
}

/** An event's place in its app's feed: accept time, then id, so equal times still order. */
export const feedPosition = (e: Pick<StoredEvent, 'timestamp' | 'id'>) => `${e.timestamp}#${e.id}`;
const FEED_POSITION = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z#.{1,128}$/;

export function encodeFeedCursor(position: string): string {
  return Buffer.from(position, 'utf8').toString('base64url');
}

export function decodeFeedCursor(cursor: string): string {
  const position = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!FEED_POSITION.test(position) || encodeFeedCursor(position) !== cursor) {
    throw new ValidationError('invalid cursor', [{ path: 'after', message: 'is not a cursor the feed returned' }]);
  }
  return position;
}

export interface EventStatusView {
  id: string;
  type: string;
  timestamp: string;
  data: unknown;
  /** Set on a test event (send-example). */
  test?: true;
  deliveries: {
    endpointId: string;
    status: Delivery['status'];
    attempts: number;
    lastStatusCode: number | null;
    lastAttemptAt: string | null;
    nextAttemptAt: string | null;
  }[];
}

export function createEventQueries(store: EventQueryStore, opts: { feedSettleMs: number; now?: () => Date }) {
  const now = opts.now ?? (() => new Date());
  return {
    /**
     * The catch-up feed: every event of the app exactly once, oldest first. `nextCursor` is set once
     * anything was seen (null: start from the beginning), so a consumer keeps it and asks again later. Events younger than
     * the settle window wait for the next call, so a write still in flight is never skipped.
     */
    async feed(appId: string, query: Record<string, string | undefined>) {
      const q = parseOrThrow(feedQuerySchema, query, 'query string');
      const after = q.after === undefined ? undefined : decodeFeedCursor(q.after);
      const before = new Date(now().getTime() - opts.feedSettleMs).toISOString();
      const events = await store.listFeed(appId, after, before, q.limit);
      const last = events.at(-1);
      return {
        items: events.map((e) => ({
          id: e.id,
          type: e.type,
          timestamp: e.timestamp,
          data: JSON.parse(e.dataJson) as unknown,
        })),
        nextCursor: last ? encodeFeedCursor(feedPosition(last)) : (q.after ?? null),
      };
    },

    async status(appId: string, eventId: string): Promise<EventStatusView> {
      const found = await store.getEventWithDeliveries(appId, eventId);
      if (!found) throw new NotFoundError(`event ${eventId} not found`);
      const { event } = found;
      const deliveries = withPending(event, found.deliveries);
      return {
        id: event.id,
        type: event.type,
        timestamp: event.timestamp,
        data: JSON.parse(event.dataJson) as unknown,
        ...(event.test ? { test: true as const } : {}),
        deliveries: deliveries.map((d) => ({
          endpointId: d.endpointId,
          status: d.status,
          attempts: d.attempts,
          lastStatusCode: d.lastStatusCode ?? null,
          lastAttemptAt: d.lastAttemptAt ?? null,
          nextAttemptAt: shownNextAttempt(d),
        })),
      };
    },

    async attempts(appId: string, eventId: string) {
      const found = await store.getEventHistory(appId, eventId);
      if (!found) throw new NotFoundError(`event ${eventId} not found`);
      const items = [...found.attempts, ...found.deliveries.flatMap(successAttempt)];
      items.sort((a, b) => a.at.localeCompare(b.at) || a.attempt - b.attempt);
      return {
        items: items.map((a) => ({
          endpointId: a.endpointId,
          attempt: a.attempt,
          at: a.at,
          statusCode: a.statusCode,
          durationMs: a.durationMs,
          outcome: a.outcome,
          error: a.error,
          responseExcerpt: a.responseExcerpt,
        })),
      };
    },
  };
}
