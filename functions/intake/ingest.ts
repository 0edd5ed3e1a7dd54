/**
 * Accepting an event: validate, store it once (idempotently), and send one first attempt per
 * subscribed endpoint; then answer 202.
 *
 * The event is the only record written: it stands for its pending deliveries until each has an
 * outcome, so a first-try success costs one event write and one outcome write. Crash safety
 * without transactions: the event is stored before its messages are sent, and housekeeping
 * reconciles every event against its outcomes once it is a lease old, re-sending any first
 * attempt that has none (a crash between the two, a lost message). A crash before the 202 makes
 * the producer retry; the replay answers the original response and sends nothing twice.
 */
import { createHash, randomInt } from 'node:crypto';
import { ConflictError, IdInUseError, NotFoundError, UnprocessableError, ValidationError } from '../shared/errors';
import { newId, shardOfId } from '../shared/ids';
import {
  firstAttemptMessage,
  freshDelivery,
  keyOfEventDelivery,
  type DeliveryMessage,
  type DeliveryScheduler,
} from '../delivery/lifecycle';
import type { App, Delivery, Endpoint, StoredEvent } from '../shared/model';
import { LIMITS, createEventBatchSchema, createEventSchema, eventIdSchema, parseOrThrow } from '../api/schemas';

export type PutEventResult =
  | { created: true }
  | { created: false; existing: StoredEvent }
  /** The id is claimed by a request still storing its event (a concurrent duplicate), or was lost mid-way moments ago. */
  | { created: false; claimed: { requestHash: string } };

/** What ingest reads of the apps (the app store). */
export interface IngestApps {
  /** The app and all its endpoints, or null when the app does not exist. */
  getAppWithEndpoints(appId: string): Promise<{ app: App; endpoints: Endpoint[] } | null>;
}

/** What ingest writes of the events (the event store). */
export interface IngestEvents {
  /** Stores a new event; returns the existing one if the id is taken. */
  putEventIfAbsent(event: StoredEvent): Promise<PutEventResult>;
}

/** What ingest writes of the deliveries (the delivery store). */
export interface IngestDeliveries {
  /** Records deliveries that are finished at accept time (endpoints disabled then): rare. */
  putSkippedDeliveries(deliveries: Delivery[]): Promise<void>;
}

export interface IngestDeps {
  apps: IngestApps;
  events: IngestEvents;
  deliveries: IngestDeliveries;
  /** The catalog's opt-in checks (catalog-check.ts): known types only, schema validation. */
  catalog?: { check(app: App, type: string, data: unknown): Promise<void> };
  scheduler: Pick<DeliveryScheduler, 'now'>;
  now?: () => Date;
  onAccepted?: (event: StoredEvent) => void;
}

export interface IngestResult {
  id: string;
  type: string;
  timestamp: string;
  deliveries: number;
}

export interface IngestRequest {
  appId: string;
  body: unknown;
  idempotencyKey?: string | undefined;
}

export function subscribes(endpoint: Endpoint, type: string): boolean {
  return endpoint.eventTypes.length === 0 || endpoint.eventTypes.includes(type);
}

export function requestHash(type: string, dataJson: string, orderingKey?: string): string {
  const h = createHash('sha256').update(type).update('\n').update(dataJson);
  // Only when set, so that the hashes of events without a key are what they always were.
  if (orderingKey !== undefined) h.update('\n#orderingKey\n').update(orderingKey);
  return h.digest('base64url');
}

function resultOf(event: StoredEvent): IngestResult {
  return { id: event.id, type: event.type, timestamp: event.timestamp, deliveries: event.endpointIds.length };
}

/** A replayed event's first attempts to the endpoints that were strict when it was accepted. */
function strictReplays(event: StoredEvent, endpoints: Endpoint[]): DeliveryMessage[] {
  const strict = new Set(event.orderedEndpointIds ?? []);
  if (strict.size === 0) return [];
  return endpoints
    .filter((e) => strict.has(e.id))
    .map((e) => firstAttemptMessage(event, { id: e.id, version: e.version, ordering: 'strict' }));
}

/** The deliveries of an event that are skipped from the start (their endpoints were disabled). */
function skippedAtAccept(event: StoredEvent): Delivery[] {
  return event.skippedEndpointIds.map((endpointId) =>
    freshDelivery(keyOfEventDelivery(event, endpointId), event.type, true),
  );
}

