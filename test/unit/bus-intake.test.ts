import { describe, expect, it } from 'vitest';
import {
  busEventIdentity,
  createBusIntake,
  retryDelayS,
  retryHorizonS,
  type DeadLetteredEvent,
  type IngestRetryPolicy,
} from '../../functions/intake/bus-intake';
import { ConflictError, IdInUseError, NotFoundError, ValidationError } from '../../functions/shared/errors';
import type { IngestRequest, IngestResult } from '../../functions/intake/ingest';
import { topology } from '../../infra/topology';

const policy: IngestRetryPolicy = { firstDelayS: 30, maxDelayS: 3600, attempts: 30 };

function eventBody(detail: unknown = { appId: 'app_1', data: { n: 1 } }, over: Record<string, unknown> = {}) {
  return JSON.stringify({
    version: '0',
    id: '6f1c2d3e-0000-4000-8000-000000000001',
    'detail-type': 'order.placed',
    source: 'com.example.shop',
    account: '123456789012',
    time: '2026-12-01T10:00:00Z',
    region: 'us-east-1',
    resources: [],
    detail,
    ...over,
  });
}

function intake(ingest: (req: IngestRequest) => Promise<IngestResult>, failDeadLetter = false) {
  const dead: DeadLetteredEvent[] = [];
  const calls: IngestRequest[] = [];
  const service = createBusIntake({
    ingest: async (req) => {
      calls.push(req);
      return ingest(req);
    },
    deadLetters: {
      send: async (m) => {
        if (failDeadLetter) throw new Error('SQS unavailable');
        dead.push(m);
      },
    },
    retry: policy,
  });
  return { service, dead, calls };
}

const ok = async (req: IngestRequest): Promise<IngestResult> => ({
  id: String((req.body as { id: string }).id),
  type: 'order.placed',
  timestamp: '2026-12-01T10:00:00.000Z',
  deliveries: 1,
});

