/** The polling fallback: what happened to an event, delivery by delivery and attempt by attempt. */
import { NotFoundError, ValidationError } from '../shared/errors';
import {
  freshDelivery,
  isActive,
  keyOfEventDelivery,
  orderedAtAccept,
  orderOf,
  shownNextAttempt,
  Status,
  successAttempt,
  type DeliveryKey,
} from './lifecycle';
import type { HeldKeyStore } from '../ordering/ordering';
import { feedPosition, type App, type Attempt, type Delivery, type StoredEvent } from '../shared/model';
import { feedQuerySchema, parseOrThrow } from '../api/schemas';

/** What the queries read of the events (the event store). */
export interface QueryEvents {
  /** The event; `consistent: false` reads eventually consistent (half the read's cost). */
  getEvent(appId: string, eventId: string, consistent?: boolean): Promise<StoredEvent | null>;
  /**
   * Events of an app in feed order, strictly after `after` and strictly before `before`, merged
   * from its `shards` partitions.
   */
  listFeed(
    appId: string,
    after: string | undefined,
    before: string,
    limit: number,
    shards: number,
  ): Promise<StoredEvent[]>;
}

/** What the feed reads of the apps (the app store): how many partitions an app's events span. */
export interface QueryApps {
  getApp(appId: string): Promise<App | null>;
}

/** What the queries read of the deliveries (the delivery store). */
export interface QueryDeliveries {
  /** The records of these deliveries that have one. */
  getDeliveries(keys: DeliveryKey[]): Promise<Delivery[]>;
  /** An event's failed attempts, by endpoint and number. */
  attemptsOf(appId: string, eventId: string): Promise<Attempt[]>;
}

export interface QueryStores {
  apps: QueryApps;
  events: QueryEvents;
  deliveries: QueryDeliveries;
}

/** What an event's deliveries are read through. */
type EventReads = Pick<QueryStores, 'events' | 'deliveries'>;

/** The keys of every delivery an event fans out to (those skipped at accept time included). */
function deliveryKeys(e: StoredEvent): DeliveryKey[] {
  return [...e.endpointIds, ...e.skippedEndpointIds].map((endpointId) => keyOfEventDelivery(e, endpointId));
}

/** The event with the deliveries that have a record (a pending first attempt has none). */
export async function eventWithDeliveries(
  stores: EventReads,
  appId: string,
  eventId: string,
): Promise<{ event: StoredEvent; deliveries: Delivery[] } | null> {
  const event = await stores.events.getEvent(appId, eventId, false);
  if (!event) return null;
  return { event, deliveries: await stores.deliveries.getDeliveries(deliveryKeys(event)) };
}

/** The event with its recorded deliveries and their attempt records. */
export async function eventHistory(
  stores: EventReads,
  appId: string,
  eventId: string,
): Promise<{ event: StoredEvent; deliveries: Delivery[]; attempts: Attempt[] } | null> {
  const [event, attempts] = await Promise.all([
    stores.events.getEvent(appId, eventId, false),
    stores.deliveries.attemptsOf(appId, eventId),
  ]);
  if (!event) return null;
  return { event, deliveries: await stores.deliveries.getDeliveries(deliveryKeys(event)), attempts };
}

/**
 * Every delivery of an event: those with a record, and for each endpoint it fans out to without
 * one, the pending first attempt the event stands for (or, for an endpoint disabled at accept
 * time, its skip).
 */
export function withPending(event: StoredEvent, recorded: Delivery[]): Delivery[] {
  const byEndpoint = new Map(recorded.map((d) => [d.endpointId, d]));
  const implied = (endpointId: string, skipped: boolean): Delivery =>
    byEndpoint.get(endpointId) ?? freshDelivery(keyOfEventDelivery(event, endpointId), event.type, skipped);
  const listed = new Set([...event.endpointIds, ...event.skippedEndpointIds]);
  return [
    ...event.endpointIds.map((id) => implied(id, false)),
    ...event.skippedEndpointIds.map((id) => implied(id, true)),
    ...recorded.filter((d) => !listed.has(d.endpointId)),
  ];
}

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
  /** The producer's ordering key, when it gave one. */
  orderingKey?: string;
  deliveries: {
    endpointId: string;
    status: Delivery['status'];
    attempts: number;
    lastStatusCode: number | null;
    lastAttemptAt: string | null;
    nextAttemptAt: string | null;
    /** Why it failed when no attempt says so: `skipped by ...`. */
    reason?: string;
    /**
     * A strict endpoint's delivery waiting in its key's line behind an earlier event's delivery
     * that failed an attempt and waits for its next: which, and how it stands.
     */
    waitingFor?: { eventId: string; attempts: number; nextAttemptAt: string };
  }[];
}

export function createEventQueries(
  stores: QueryStores,
  opts: { feedSettleMs: number; now?: () => Date; held?: Pick<HeldKeyStore, 'get'> },
) {
  const now = opts.now ?? (() => new Date());
  /** A strict delivery not yet attempted, behind its key's held head: which one it waits for. */
  async function waitingFor(event: StoredEvent, d: Delivery) {
    if (!opts.held || d.status !== Status.pending || !isActive(d.status)) return undefined;
    if (!d.order && !orderedAtAccept(event, d.endpointId)) return undefined;
    const head = await opts.held.get(event.appId, d.endpointId, (d.order ?? orderOf(event)).key);
    if (!head || head.eventId === event.id || head.eventAt > event.timestamp) return undefined;
    return { eventId: head.eventId, attempts: head.attempts, nextAttemptAt: head.nextAttemptAt };
  }

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
      // Every partition the app's events may be in: the count only grows, and a raise reaches the
      // writers (which read the app) no sooner than this read sees it; the feed's settle window
      // (a minute) dwarfs the eventually consistent read's lag.
      const shards = (await stores.apps.getApp(appId))?.eventShards ?? 1;
      const events = await stores.events.listFeed(appId, after, before, q.limit, shards);
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
      const found = await eventWithDeliveries(stores, appId, eventId);
      if (!found) throw new NotFoundError(`event ${eventId} not found`);
      const { event } = found;
      const deliveries = withPending(event, found.deliveries);
      const waiting = await Promise.all(deliveries.map((d) => waitingFor(event, d)));
      return {
        id: event.id,
        type: event.type,
        timestamp: event.timestamp,
        data: JSON.parse(event.dataJson) as unknown,
        ...(event.test ? { test: true as const } : {}),
        ...(event.orderingKey !== undefined ? { orderingKey: event.orderingKey } : {}),
        deliveries: deliveries.map((d, i) => ({
          endpointId: d.endpointId,
          status: d.status,
          attempts: d.attempts,
          lastStatusCode: d.lastStatusCode ?? null,
          lastAttemptAt: d.lastAttemptAt ?? null,
          nextAttemptAt: shownNextAttempt(d),
          ...(d.reason !== undefined ? { reason: d.reason } : {}),
          ...(waiting[i] ? { waitingFor: waiting[i] } : {}),
        })),
      };
    },

    async attempts(appId: string, eventId: string) {
      const found = await eventHistory(stores, appId, eventId);
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
