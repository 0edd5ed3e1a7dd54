/**
 * What people do with ordering: see the keys a strict endpoint holds, and skip the delivery now
 * holding one (POST .../ordering/skip), which fails it ("skipped by ...") so its key moves on.
 */
import { NotFoundError, ConflictError } from '../shared/errors';
import { deadLetterMessage, type DeadLetterQueue, type DeliveryKey } from '../delivery/lifecycle';
import type { Endpoint, StoredThrottle } from '../shared/model';
import { resumedThrottle } from '../flow/throttle';
import { parseOrThrow, orderingSkipSchema } from '../api/schemas';
import type { HeldKey, HeldKeyStore } from './ordering';

export interface SkipStore {
  /**
   * Fails a key's head that waits for its next attempt (status retrying, `attempts` made, no live
   * lease): false when it is not so any more (it finished, or an attempt is under way).
   */
  skipHead(key: DeliveryKey, attempts: number, reason: string, now: string): Promise<boolean>;
  getDelivery(key: DeliveryKey): Promise<{ status: string; attempts: number; leaseUntil?: string } | null>;
}

export interface OrderingServiceDeps {
  held: HeldKeyStore;
  store: SkipStore;
  deadLetters: DeadLetterQueue;
  /** Makes a held head's message visible now, so its lane drops it at once; false if it cannot. */
  release(receiptHandle: string): Promise<boolean>;
  getEndpoint(appId: string, endpointId: string): Promise<Endpoint | null>;
  /**
   * Writes the endpoint's flow state: a skip resumes an endpoint the breaker paused (its failing
   * head may have been what paused it), ramping up from one request a second.
   */
  saveThrottle?(appId: string, endpointId: string, throttle: StoredThrottle): Promise<void>;
  now?: () => Date;
}

/** A held key as the API shows it. */
export interface HeldKeyView {
  orderingKey: string | null;
  eventId: string;
  attempts: number;
  nextAttemptAt: string;
  lastError: string | null;
  since: string | null;
}

export const heldKeyView = (h: HeldKey): HeldKeyView => ({
  orderingKey: h.orderingKey ?? null,
  eventId: h.eventId,
  attempts: h.attempts,
  nextAttemptAt: h.nextAttemptAt,
  lastError: h.lastError,
  since: h.since ?? null,
});

export function createOrderingService(deps: OrderingServiceDeps) {
  const now = deps.now ?? (() => new Date());

  async function requireEndpoint(appId: string, endpointId: string): Promise<Endpoint> {
    const endpoint = await deps.getEndpoint(appId, endpointId);
    if (!endpoint) throw new NotFoundError(`endpoint ${endpointId} not found`);
    return endpoint;
  }

  return {
    /** The keys the endpoint holds (their head failed an attempt and waits), oldest head first. */
    async heldKeys(appId: string, endpointId: string): Promise<{ items: HeldKeyView[] }> {
      await requireEndpoint(appId, endpointId);
      const held = await deps.held.list(appId, endpointId, 100);
      held.sort((a, b) => a.eventAt.localeCompare(b.eventAt));
      return { items: held.map(heldKeyView) };
    },

    /**
     * Fails the delivery holding `orderingKey` (absent or null: the endpoint's events without a
     * key), with the reason "skipped by <who>"; its dead letter goes to the DLQ like any failed
     * delivery's (recover or a redrive sends it again, at the end of its key's line).
     */
    async skip(
      appId: string,
      endpointId: string,
      body: unknown,
      who: string,
    ): Promise<{ eventId: string; orderingKey: string | null }> {
      const input = parseOrThrow(orderingSkipSchema, body ?? {});
      const orderingKey = input.orderingKey ?? undefined;
      const endpoint = await requireEndpoint(appId, endpointId);
      const shown = orderingKey === undefined ? 'the events without a key' : `key ${orderingKey}`;
      const held = await deps.held.get(appId, endpointId, orderingKey);
      if (!held) throw new NotFoundError(`nothing holds ${shown} on endpoint ${endpointId}`);
      const key: DeliveryKey = {
        appId,
        eventId: held.eventId,
        endpointId,
        eventAt: held.eventAt,
        ...(held.shard !== undefined ? { shard: held.shard } : {}),
      };
      const reason = `skipped by ${who}`;
      const at = now();
      if (!(await deps.store.skipHead(key, held.attempts, reason, at.toISOString()))) {
        const current = await deps.store.getDelivery(key);
        if (current && current.status === 'retrying') {
          throw new ConflictError(
            `the delivery of event ${held.eventId} holding ${shown} is being attempted right now; try again in a few seconds`,
          );
        }
        // It finished meanwhile: the key has moved on by itself.
        await deps.held.clear(key, orderingKey);
        throw new NotFoundError(`nothing holds ${shown} on endpoint ${endpointId} any more`);
      }
      await deps.deadLetters.send(
        deadLetterMessage(
          {
            v: 2,
            appId,
            eventId: held.eventId,
            endpointId,
            attempt: held.attempts,
            eventAt: held.eventAt,
            ...(held.shard !== undefined ? { shard: held.shard } : {}),
            order: orderingKey === undefined ? {} : { key: orderingKey },
          },
          held.attempts,
          reason,
        ),
      );
      await deps.held.clear(key, orderingKey);
      // The head's message is hidden until its next attempt: shown again now, its lane finds it
      // failed and lets the key move on. Should its receive have moved on, the lane does so at
      // its next look (at the latest when the hold ends).
      if (held.receiptHandle) await deps.release(held.receiptHandle);
      if (endpoint.throttle?.state === 'paused') {
        // The rest of its keys would wait for the breaker's next probe: a person has acted on
        // what held them, so the endpoint resumes now, slowly, as after a probe that succeeded.
        const resumed = resumedThrottle(`resumed: a held key was ${reason}`, at.toISOString());
        await deps.saveThrottle?.(appId, endpointId, resumed);
      }
      return { eventId: held.eventId, orderingKey: orderingKey ?? null };
    },
  };
}

export type OrderingService = ReturnType<typeof createOrderingService>;
