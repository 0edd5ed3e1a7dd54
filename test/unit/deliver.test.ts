import { createHmac } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { beforeEach, describe, expect, it } from 'vitest';
import { createDeliverService } from '../../functions/delivery/deliver';
import { createEndpointHealth } from '../../functions/endpoints/endpoint-health';
import {
  firstAttemptMessage,
  freshDelivery,
  lifecycle,
  type DeliveryMessage,
} from '../../functions/delivery/lifecycle';
import type { SendResult } from '../../functions/webhook/outcome';
import { RetryPolicy } from '../../functions/delivery/retry-policy';
import { generateSecret } from '../../functions/webhook/signing';
import { fakeStores, RecordingScheduler, ScriptedSender, status } from '../helpers/fakes';

// Now, so that the verifier's timestamp tolerance (5 minutes) accepts the signature.
const T0 = Date.now();
const secret = generateSecret();
const EVENT = {
  id: 'msg_1',
  appId: 'app_1',
  type: 'invoice.paid',
  timestamp: new Date(T0).toISOString(),
  dataJson: '{"n":1}',
  requestHash: 'h',
  endpointIds: ['ep_1'],
  skippedEndpointIds: [],
};
const KEY = { appId: 'app_1', eventId: 'msg_1', endpointId: 'ep_1', eventAt: EVENT.timestamp };

function setup(script: SendResult[], scheduleS = [5, 300]) {
  const stores = fakeStores();
  stores.events.put(EVENT);
  stores.apps.putEndpoint({
    id: 'ep_1',
    appId: 'app_1',
    url: 'https://example.com/hook',
    eventTypes: [],
    description: '',
    enabled: true,
    createdAt: '',
    updatedAt: '',
    secrets: [{ key: secret, createdAt: '' }],
    version: 0,
  });
  let clock = T0;
  const sender = new ScriptedSender(script);
  const retryQueue = new RecordingScheduler(() => clock);
  const dlq = new RecordingScheduler(() => clock);
  const service = createDeliverService({
    events: stores.events,
    store: stores.deliveries,
    endpoints: stores.apps,
    health: createEndpointHealth({ store: stores.apps, disableAfterFailingS: 5 * 86_400 }),
    sender,
    scheduler: retryQueue,
    deadLetters: dlq,
    policy: new RetryPolicy({ scheduleS, jitter: 0, random: () => 0.5 }),
    life: lifecycle({ leaseS: 300 }),
    timeoutMs: 1000,
    userAgent: 'hookrelay/test',
    now: () => new Date(clock),
  });
  const advance = (ms: number) => {
    clock += ms;
  };
  return {
    stores,
    sender,
    retryQueue,
    dlq,
    service,
    advance,
    endpoint: () => stores.apps.endpoint('app_1', 'ep_1')!,
    delivery: () => stores.deliveries.record(KEY)!,
  };
}

const first: DeliveryMessage = firstAttemptMessage(EVENT, { id: 'ep_1', version: 0 });

