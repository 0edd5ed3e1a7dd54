/**
 * Test events: the first example of a catalog type, sent to one endpoint alone, as an event of
 * its own marked `test` (in its status; it stays out of the app's catch-up feed). It is
 * delivered, signed, retried and recorded like any other event, so it shows what the endpoint
 * will really see.
 */
import { ConflictError, NotFoundError, UnprocessableError } from '../shared/errors';
import type { EventType } from '../catalog/event-types';
import { newId } from '../shared/ids';
import { requestHash, type IngestEvents } from './ingest';
import { firstAttemptMessage, type DeliveryScheduler } from '../delivery/lifecycle';
import type { Endpoint, StoredEvent } from '../shared/model';
import { parseOrThrow, sendExampleSchema } from '../api/schemas';

export interface TestEventDeps {
  events: IngestEvents;
  scheduler: Pick<DeliveryScheduler, 'now'>;
  getEndpoint(appId: string, endpointId: string): Promise<Endpoint | null>;
  getEventType(name: string): Promise<EventType | null>;
  now?: () => Date;
}

export function createTestEventService(deps: TestEventDeps) {
  const now = deps.now ?? (() => new Date());
  return {
    async sendExample(appId: string, endpointId: string, body: unknown): Promise<{ id: string }> {
      const input = parseOrThrow(sendExampleSchema, body);
      const endpoint = await deps.getEndpoint(appId, endpointId);
      if (!endpoint) throw new NotFoundError(`endpoint ${endpointId} not found`);
      const type = await deps.getEventType(input.eventType);
      if (!type) {
        throw new UnprocessableError(`event type ${input.eventType} is not in the catalog`, [
          { path: 'eventType', message: 'names no event type of GET /v1/event-types' },
        ]);
      }
      const example = type.examples[0];
      if (example === undefined) {
        throw new UnprocessableError(`event type ${type.name} has no example to send`, [
          { path: 'eventType', message: 'has no examples; PATCH /v1/event-types/{name} can add one' },
        ]);
      }
      if (!endpoint.enabled) {
        throw new ConflictError(
          `endpoint ${endpointId} is disabled; enable it (PATCH enabled: true) to send it a test`,
        );
      }
      const at = now();
      const dataJson = JSON.stringify(example);
      const event: StoredEvent = {
        id: newId('msg', at.getTime()),
        appId,
        type: type.name,
        timestamp: at.toISOString(),
        dataJson,
        requestHash: requestHash(type.name, dataJson),
        endpointIds: [endpoint.id],
        skippedEndpointIds: [],
        test: true,
      };
      // As ingest does: the event stands for its pending delivery, stored before its message is
      // sent (housekeeping's reconcile re-sends a first attempt whose message was lost).
      await deps.events.putEventIfAbsent(event);
      await deps.scheduler.now([firstAttemptMessage(event, endpoint)]);
      return { id: event.id };
    },
  };
}

export type TestEventService = ReturnType<typeof createTestEventService>;
