/**
 * Accepting an event: validate, store it once (idempotently), fan it out to every subscribed
 * endpoint as one delivery each, and enqueue the first attempts; then answer 202.
 *
 * Crash safety without transactions: each delivery is stored, on the open index, before its
 * message is sent, so housekeeping re-drives any delivery whose message never left. A crash
 * between the event and its deliveries happens before the 202, so the producer retries, and the
 * idempotent replay records and sends whatever part of the fan-out is missing.
 */
import { createHash } from 'node:crypto';
import { ConflictError, NotFoundError, ValidationError } from './errors';
import { newId } from './ids';
import type { DeliveryMessage } from './messages';
import type { App, Delivery, Endpoint, StoredEvent } from './model';
import { LIMITS, createEventBatchSchema, createEventSchema, eventIdSchema, parseOrThrow } from './schemas';

export interface IngestStore {
  /** The app and all its endpoints, or null when the app does not exist. */
  getAppWithEndpoints(appId: string): Promise<{ app: App; endpoints: Endpoint[] } | null>;
  /** Stores a new event; returns the existing one if the id is taken. */
  putEventIfAbsent(event: StoredEvent): Promise<{ created: true } | { created: false; existing: StoredEvent }>;
  /** Stores deliveries of a freshly created event (none can exist yet). */
  putNewDeliveries(deliveries: Delivery[]): Promise<void>;
  /** Stores the deliveries that do not exist yet; returns those it created. */
  putMissingDeliveries(deliveries: Delivery[]): Promise<Delivery[]>;
}

export interface WorkQueue {
  enqueue(messages: DeliveryMessage[]): Promise<void>;
}

export interface IngestDeps {
  store: IngestStore;
  queue: WorkQueue;
  /** How long a delivery may wait in the queue before housekeeping re-enqueues it. */
  leaseS: number;
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

export function requestHash(type: string, dataJson: string): string {
  return createHash('sha256').update(type).update('\n').update(dataJson).digest('base64url');
}

function resultOf(event: StoredEvent): IngestResult {
  return { id: event.id, type: event.type, timestamp: event.timestamp, deliveries: event.endpointIds.length };
}

export function deliveriesOf(event: StoredEvent, createdAt: string, dueAt: string): Delivery[] {
  const base = { appId: event.appId, eventId: event.id, attempts: 0, createdAt };
  return [
    ...event.endpointIds.map((endpointId): Delivery => ({ ...base, endpointId, status: 'pending', dueAt })),
    ...event.skippedEndpointIds.map((endpointId): Delivery => ({ ...base, endpointId, status: 'skipped' })),
  ];
}

export function firstAttempt(d: Pick<Delivery, 'appId' | 'eventId' | 'endpointId'>): DeliveryMessage {
  return { v: 1, appId: d.appId, eventId: d.eventId, endpointId: d.endpointId, attempt: 1 };
}

export function createIngestService(deps: IngestDeps) {
  const now = deps.now ?? (() => new Date());

  /** Records and enqueues whatever part of the fan-out is missing (a replay after a crash). */
  async function completeFanOut(event: StoredEvent): Promise<number> {
    const at = now();
    const dueAt = new Date(at.getTime() + deps.leaseS * 1000).toISOString();
    // Deliveries date from their event (recover's `since` and retention count from there).
    const created = await deps.store.putMissingDeliveries(deliveriesOf(event, event.timestamp, dueAt));
    const toSend = created.filter((d) => d.status === 'pending').map(firstAttempt);
    if (toSend.length > 0) await deps.queue.enqueue(toSend);
    return toSend.length;
  }

  type AppView = NonNullable<Awaited<ReturnType<IngestStore['getAppWithEndpoints']>>>;

  async function ingestOne(
    appId: string,
    body: unknown,
    idempotencyKey?: string,
    preloaded?: AppView,
  ): Promise<IngestResult> {
    const input = parseOrThrow(createEventSchema, body);
    const dataJson = JSON.stringify(input.data);
    if (Buffer.byteLength(dataJson) > LIMITS.eventDataBytes) {
      throw new ValidationError('event data is too large', [
        { path: 'data', message: `must serialize to at most ${LIMITS.eventDataBytes} bytes` },
      ]);
    }
    if (idempotencyKey !== undefined) parseOrThrow(eventIdSchema, idempotencyKey, 'Idempotency-Key header');

    const found = preloaded ?? (await deps.store.getAppWithEndpoints(appId));
    if (!found) throw new NotFoundError(`app ${appId} not found`);

    const at = now();
    const subscribed = found.endpoints.filter((e) => subscribes(e, input.type));
    const event: StoredEvent = {
      id: input.id ?? idempotencyKey ?? newId('msg', at.getTime()),
      appId,
      type: input.type,
      timestamp: at.toISOString(),
      dataJson,
      requestHash: requestHash(input.type, dataJson),
      endpointIds: subscribed.filter((e) => e.enabled).map((e) => e.id),
      skippedEndpointIds: subscribed.filter((e) => !e.enabled).map((e) => e.id),
    };
    const dueAt = new Date(at.getTime() + deps.leaseS * 1000).toISOString();
    const put = await deps.store.putEventIfAbsent(event);
    if (!put.created) {
      const existing = put.existing;
      if (existing.requestHash !== event.requestHash) {
        throw new ConflictError(`event ${event.id} already exists with a different body`, [
          { path: input.id !== undefined ? 'id' : 'Idempotency-Key', message: 'was used before for another event' },
        ]);
      }
      // A replay of a request whose first try may have died half-way: finish it, send nothing new.
      await completeFanOut(existing);
      return resultOf(existing);
    }

    await deps.store.putNewDeliveries(deliveriesOf(event, event.timestamp, dueAt));
    const messages = event.endpointIds.map((endpointId) => firstAttempt({ appId, eventId: event.id, endpointId }));
    if (messages.length > 0) await deps.queue.enqueue(messages);
    deps.onAccepted?.(event);
    return resultOf(event);
  }

  return {
    ingest(req: IngestRequest): Promise<IngestResult> {
      return ingestOne(req.appId, req.body, req.idempotencyKey);
    },

    /** Up to 100 events; each succeeds or fails on its own, answered in input order. */
    async ingestBatch(appId: string, body: unknown) {
      const { events } = parseOrThrow(createEventBatchSchema, body);
      // One read of the app and its endpoints serves the whole batch.
      const found = await deps.store.getAppWithEndpoints(appId);
      if (!found) throw new NotFoundError(`app ${appId} not found`);
      const items = await Promise.all(
        events.map(async (item, index) => {
          try {
            const r = await ingestOne(appId, item, undefined, found);
            return { id: r.id, deliveries: r.deliveries };
          } catch (err) {
            if (err instanceof NotFoundError) throw err;
            if (err instanceof ValidationError || err instanceof ConflictError) {
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
      return { items };
    },
  };
}

export type IngestService = ReturnType<typeof createIngestService>;