describe('a delivery attempt', () => {
  let s: ReturnType<typeof setup>;

  describe('that succeeds', () => {
    beforeEach(async () => {
      s = setup([status(200)]);
      await s.service.handle(first);
    });

    it('sends one signed POST that verifies under the endpoint secret', () => {
      expect(s.sender.requests).toHaveLength(1);
      const req = s.sender.requests[0]!;
      expect(() => new Webhook(secret).verify(req.body, req.headers)).not.toThrow();
      expect(req.headers['webhook-id']).toBe('msg_1');
    });

    it('keeps the successful attempt on the delivery, marked succeeded and off the open index', () => {
      expect(s.stores.deliveries.attempts).toEqual([]);
      expect(s.delivery()).toMatchObject({
        status: 'succeeded',
        attempts: 1,
        lastStatusCode: 200,
        success: { durationMs: 3, responseExcerpt: 'ok' },
      });
      expect(s.delivery().dueAt).toBeUndefined();
      expect(s.retryQueue.sent).toHaveLength(0);
    });

    it('takes no lease on the first receive: the outcome is the one write', () => {
      expect(s.delivery().leaseUntil).toBeUndefined();
      expect(s.stores.deliveries.records.size).toBe(1);
    });

    it('ignores a redelivery of the same message without sending', async () => {
      expect(await s.service.handle(first, 2)).toBe('duplicate');
      expect(s.sender.requests).toHaveLength(1);
    });

    it('records nothing twice when SQS hands out one message twice as a first receive (the window)', async () => {
      expect(await s.service.handle(first, 1)).toBe('duplicate');
      expect(s.sender.requests).toHaveLength(2);
      expect(s.delivery()).toMatchObject({ status: 'succeeded', attempts: 1 });
    });
  });

  it('schedules the next attempt with its delay after a retryable failure', async () => {
    s = setup([status(500)]);
    expect(await s.service.handle(first)).toBe('retrying');
    expect(s.delivery()).toMatchObject({ status: 'retrying', attempts: 1, lastStatusCode: 500 });
    expect(s.delivery().nextAttemptAt).toBe(new Date(T0 + 5000).toISOString());
    expect(s.retryQueue.sent).toEqual([
      {
        message: { ...first, attempt: 2, notBefore: T0 + 5000, previousAttemptAt: new Date(T0).toISOString() },
        delayS: 5,
      },
    ]);
    expect(s.stores.deliveries.attempts).toMatchObject([{ attempt: 1, statusCode: 500, outcome: 'retryable' }]);
    // Soon after its event: on no index (housekeeping's trailing reconcile reads it back).
    expect(s.delivery().dueAt).toBeUndefined();
  });

  it('takes a re-driven delivery off the open index on a short retry, and keeps one long after its event on it', async () => {
    s = setup([status(500)]);
    await s.stores.deliveries.openPending(freshDelivery(KEY, EVENT.type), new Date(T0 + 300_000).toISOString());
    s.advance(300_000);
    expect(await s.service.handle({ ...first, redriven: true })).toBe('retrying');
    expect(s.delivery()).toMatchObject({ status: 'retrying', attempts: 1 });
    expect(s.delivery().dueAt).toBeUndefined();

    // A resend a day later: the same 5 s wait is due on the open index a lease after it.
    s.advance(86_400_000);
    const at = new Date(T0 + 300_000 + 86_400_000);
    const dueAt = new Date(at.getTime() + 300_000).toISOString();
    expect(await s.stores.deliveries.restartDelivery(s.delivery(), dueAt, at.toISOString())).toBe(true);
    expect(await s.service.handle({ ...first, attempt: 2, redriven: true })).toBe('retrying');
    expect(s.delivery().dueAt).toBe(new Date(T0 + 300_000 + 86_400_000 + 5000 + 300_000).toISOString());
  });

  it('reads the endpoint as it is now for a retry, and as its event saw it (cache allowed) for a first attempt', async () => {
    s = setup([status(500), status(204)]);
    const asked: Array<number | 'latest' | undefined> = [];
    const read = s.stores.apps.endpointForDelivery.bind(s.stores.apps);
    s.stores.apps.endpointForDelivery = (appId, endpointId, minVersion) => {
      asked.push(minVersion);
      return read(appId, endpointId, minVersion);
    };
    await s.service.handle(first);
    s.advance(5000);
    await s.service.handle(s.retryQueue.sent[0]!.message);
    // A PATCH between the two (a fixed secret, another scheme) reaches the retry at once.
    expect(asked).toEqual([0, 'latest']);
  });

  it('keeps one webhook-id across attempts and succeeds on the third', async () => {
    s = setup([status(500), status(502), status(204)]);
    await s.service.handle(first);
    s.advance(5000);
    await s.service.handle(s.retryQueue.sent[0]!.message);
    s.advance(300_000);
    expect(await s.service.handle(s.retryQueue.sent[1]!.message)).toBe('succeeded');
    expect(new Set(s.sender.requests.map((r) => r.headers['webhook-id']))).toEqual(new Set(['msg_1']));
    expect(s.delivery()).toMatchObject({ status: 'succeeded', attempts: 3 });
  });

  it('fails after the last scheduled retry and dead-letters the message with the reason', async () => {
    s = setup([status(500)], [1, 1]);
    await s.service.handle(first);
    s.advance(1000);
    await s.service.handle(s.retryQueue.sent[0]!.message);
    s.advance(1000);
    expect(await s.service.handle(s.retryQueue.sent[1]!.message)).toBe('failed');
    expect(s.delivery()).toMatchObject({ status: 'failed', attempts: 3 });
    expect(s.dlq.sent).toHaveLength(1);
    expect(s.dlq.sent[0]!.message).toMatchObject({ eventId: 'msg_1', attempt: 3 });
    expect(s.dlq.sent[0]!.message.reason).toContain('exhausted after 3 attempts');
    expect(s.stores.deliveries.attempts).toHaveLength(3);
  });

  it('leaves a wait longer than 15 minutes to housekeeping, due 15 minutes before the attempt', async () => {
    s = setup([status(500)], [3600]);
    expect(await s.service.handle(first)).toBe('retrying');
    expect(s.retryQueue.sent).toHaveLength(0);
    expect(s.delivery()).toMatchObject({
      status: 'retrying',
      nextAttemptAt: new Date(T0 + 3_600_000).toISOString(),
      dueAt: new Date(T0 + 3_600_000 - 900_000).toISOString(),
    });
  });

  it('hands back to the scheduler, for the rest of its wait, a message that arrives early', async () => {
    s = setup([status(200)]);
    const early = { ...first, notBefore: T0 + 3_600_000 };
    expect(await s.service.handle(early)).toBe('hopped');
    expect(s.retryQueue.sent).toEqual([{ message: early, delayS: 3600 }]);
    expect(s.sender.requests).toHaveLength(0);
  });

  it('disables the endpoint on 410 Gone and does not retry', async () => {
    s = setup([status(410)]);
    expect(await s.service.handle(first)).toBe('failed');
    expect(s.stores.apps.disabled).toEqual([{ endpointId: 'ep_1', reason: 'the endpoint answered 410 Gone' }]);
    expect(s.retryQueue.sent).toHaveLength(0);
  });

  it('honours Retry-After on a 429 within the schedule', async () => {
    s = setup([status(429, { 'retry-after': '120' })]);
    await s.service.handle(first);
    expect(s.retryQueue.sent[0]!.message.notBefore).toBe(T0 + 120_000);
  });

  it('skips, without sending, a delivery whose endpoint is disabled', async () => {
    s = setup([status(200)]);
    s.endpoint().enabled = false;
    expect(await s.service.handle(first)).toBe('skipped');
    expect(s.sender.requests).toHaveLength(0);
    expect(s.delivery().status).toBe('skipped');
  });

  it('does not send a redelivered message while another worker holds the lease', async () => {
    s = setup([status(200)]);
    await s.stores.deliveries.claim(KEY, 1, { token: 'other', until: new Date(T0 + 60_000).toISOString() }, '');
    expect(await s.service.handle(first, 2)).toBe('contended');
    expect(s.sender.requests).toHaveLength(0);
  });

  it('reads the event when the message does not carry it', async () => {
    s = setup([status(200)]);
    const { event: _event, ...bare } = first;
    expect(await s.service.handle(bare)).toBe('succeeded');
    expect(JSON.parse(s.sender.requests[0]!.body)).toEqual({
      type: 'invoice.paid',
      timestamp: EVENT.timestamp,
      data: { n: 1 },
    });
  });

  it('leases a re-driven first attempt, creating its record', async () => {
    s = setup([status(200)]);
    expect(await s.service.handle({ ...first, redriven: true })).toBe('succeeded');
    expect(s.delivery()).toMatchObject({ status: 'succeeded', attempts: 1 });
    expect(await s.service.handle({ ...first, redriven: true })).toBe('duplicate');
    expect(s.sender.requests).toHaveLength(1);
  });
});

