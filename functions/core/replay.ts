/**
 * Sending again: one event to one or all of its endpoints (resend), or every delivery of an
 * endpoint that failed since a time (recover, typically after the customer fixed the endpoint and
 * re-enabled it). A re-sent delivery keeps its webhook-id, continues its attempt numbering, and
 * gets a fresh retry schedule.
 */
import { ConflictError, NotFoundError } from './errors';
import { firstAttempt, type WorkQueue } from './ingest';
import type { DeliveryMessage } from './messages';
import type { Delivery, Endpoint } from './model';
import type { EventQueryStore } from './queries';
import { parseOrThrow, recoverSchema, resendSchema } from './schemas';

export interface ReplayStore extends Pick<EventQueryStore, 'getEventWithDeliveries'> {
  /**
   * Puts a finished (or waiting, unleased) delivery back to pending for one more attempt cycle;
   * false when it is already pending or in flight.
   */
  restartDelivery(d: Delivery, dueAt: string, now: string): Promise<boolean>;
  putMissingDeliveries(deliveries: Delivery[]): Promise<Delivery[]>;
  /** Failed or skipped deliveries of an endpoint for events since `since`, oldest first. */
  listFailedSince(
    appId: string,
    endpointId: string,
    since: string,
    limit: number,
  ): Promise<{ items: Delivery[]; more: boolean }>;
}

export interface ReplayDeps {
  store: ReplayStore;
  queue: WorkQueue;
  getEndpoint(appId: string, endpointId: string): Promise<Endpoint | null>;
  leaseS: number;
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
    const dueAt = new Date(at.getTime() + deps.leaseS * 1000).toISOString();
    const restarted = await Promise.all(deliveries.map((d) => deps.store.restartDelivery(d, dueAt, at.toISOString())));
    const messages: DeliveryMessage[] = deliveries
      .filter((_, i) => restarted[i])
      .map((d) => ({ ...firstAttempt(d), attempt: d.attempts + 1 }));
    if (messages.length > 0) await deps.queue.enqueue(messages);
    return messages.length;
  }

  return {
    async resend(appId: string, eventId: string, body: unknown): Promise<{ deliveries: number }> {
      const input = parseOrThrow(resendSchema, body ?? {});
      const found = await deps.store.getEventWithDeliveries(appId, eventId);
      if (!found) throw new NotFoundError(`event ${eventId} not found`);

      if (input.endpointId === undefined) {
        return { deliveries: await restartAll(found.deliveries) };
      }
      await requireEnabledEndpoint(appId, input.endpointId);
      const existing = found.deliveries.find((d) => d.endpointId === input.endpointId);
      if (existing) return { deliveries: await restartAll([existing]) };

      // An endpoint the event never went to (created later, or filtered out): a first delivery.
      const at = now().toISOString();
      const fresh: Delivery = {
        appId,
        eventId,
        endpointId: input.endpointId,
        status: 'pending',
        attempts: 0,
        createdAt: found.event.timestamp,
        dueAt: new Date(Date.parse(at) + deps.leaseS * 1000).toISOString(),
      };
      const created = await deps.store.putMissingDeliveries([fresh]);
      if (created.length > 0) await deps.queue.enqueue([firstAttempt(fresh)]);
      return { deliveries: created.length };
    },

    async recover(appId: string, endpointId: string, body: unknown): Promise<{ recovered: number; more: boolean }> {
      const input = parseOrThrow(recoverSchema, body);
      await requireEnabledEndpoint(appId, endpointId);
      const since = new Date(input.since).toISOString();
      const { items, more } = await deps.store.listFailedSince(appId, endpointId, since, deps.recoverMax);
      let recovered = 0;
      for (let i = 0; i < items.length; i += 25) recovered += await restartAll(items.slice(i, i + 25));
      return { recovered, more };
    },
  };
}

export type ReplayService = ReturnType<typeof createReplayService>;
