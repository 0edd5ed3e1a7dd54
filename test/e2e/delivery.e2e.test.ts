/**
 * The delivery loop end to end, through the public API only, with a recording receiver.
 * Runs against the embedded local stack by default, or any deployed target (see helpers/target.ts).
 */
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { Webhook as StandardWebhook } from 'standardwebhooks';
import { Webhook as SvixWebhook } from 'svix';
import { describe, expect, it } from 'vitest';
import { sleep, useSystem } from '../helpers/e2e';

const system = useSystem();
const hook = system.hook;

describe('delivery', () => {
  it('delivers an event on the first try, signed so both Standard Webhooks verifiers accept it', async () => {
    const appId = await system.api.createApp();
    const url = hook();
    const ep = await system.api.createEndpoint(appId, url);
    const sent = await system.api.sendEvent(appId, { type: 'invoice.paid', data: { amount: 42 } });
    expect(sent).toMatchObject({ type: 'invoice.paid', deliveries: 1 });
    expect(sent.id).toMatch(/^msg_/);

    await system.receiver.waitFor(() => system.receiver.on(url).length === 1, 20_000, 'the webhook');
    const got = system.receiver.on(url)[0]!;
    expect(got.method).toBe('POST');
    expect(got.headers['content-type']).toBe('application/json');
    expect(got.headers['user-agent']).toMatch(/^hookrelay\//);
    expect(got.headers['webhook-id']).toBe(sent.id);
    const expected = { type: 'invoice.paid', timestamp: sent.timestamp, data: { amount: 42 } };
    expect(new StandardWebhook(ep.secret).verify(got.body, got.headers)).toEqual(expected);
    expect(new SvixWebhook(ep.secret).verify(got.body, got.headers)).toEqual(expected);

    const status = await system.api.waitForStatus(appId, sent.id, (s) => s.deliveries[0]?.status === 'succeeded');
    expect(status.deliveries).toEqual([
      expect.objectContaining({
        endpointId: ep.id,
        status: 'succeeded',
        attempts: 1,
        lastStatusCode: 200,
        nextAttemptAt: null,
      }),
    ]);
    expect(status.data).toEqual({ amount: 42 });
    const attempts = await system.api.hr.GET('/v1/apps/{appId}/events/{eventId}/attempts', {
      params: { path: { appId, eventId: sent.id } },
    });
    expect(attempts.response.status).toBe(200);
    expect(attempts.data?.items).toEqual([
      expect.objectContaining({ endpointId: ep.id, attempt: 1, statusCode: 200, outcome: 'succeeded', error: null }),
    ]);
  });

  it('retries a 500-twice-then-200 endpoint and succeeds on attempt 3 with one webhook-id', async () => {
    const appId = await system.api.createApp();
    const url = hook([500, 500, 200]);
    const ep = await system.api.createEndpoint(appId, url);
    const sent = await system.api.sendEvent(appId, { type: 'order.created', data: { n: 1 } });

    const status = await system.api.waitForStatus(appId, sent.id, (s) => s.deliveries[0]?.status === 'succeeded');
    expect(status.deliveries[0]).toMatchObject({ status: 'succeeded', attempts: 3, lastStatusCode: 200 });
    const got = system.receiver.on(url);
    expect(got).toHaveLength(3);
    expect(new Set(got.map((r) => r.headers['webhook-id']))).toEqual(new Set([sent.id]));
    for (const r of got) expect(() => new StandardWebhook(ep.secret).verify(r.body, r.headers)).not.toThrow();
    // Each retry waited about the scheduled second (1 s ± 10 %, rounded up to SQS's whole seconds).
    expect(got[1]!.at - got[0]!.at).toBeGreaterThanOrEqual(850);
    expect(got[2]!.at - got[1]!.at).toBeGreaterThanOrEqual(850);

    const attempts = await system.api.hr.GET('/v1/apps/{appId}/events/{eventId}/attempts', {
      params: { path: { appId, eventId: sent.id } },
    });
    expect(attempts.data?.items.map((a) => [a.attempt, a.statusCode, a.outcome])).toEqual([
      [1, 500, 'retryable'],
      [2, 500, 'retryable'],
      [3, 200, 'succeeded'],
    ]);
  });

  it('marks an always-500 endpoint failed after 4 attempts and dead-letters the delivery', async () => {
    const appId = await system.api.createApp();
    const url = hook([500]);
    const ep = await system.api.createEndpoint(appId, url);
    const sent = await system.api.sendEvent(appId, { type: 'order.created', data: { n: 2 } });

    const status = await system.api.waitForStatus(appId, sent.id, (s) => s.deliveries[0]?.status === 'failed', 30_000);
    expect(status.deliveries[0]).toMatchObject({
      status: 'failed',
      attempts: 4,
      lastStatusCode: 500,
      nextAttemptAt: null,
    });
    await sleep(1500);
    expect(system.receiver.on(url)).toHaveLength(4);

    if (!system.target.dlq) throw new Error('this target does not expose its DLQ (set E2E_DLQ_URL)');
    const sqs = new SQSClient(system.target.dlq.sqsEndpoint ? { endpoint: system.target.dlq.sqsEndpoint } : {});
    const bodies: Record<string, unknown>[] = [];
    for (let i = 0; i < 10 && !bodies.some((b) => b.eventId === sent.id); i++) {
      const out = await sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: system.target.dlq.url,
          MaxNumberOfMessages: 10,
          WaitTimeSeconds: 1,
          VisibilityTimeout: 1,
        }),
      );
      bodies.push(...(out.Messages ?? []).map((m) => JSON.parse(m.Body ?? '{}') as Record<string, unknown>));
    }
    sqs.destroy();
    expect(bodies).toContainEqual(
      expect.objectContaining({
        appId,
        eventId: sent.id,
        endpointId: ep.id,
        attempt: 4,
        reason: expect.stringContaining('exhausted'),
      }),
    );
  });

  it('delivers only to endpoints subscribed to the event type', async () => {
    const appId = await system.api.createApp();
    const invoices = hook();
    const orders = hook();
    const everything = hook();
    await system.api.createEndpoint(appId, invoices, { eventTypes: ['invoice.paid'] });
    await system.api.createEndpoint(appId, orders, { eventTypes: ['order.created', 'order.shipped'] });
    await system.api.createEndpoint(appId, everything);

    const sent = await system.api.sendEvent(appId, { type: 'invoice.paid', data: {} });
    expect(sent.deliveries).toBe(2);
    await system.api.waitForStatus(appId, sent.id, (s) => s.deliveries.every((d) => d.status === 'succeeded'));
    expect(system.receiver.on(invoices)).toHaveLength(1);
    expect(system.receiver.on(everything)).toHaveLength(1);
    expect(system.receiver.on(orders)).toHaveLength(0);
  });

  it('answers a repeated id with the original response and delivers nothing new; another body is a 409', async () => {
    const appId = await system.api.createApp();
    const url = hook();
    await system.api.createEndpoint(appId, url);
    const event = { type: 'invoice.paid', data: { amount: 1 }, id: 'inv_2026_0001' };
    const first = await system.api.sendEvent(appId, event);
    await system.receiver.waitFor(() => system.receiver.on(url).length === 1);

    const again = await system.api.sendEvent(appId, event);
    expect(again).toEqual(first);

    const path = { appId };
    const conflict = await system.api.hr.POST('/v1/apps/{appId}/events', {
      params: { path },
      body: { ...event, data: { amount: 2 } },
    });
    expect(conflict.response.status).toBe(409);
    expect(conflict.error).toMatchObject({ error: { code: 'conflict' } });

    const keyedSend = () =>
      system.api.hr.POST('/v1/apps/{appId}/events', {
        params: { path, header: { 'Idempotency-Key': 'key-1' } },
        body: { type: 'invoice.paid', data: { amount: 3 } },
      });
    const keyed = await keyedSend();
    const keyedAgain = await keyedSend();
    expect(keyed.data?.id).toBe('key-1');
    expect(keyedAgain.data).toEqual(keyed.data);

    await system.receiver.waitFor(() => system.receiver.on(url).length >= 2);
    await sleep(1500);
    expect(system.receiver.on(url).map((r) => r.headers['webhook-id'])).toEqual(['inv_2026_0001', 'key-1']);
  });

  it('delivers an event put on EventBridge like a POST', async () => {
    if (!system.target.eventsEndpoint && !system.target.eventBusName)
      throw new Error('set E2E_EVENTS_ENDPOINT or E2E_EVENT_BUS_NAME');
    const appId = await system.api.createApp();
    const url = hook();
    const ep = await system.api.createEndpoint(appId, url, { eventTypes: ['user.signed_up'] });
    const eb = new EventBridgeClient(system.target.eventsEndpoint ? { endpoint: system.target.eventsEndpoint } : {});
    const out = await eb.send(
      new PutEventsCommand({
        Entries: [
          {
            Source: 'com.example.accounts',
            DetailType: 'user.signed_up',
            Detail: JSON.stringify({ appId, data: { userId: 'u_1' }, id: 'signup-u_1' }),
            EventBusName: system.target.eventBusName,
          },
        ],
      }),
    );
    eb.destroy();
    expect(out.FailedEntryCount).toBe(0);

    await system.receiver.waitFor(
      () => system.receiver.on(url).length === 1,
      20_000,
      'the EventBridge-sourced webhook',
    );
    const got = system.receiver.on(url)[0]!;
    expect(got.headers['webhook-id']).toBe('signup-u_1');
    expect(new StandardWebhook(ep.secret).verify(got.body, got.headers)).toMatchObject({
      type: 'user.signed_up',
      data: { userId: 'u_1' },
    });
    const status = await system.api.waitForStatus(appId, 'signup-u_1', (s) => s.deliveries[0]?.status === 'succeeded');
    expect(status.type).toBe('user.signed_up');
  });

  it('delivers a burst of 300 events exactly once each', async () => {
    const appId = await system.api.createApp();
    const url = hook();
    await system.api.createEndpoint(appId, url);
    const ids: string[] = [];
    for (let i = 0; i < 300; i += 25) {
      const batch = await Promise.all(
        Array.from({ length: 25 }, (_, j) => system.api.sendEvent(appId, { type: 'burst.item', data: { i: i + j } })),
      );
      ids.push(...batch.map((r) => r.id));
    }
    await system.receiver.waitFor(() => system.receiver.on(url).length >= 300, 60_000, '300 webhooks');
    await sleep(1500);
    const got = system.receiver.on(url).map((r) => r.headers['webhook-id']);
    expect(got).toHaveLength(300);
    expect(new Set(got)).toEqual(new Set(ids));
  }, 90_000);
});