describe('an event from the bus', () => {
  it('is ingested like a POST, with the EventBridge id as its event id when the detail has none', async () => {
    const { service, calls, dead } = intake(ok);

    const out = await service.handle({ body: eventBody(), receives: 1 });

    expect(out).toMatchObject({ outcome: 'ingested', result: { id: 'evb_6f1c2d3e-0000-4000-8000-000000000001' } });
    expect(calls).toEqual([
      {
        appId: 'app_1',
        body: { type: 'order.placed', data: { n: 1 }, id: 'evb_6f1c2d3e-0000-4000-8000-000000000001' },
      },
    ]);
    expect(dead).toEqual([]);
  });

  it("keeps the producer's own id", async () => {
    const { service, calls } = intake(ok);

    await service.handle({ body: eventBody({ appId: 'app_1', data: {}, id: 'inv_1' }), receives: 1 });

    expect((calls[0]?.body as { id: string }).id).toBe('inv_1');
  });

  it.each([
    ['a domain refusal: unknown app', new NotFoundError('app app_x not found'), 'not_found', 'app app_x not found'],
    [
      'a domain refusal: invalid data',
      new ValidationError('invalid request body', [{ path: 'data', message: 'is required and must be a JSON object' }]),
      'validation_failed',
      'invalid request body (data: is required and must be a JSON object)',
    ],
    [
      'an id reused for another body',
      new ConflictError('event inv_1 already exists with a different body'),
      'conflict',
      'event inv_1 already exists with a different body',
    ],
  ])('is dead-lettered at once, with its reason and its body unchanged, on %s', async (_, err, code, reason) => {
    const { service, dead } = intake(async () => {
      throw err;
    });
    const body = eventBody();

    const out = await service.handle({ body, receives: 1 });

    expect(out).toEqual({ outcome: 'dead-lettered', code, reason });
    expect(dead).toEqual([{ body, code, reason, receives: 1 }]);
  });

  it.each([
    ['a body that is not JSON', '{"id": ', 'malformed_json', 'the message body is not JSON'],
    ['a detail without appId', eventBody({ data: {} }), 'validation_failed', 'detail.appId'],
    ['a detail that is not an object', eventBody('text'), 'validation_failed', 'detail: must be an object'],
    ['an event without detail-type', eventBody(undefined, { 'detail-type': 7 }), 'validation_failed', 'detail-type'],
  ])('is dead-lettered without reaching the ingest, for %s', async (_, body, code, inReason) => {
    const { service, dead, calls } = intake(ok);

    const out = await service.handle({ body, receives: 1 });

    expect(out).toMatchObject({ outcome: 'dead-lettered', code, reason: expect.stringContaining(inReason) });
    expect(dead).toHaveLength(1);
    expect(calls).toEqual([]);
  });

  it('is retried with a doubling delay, capped, on any other error (the table unavailable)', async () => {
    const { service, dead } = intake(async () => {
      throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:8000'), { name: 'TimeoutError' });
    });

    const delays = [];
    for (let receives = 1; receives < policy.attempts; receives++) {
      const out = await service.handle({ body: eventBody(), receives });
      expect(out.outcome).toBe('retry');
      if (out.outcome === 'retry') delays.push(out.delayS);
    }

    expect(delays.slice(0, 8)).toEqual([30, 60, 120, 240, 480, 960, 1920, 3600]);
    expect(new Set(delays.slice(7))).toEqual(new Set([3600]));
    expect(dead).toEqual([]);
  });

  it('waits and is tried again, not dead-lettered, while another ingest of it is storing it', async () => {
    const { service, dead } = intake(async () => {
      throw new IdInUseError('event evb_1 is being accepted by another request; retry in a few seconds');
    });
    const out = await service.handle({ body: eventBody(), receives: 1 });
    expect(out).toMatchObject({ outcome: 'retry', delayS: policy.firstDelayS });
    expect(dead).toEqual([]);
  });

  it('is dead-lettered with the last error on the last attempt', async () => {
    const { service, dead } = intake(async () => {
      throw Object.assign(new Error('Throughput exceeds the current capacity'), {
        name: 'ProvisionedThroughputExceededException',
      });
    });

    const out = await service.handle({ body: eventBody(), receives: policy.attempts });

    expect(out).toEqual({
      outcome: 'dead-lettered',
      code: 'retries_exhausted',
      reason:
        'still failing after 30 attempts over 23 h; last: ProvisionedThroughputExceededException: Throughput exceeds the current capacity',
    });
    expect(dead).toHaveLength(1);
  });

  it('stays in the queue when even the DLQ cannot take it: the failure is thrown', async () => {
    const { service } = intake(async () => {
      throw new NotFoundError('app app_x not found');
    }, true);

    await expect(service.handle({ body: eventBody(), receives: 1 })).rejects.toThrow('SQS unavailable');
  });
});

describe('the ingest retry policy', () => {
  it('spans about 23 hours with the topology settings, within the ingest queue retention', () => {
    const horizon = retryHorizonS(topology.ingest.retry);

    expect(horizon).toBe(83_010);
    expect(horizon).toBeLessThan(topology.queues.ingest.retentionDays * 86_400);
    expect(retryDelayS(topology.ingest.retry, 1)).toBe(30);
    expect(retryDelayS(topology.ingest.retry, 1000)).toBe(3600);
  });
});

describe('busEventIdentity', () => {
  it('reads what it can and never throws', () => {
    expect(busEventIdentity(eventBody())).toEqual({
      eventBridgeId: '6f1c2d3e-0000-4000-8000-000000000001',
      source: 'com.example.shop',
      detailType: 'order.placed',
      appId: 'app_1',
    });
    expect(busEventIdentity('not json')).toEqual({ eventBridgeId: null, source: null, detailType: null, appId: null });
    expect(busEventIdentity(undefined).appId).toBeNull();
  });
});
