/**
 * Sending again: one event to one or all of its endpoints (resend), or every delivery of an
 * endpoint that failed since a time (recover, typically after the customer fixed the endpoint and
 * re-enabled it). A re-sent delivery keeps its webhook-id, continues its attempt numbering, and
 * gets a fresh retry schedule.
 */
import { ConflictError, NotFoundError } from '../shared/errors';
import {
  freshDelivery,
  inAcceptOrder,
  keyOfEventDelivery,
  mayRestart,
  orderedAtAccept,
  orderOf,
  redriveMessage,
  type DeliveryScheduler,
  type Lifecycle,
} from './lifecycle';
import { PARKED_DUE_AT } from '../ordering/ordering';
import type { Delivery, Endpoint, StoredEvent } from '../shared/model';
import { eventWithDeliveries, withPending, type QueryDeliveries, type QueryEvents } from './queries';
import { parseOrThrow, recoverSchema, resendSchema } from '../api/schemas';

/** What replay reads and writes of the events (the event store). */
export interface ReplayEvents extends QueryEvents {
  /** Adds an endpoint to an event's fan-out. */
  addEndpoint(event: Pick<StoredEvent, 'appId' | 'id' | 'timestamp'>, endpointId: string): Promise<void>;
}

/** What replay reads and writes of the deliveries' records (the delivery store). */
export interface ReplayDeliveries extends QueryDeliveries {
  /**
   * Puts a finished (or waiting, unleased) delivery back to pending for one more attempt cycle;
   * false when it is already pending or in flight.
   */
  restartDelivery(d: Delivery, dueAt: string, now: string): Promise<boolean>;
  /** A pending record on the open index for a delivery that has none; false if it has one. */
  openPending(d: Delivery, dueAt: string): Promise<boolean>;
  /** Failed or skipped deliveries of an endpoint for events since `since`, oldest first. */
  listFailedSince(
    appId: string,
    endpointId: string,
    since: string,
    limit: number,
  ): Promise<{ items: Delivery[]; more: boolean }>;
}

/**
 * Adds an endpoint to an event's fan-out, with a pending record for its delivery on the open
 * index; false when that delivery exists already.
 */
export async function addDelivery(
  stores: Pick<ReplayDeps, 'events' | 'deliveries'>,
  d: Delivery,
  dueAt: string,
): Promise<boolean> {
  // The record first: the event's fan-out then names an endpoint whose delivery exists.
  if (!(await stores.deliveries.openPending(d, dueAt))) return false;
  await stores.events.addEndpoint({ appId: d.appId, id: d.eventId, timestamp: d.createdAt }, d.endpointId);
  return true;
}

export interface ReplayDeps {
  events: ReplayEvents;
  deliveries: ReplayDeliveries;
  scheduler: Pick<DeliveryScheduler, 'now'>;
  getEndpoint(appId: string, endpointId: string): Promise<Endpoint | null>;
  life: Lifecycle;
  recoverMax: number;
  now?: () => Date;
}

export function createReplayService(deps: ReplayDeps) {
  const now = deps.now ?? (() => new Date());

  async function requireEnabledEndpoint(appId: string, endpointId: string): Promise<Endpoint> {
    const endpoint = await deps.getEndpoint(appId, endpointId);
    if (!endpoint) throw new NotFoundError(`endpoint ${endpointId} not found`);
    if (!endpoint.enabled) {
      throw new ConflictError(
        `endpoint ${endpointId} is disabled; enable it (PATCH enabled: true) before sending to it again`,
      );
    }
    return endpoint;
  }

  /** Restarts what can be restarted and enqueues one attempt for each; returns how many. */
  async function restartAll(deliveries: Delivery[]): Promise<number> {
    const at = now();
    // A strict delivery's record waits parked: its message in its key's line holds its place.
    const dueAt = (d: Delivery) => (d.order ? PARKED_DUE_AT : deps.life.redrivenDueAt(at));
    const candidates = deliveries.filter((d) => mayRestart(d, at));
    const restarted = await Promise.all(
      candidates.map((d) => deps.deliveries.restartDelivery(d, dueAt(d), at.toISOString())),
    );
    // In accept order: strict ones join their keys' lines in the order their events were accepted.
    const messages = inAcceptOrder(candidates.filter((_, i) => restarted[i])).map((d) => redriveMessage(d));
    if (messages.length > 0) await deps.scheduler.now(messages);
    return messages.length;
  }

  return {
    async resend(appId: string, eventId: string, body: unknown): Promise<{ deliveries: number }> {
      const input = parseOrThrow(resendSchema, body ?? {});
      const found = await eventWithDeliveries(deps, appId, eventId);
      if (!found) throw new NotFoundError(`event ${eventId} not found`);

      // A delivery with no record yet that was strict at accept time goes through its key's line.
      const deliveries = withPending(found.event, found.deliveries).map((d) =>
        !d.order && orderedAtAccept(found.event, d.endpointId) ? { ...d, order: orderOf(found.event) } : d,
      );
      if (input.endpointId === undefined) {
        return { deliveries: await restartAll(deliveries) };
      }
      await requireEnabledEndpoint(appId, input.endpointId);
      const existing = deliveries.find((d) => d.endpointId === input.endpointId);
      if (existing) return { deliveries: await restartAll([existing]) };

      // An endpoint the event never went to (created later, or filtered out): a first delivery.
      const fresh = freshDelivery(keyOfEventDelivery(found.event, input.endpointId), found.event.type);
      const endpoint = await deps.getEndpoint(appId, input.endpointId);
      if (endpoint?.ordering === 'strict') fresh.order = orderOf(found.event);
      const dueAt = fresh.order ? PARKED_DUE_AT : deps.life.redrivenDueAt(now());
      if (!(await addDelivery(deps, fresh, dueAt))) return { deliveries: 0 };
      await deps.scheduler.now([redriveMessage(fresh)]);
      return { deliveries: 1 };
    },

    async recover(appId: string, endpointId: string, body: unknown): Promise<{ recovered: number; more: boolean }> {
      const input = parseOrThrow(recoverSchema, body);
      await requireEnabledEndpoint(appId, endpointId);
      const since = new Date(input.since).toISOString();
      const { items, more } = await deps.deliveries.listFailedSince(appId, endpointId, since, deps.recoverMax);
      let recovered = 0;
      for (let i = 0; i < items.length; i += 25) recovered += await restartAll(items.slice(i, i + 25));
      return { recovered, more };
    },
  };
}

export type ReplayService = ReturnType<typeof createReplayService>;