export function createIngestService(deps: IngestDeps) {
  const now = deps.now ?? (() => new Date());

  type AppView = NonNullable<Awaited<ReturnType<IngestApps['getAppWithEndpoints']>>>;

  function validate(body: unknown, idempotencyKey?: string) {
    const input = parseOrThrow(createEventSchema, body);
    const dataJson = JSON.stringify(input.data);
    if (Buffer.byteLength(dataJson) > LIMITS.eventDataBytes) {
      throw new ValidationError('event data is too large', [
        { path: 'data', message: `must serialize to at most ${LIMITS.eventDataBytes} bytes` },
      ]);
    }
    if (idempotencyKey !== undefined)
      parseOrThrow(eventIdSchema, idempotencyKey, 'Idempotency-Key header', 'header.idempotency-key');
    return { input, dataJson };
  }

  /** Stores one event; returns its answer and the first attempts to send (none for a replay). */
  async function accept(
    appId: string,
    { input, dataJson }: ReturnType<typeof validate>,
    found: AppView,
    idempotencyKey?: string,
  ): Promise<{ result: IngestResult; messages: DeliveryMessage[]; event?: StoredEvent }> {
    const at = now();
    const subscribed = found.endpoints.filter((e) => subscribes(e, input.type));
    const enabled = subscribed.filter((e) => e.enabled);
    // An app whose events are spread over several partitions: any of them, at random.
    const shards = found.app.eventShards ?? 1;
    const shard = shards > 1 ? randomInt(shards) : 0;
    const chosen = input.id ?? idempotencyKey;
    if (chosen !== undefined && (shardOfId(chosen) ?? 0) >= shards) {
      // The shape hookrelay's own ids have, naming a partition this app does not have: the
      // delivery records' keys follow from it (table-layout.ts), so it is refused, never guessed.
      throw new ValidationError('the event id has the shape of an id hookrelay generates for a wider app', [
        {
          path: input.id !== undefined ? 'id' : 'Idempotency-Key',
          message: `names event shard ${shardOfId(chosen)}; this app has ${shards}: drop the last character or choose another id`,
        },
      ]);
    }
    const event: StoredEvent = {
      id: input.id ?? idempotencyKey ?? newId('msg', at.getTime(), shard),
      appId,
      type: input.type,
      timestamp: at.toISOString(),
      dataJson,
      requestHash: requestHash(input.type, dataJson, input.orderingKey),
      endpointIds: enabled.map((e) => e.id),
      skippedEndpointIds: subscribed.filter((e) => !e.enabled).map((e) => e.id),
      ...(shard > 0 ? { shard } : {}),
    };
    if (input.orderingKey !== undefined) event.orderingKey = input.orderingKey;
    const strict = enabled.filter((e) => e.ordering === 'strict').map((e) => e.id);
    if (strict.length > 0) event.orderedEndpointIds = strict;
    const put = await deps.events.putEventIfAbsent(event);
    if (!put.created) {
      const idPath = input.id !== undefined ? 'id' : 'Idempotency-Key';
      const requestHash = 'existing' in put ? put.existing.requestHash : put.claimed.requestHash;
      if (requestHash !== event.requestHash) {
        throw new ConflictError(`event ${event.id} already exists with a different body`, [
          { path: idPath, message: 'was used before for another event' },
        ]);
      }
      if (!('existing' in put)) {
        // Another request with this id is storing it right now (or died doing so a moment ago):
        // its answer, or a retry's, will be the replay.
        throw new IdInUseError(`event ${event.id} is being accepted by another request; retry in a few seconds`, [
          { path: idPath, message: 'is in use by a request still in progress' },
        ]);
      }
      const existing = put.existing;
      // A replay: its first attempts were sent, or (a crash before the 202) housekeeping's
      // reconcile sends them once they are late. Sending them again here would POST twice.
      // Strict deliveries are the exception: sent again before this answer, so that a first
      // attempt a crash kept from its queue takes its place in its key's line before the next
      // event of the key; one that was queued is dropped by SQS (the same deduplication id,
      // within 5 minutes) or, later, by its lane (already finished, or behind its original).
      return { result: resultOf(existing), messages: strictReplays(existing, found.endpoints) };
    }
    const skipped = skippedAtAccept(event);
    if (skipped.length > 0) await deps.deliveries.putSkippedDeliveries(skipped);
    return { result: resultOf(event), messages: enabled.map((e) => firstAttemptMessage(event, e)), event };
  }

  return {
    async ingest(req: IngestRequest): Promise<IngestResult> {
      const valid = validate(req.body, req.idempotencyKey);
      const found = await deps.apps.getAppWithEndpoints(req.appId);
      if (!found) throw new NotFoundError(`app ${req.appId} not found`);
      await deps.catalog?.check(found.app, valid.input.type, valid.input.data);
      const { result, messages, event } = await accept(req.appId, valid, found, req.idempotencyKey);
      if (messages.length > 0) await deps.scheduler.now(messages);
      if (event) deps.onAccepted?.(event);
      return result;
    },

    /**
     * Up to 100 events; each succeeds or fails on its own, answered in input order. Their first
     * attempts go out together, ten messages a request, once every event is stored.
     */
    async ingestBatch(appId: string, body: unknown) {
      const { events } = parseOrThrow(createEventBatchSchema, body);
      // One read of the app and its endpoints serves the whole batch.
      const found = await deps.apps.getAppWithEndpoints(appId);
      if (!found) throw new NotFoundError(`app ${appId} not found`);
      const accepted = await Promise.all(
        events.map(async (item, index) => {
          try {
            const valid = validate(item);
            await deps.catalog?.check(found.app, valid.input.type, valid.input.data);
            return await accept(appId, valid, found);
          } catch (err) {
            if (err instanceof ValidationError || err instanceof ConflictError || err instanceof UnprocessableError) {
              return {
                error: {
                  code: err.code,
                  message: err.message,
                  details: err.details?.map((d) => ({ ...d, path: `events.${index}.${d.path}` })),
                },
              };
            }
            throw err;
          }
        }),
      );
      const messages = accepted.flatMap((a) => ('messages' in a ? a.messages : []));
      if (messages.length > 0) await deps.scheduler.now(messages);
      for (const a of accepted) if ('event' in a && a.event) deps.onAccepted?.(a.event);
      return {
        items: accepted.map((a) => ('result' in a ? { id: a.result.id, deliveries: a.result.deliveries } : a)),
      };
    },
  };
}

export type IngestService = ReturnType<typeof createIngestService>;