describe('a delivery after a secret rotation', () => {
  it('carries both signatures during the 24 h overlap and only the new one after it', async () => {
    const s = setup([status(200)]);
    const oldKey = secret;
    const newKey = generateSecret();
    s.endpoint().secrets = [
      { key: oldKey, createdAt: '', expiresAt: new Date(T0 + 86_400_000).toISOString() },
      { key: newKey, createdAt: new Date(T0).toISOString() },
    ];
    await s.service.handle(first);
    const during = s.sender.requests[0]!;
    expect(during.headers['webhook-signature']?.split(' ')).toHaveLength(2);

    // A second event, a day and a second later.
    Object.assign(s.delivery(), { status: 'pending', attempts: 0 });
    s.advance(86_401_000);
    await s.service.handle(first);
    const after = s.sender.requests[1]!;
    expect(after.headers['webhook-signature']?.split(' ')).toHaveLength(1);
    // The attempt is a day in the future, past any verifier's timestamp tolerance: check the HMAC itself.
    const expected = createHmac('sha256', Buffer.from(newKey.slice(6), 'base64'))
      .update(`msg_1.${after.headers['webhook-timestamp']}.${after.body}`)
      .digest('base64');
    expect(after.headers['webhook-signature']).toBe(`v1,${expected}`);
  });
});

