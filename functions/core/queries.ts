/** The polling fallback: what happened to an event, delivery by delivery and attempt by attempt. */
import { NotFoundError } from './errors';
import type { Attempt, Delivery, StoredEvent } from './model';

export interface EventQueryStore {
  /** The event with its deliveries (one read of the event's partition). */
  getEventWithDeliveries(appId: string, eventId: string): Promise<{ event: StoredEvent; deliveries: Delivery[] } | null>;
  listAttempts(appId: string, eventId: string): Promise<Attempt[]>;
}

export interface EventStatusView {
  id: string;
  type: string;
  timestamp: string;
  data: unknown;
  deliveries: {
    endpointId: string;
    status: Delivery['status'];
    attempts: number;
    lastStatusCode: number | null;
    lastAttemptAt: string | null;
    nextAttemptAt: string | null;
  }[];
}

export function createEventQueries(store: EventQueryStore) {
  return {
    async status(appId: string, eventId: string): Promise<EventStatusView> {
      const found = await store.getEventWithDeliveries(appId, eventId);
      if (!found) throw new NotFoundError(`event ${eventId} not found`);
      const { event, deliveries } = found;
      return {
        id: event.id,
        type: event.type,
        timestamp: event.timestamp,
        data: JSON.parse(event.dataJson) as unknown,
        deliveries: deliveries.map((d) => ({
          endpointId: d.endpointId,
          status: d.status,
          attempts: d.attempts,
          lastStatusCode: d.lastStatusCode ?? null,
          lastAttemptAt: d.lastAttemptAt ?? null,
          nextAttemptAt: d.status === 'retrying' ? (d.nextAttemptAt ?? null) : null,
        })),
      };
    },

    async attempts(appId: string, eventId: string) {
      const found = await store.getEventWithDeliveries(appId, eventId);
      if (!found) throw new NotFoundError(`event ${eventId} not found`);
      const items = await store.listAttempts(appId, eventId);
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
