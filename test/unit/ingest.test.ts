/** The accept path's answers to what the event store says of an id (the store itself: dynamo-store.int.test.ts). */
import { describe, expect, it } from 'vitest';
import { ConflictError } from '../../functions/shared/errors';
import { createIngestService, requestHash, type PutEventResult } from '../../functions/intake/ingest';
import type { DeliveryMessage } from '../../functions/delivery/lifecycle';
import type { StoredEvent } from '../../functions/shared/model';
import { anEndpoint } from '../helpers/fixtures';

const app = { id: 'app_1', name: 'A', createdAt: '2026-01-01T00:00:00.000Z' };
const endpoint = anEndpoint();
const body = { type: 'order.created', id: 'order-1', data: { n: 1 } };

function service(answer: (e: StoredEvent) => PutEventResult) {
  const sent: DeliveryMessage[] = [];
  const ingest = createIngestService({
    apps: { getAppWithEndpoints: async () => ({ app, endpoints: [endpoint] }) },
    events: { putEventIfAbsent: async (e) => answer(e) },
    deliveries: { putSkippedDeliveries: async () => {} },
    scheduler: { now: async (ms) => void sent.push(...ms) },
  });
  return { ingest, sent };
}

describe('accepting an event with an id', () => {
  it('sends the first attempts of a new event', async () => {
    const { ingest, sent } = service(() => ({ created: true }));
    expect(await ingest.ingest({ appId: 'app_1', body })).toMatchObject({ id: 'order-1', deliveries: 1 });
    expect(sent.map((m) => [m.eventId, m.endpointId, m.attempt])).toEqual([['order-1', 'ep_1', 1]]);
  });

  it('answers a replay with the stored event and sends nothing', async () => {
    let stored: StoredEvent | undefined;
    const { ingest, sent } = service((e) => {
      stored ??= { ...e, timestamp: '2026-01-01T00:00:01.000Z' };
      return { created: false, existing: stored };
    });
    const r = await ingest.ingest({ appId: 'app_1', body });
    expect(r).toEqual({ id: 'order-1', type: 'order.created', timestamp: '2026-01-01T00:00:01.000Z', deliveries: 1 });
    expect(sent).toEqual([]);
  });

  it('is a 409 naming the id while another request with it is still storing its event', async () => {
    const hash = requestHash(body.type, JSON.stringify(body.data));
    const { ingest, sent } = service(() => ({ created: false, claimed: { requestHash: hash } }));
    const err = await ingest.ingest({ appId: 'app_1', body }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConflictError);
    expect((err as ConflictError).message).toMatch(/being accepted by another request/);
    expect((err as ConflictError).details).toEqual([
      { path: 'id', message: 'is in use by a request still in progress' },
    ]);
    expect(sent).toEqual([]);
  });

  it('is a 409 for another body, whether the first is stored or still being stored', async () => {
    const { ingest } = service(() => ({ created: false, claimed: { requestHash: 'another' } }));
    const err = await ingest
      .ingest({ appId: 'app_1', body: { type: 'order.created', data: { n: 2 } }, idempotencyKey: 'k-1' })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConflictError);
    expect((err as ConflictError).details).toEqual([
      { path: 'Idempotency-Key', message: 'was used before for another event' },
    ]);
  });
});