describe('a dead-lettered delivery redriven from the DLQ', () => {
  it('is tried again with a fresh retry schedule and the same webhook-id', async () => {
    const s = setup([status(500), status(500), status(500), status(200)], [1]);
    await s.service.handle(first);
    s.advance(1000);
    expect(await s.service.handle(s.retryQueue.sent[0]!.message)).toBe('failed');
    const dead = s.dlq.sent[0]!.message;
    expect(dead.reason).toBeDefined();

    // The operator moves the DLQ message back to the work queue.
    expect(await s.service.handle(dead)).toBe('retrying');
    expect(s.delivery()).toMatchObject({ status: 'retrying', attempts: 3, retryBase: 2 });
    s.advance(1000);
    expect(await s.service.handle(s.retryQueue.sent[1]!.message)).toBe('succeeded');
    expect(new Set(s.sender.requests.map((r) => r.headers['webhook-id']))).toEqual(new Set(['msg_1']));

    // The same DLQ message redriven twice does nothing more.
    expect(await s.service.handle(dead)).toBe('duplicate');
    expect(s.sender.requests).toHaveLength(4);
  });
});

describe('endpoint health', () => {
  const endpoint = (s: ReturnType<typeof setup>) => s.endpoint();

  it('writes nothing for a single failure followed by a success (the common blip)', async () => {
    const s = setup([status(500), status(200)]);
    await s.service.handle(first);
    s.advance(5000);
    await s.service.handle(s.retryQueue.sent[0]!.message);
    expect(endpoint(s).failingSince).toBeUndefined();
    expect(s.delivery()).toMatchObject({ status: 'succeeded', attempts: 2 });
  });

  it('starts a failing streak, dated from the first failure, at the second in a row; a success clears it', async () => {
    const s = setup([status(500), status(500), status(200)]);
    await s.service.handle(first);
    expect(endpoint(s).failingSince).toBeUndefined();
    s.advance(5000);
    await s.service.handle(s.retryQueue.sent[0]!.message);
    expect(endpoint(s).failingSince).toBe(new Date(T0).toISOString());
    s.advance(300_000);
    await s.service.handle(s.retryQueue.sent[1]!.message);
    expect(endpoint(s).failingSince).toBeUndefined();
    expect(endpoint(s).enabled).toBe(true);
  });

  it('starts a failing streak on a leased retry too, from the stored previous attempt', async () => {
    const s = setup([status(500)]);
    await s.service.handle(first);
    s.advance(5000);
    await s.service.handle(s.retryQueue.sent[0]!.message, 2);
    expect(endpoint(s).failingSince).toBe(new Date(T0).toISOString());
  });

  it('disables an endpoint that has failed every attempt for five days', async () => {
    const s = setup([status(503)], [5, 300]);
    endpoint(s).failingSince = new Date(T0 - 5 * 86_400_000 + 1000).toISOString();
    await s.service.handle(first);
    expect(endpoint(s).enabled).toBe(true); // 4 days 23:59:59
    s.advance(5000);
    await s.service.handle(s.retryQueue.sent[0]!.message);
    expect(endpoint(s).enabled).toBe(false);
    expect(endpoint(s).disabledReason).toMatch(/every attempt failed for 5 days/);
    // Its next attempt is skipped, visibly, not sent.
    s.advance(300_000);
    expect(await s.service.handle(s.retryQueue.sent[1]!.message)).toBe('skipped');
    expect(s.sender.requests).toHaveLength(2);
  });
});
