import { EventBridgeClient, PutEventsCommand, type PutEventsRequestEntry } from '@aws-sdk/client-eventbridge';
import type { EventBridgeEvent, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { LocalStack } from '../../infra/local/stack';
import { recorder, startFakeStack, waitFor } from '../helpers/local-stack';

type Event = EventBridgeEvent<string, unknown>;
/** Set per test: what the fake ingest function answers for a batch of the ingest queue. */
let ingestImpl: (event: SQSEvent, call: number) => SQSBatchResponse | void | Promise<SQSBatchResponse | void>;
const ingest = recorder<SQSEvent, SQSBatchResponse | void>((event, call) => ingestImpl(event, call));
/** The EventBridge events the ingest function was given, in order (one per SQS record). */
const delivered = () => ingest.calls.flatMap((e) => e.Records.map((r) => JSON.parse(r.body) as Event));
let stack: LocalStack;
let events: EventBridgeClient;

beforeAll(async () => {
  // A short visibility timeout, so that a record reported as failed comes back within the test.
  stack = await startFakeStack({
    handlers: { ingest: ingest.handler },
    queueOverrides: { ingest: { visibilityTimeoutS: 1 } },
  });
  // An unmodified SDK client: only the endpoint points at the local stack.
  events = new EventBridgeClient({
    region: 'us-east-1',
    endpoint: stack.eventsUrl,
    credentials: { accessKeyId: 'fake', secretAccessKey: 'fake' },
  });
});
afterAll(async () => {
  events.destroy();
  await stack.stop();
});
beforeEach(() => {
  ingest.calls.length = 0;
  ingestImpl = () => {};
});
afterEach(async () => {
  // Let stray asynchronous invocations land before the next test clears the recorder.
  await new Promise((r) => setTimeout(r, 30));
});

const entry = (over: Partial<PutEventsRequestEntry> = {}): PutEventsRequestEntry => ({
  Source: 'com.example.shop',
  DetailType: 'order.placed',
  Detail: JSON.stringify({ appId: 'app_1', data: { order: 42 } }),
  ...over,
});

describe('local EventBridge PutEvents', () => {
  it('puts a custom event on the ingest queue as EventBridge does, and the ingest function gets it as an SQS record', async () => {
    const time = new Date('2026-01-02T03:04:05Z');

    const out = await events.send(new PutEventsCommand({ Entries: [entry({ Time: time, Resources: ['arn:x'] })] }));
    await waitFor(() => ingest.calls.length === 1, 'the ingest invocation');

    expect(out.FailedEntryCount).toBe(0);
    const eventId = out.Entries?.[0]?.EventId;
    expect(eventId).toEqual(expect.any(String));
    const record = ingest.calls[0]?.Records[0];
    expect(record).toMatchObject({
      eventSource: 'aws:sqs',
      eventSourceARN: expect.stringMatching(/:hookrelay-ingest$/),
      attributes: { ApproximateReceiveCount: '1' },
    });
    expect(delivered()[0]).toEqual({
      version: '0',
      id: eventId,
      'detail-type': 'order.placed',
      source: 'com.example.shop',
      account: expect.stringMatching(/^\d{12}$/),
      time: '2026-01-02T03:04:05Z',
      region: 'us-east-1',
      resources: ['arn:x'],
      detail: { appId: 'app_1', data: { order: 42 } },
    });
    expect(ingest.contexts[0]?.functionName).toBe('hookrelay-ingest');
  });

  it('refuses an aws.* source per entry and does not route it', async () => {
    const out = await events.send(new PutEventsCommand({ Entries: [entry({ Source: 'aws.events' }), entry()] }));
    await waitFor(() => delivered().length === 1, 'the valid entry to be routed');
    await new Promise((r) => setTimeout(r, 50));

    expect(out.FailedEntryCount).toBe(1);
    expect(out.Entries?.[0]).toEqual({
      ErrorCode: 'NotAuthorizedForSourceException',
      ErrorMessage: 'Not authorized for the source.',
    });
    expect(out.Entries?.[1]?.EventId).toEqual(expect.any(String));
    expect(delivered().map((e) => e.source)).toEqual(['com.example.shop']);
  });

  it('answers bad entries one by one, with AWS error codes', async () => {
    const out = await events.send(
      new PutEventsCommand({
        Entries: [
          entry({ Detail: undefined }),
          entry({ Detail: '[1,2]' }),
          entry({ Detail: '{not json' }),
          entry({ EventBusName: 'someone-elses-bus' }),
          entry({ EventBusName: 'arn:aws:events:us-east-1:123456789012:event-bus/hookrelay' }),
          entry({ EventBusName: 'default' }),
        ],
      }),
    );

    expect(out.FailedEntryCount).toBe(4);
    expect(out.Entries?.map((e) => e.ErrorCode)).toEqual([
      'InvalidArgument',
      'MalformedDetail',
      'MalformedDetail',
      'ResourceNotFoundException',
      undefined,
      undefined,
    ]);
    await waitFor(() => delivered().length === 2, 'the two valid entries');
  });

  it('rejects a malformed request as a whole with ValidationException', async () => {
    const tooMany = events.send(new PutEventsCommand({ Entries: Array.from({ length: 11 }, () => entry()) }));
    const none = events.send(new PutEventsCommand({ Entries: [] }));
    const tooBig = events.send(
      new PutEventsCommand({ Entries: [entry({ Detail: JSON.stringify({ pad: 'x'.repeat(1024 * 1024) }) })] }),
    );

    await expect(tooMany).rejects.toMatchObject({ name: 'ValidationException' });
    await expect(none).rejects.toMatchObject({ name: 'ValidationException' });
    await expect(tooBig).rejects.toMatchObject({ name: 'ValidationException', message: expect.stringMatching(/size/) });
    expect(ingest.calls).toHaveLength(0);
  });

  it('answers an unknown operation and unparsable JSON in the AWS JSON error shape', async () => {
    const call = (target: string, body: string) =>
      fetch(stack.eventsUrl, {
        method: 'POST',
        headers: { 'x-amz-target': target, 'content-type': 'application/x-amz-json-1.1' },
        body,
      });

    const unknown = await call('AWSEvents.ListRules', '{}');
    const garbled = await call('AWSEvents.PutEvents', '{"Entries": [');

    expect(unknown.status).toBe(400);
    expect(await unknown.json()).toMatchObject({ __type: 'UnknownOperationException' });
    expect(garbled.status).toBe(400);
    expect(await garbled.json()).toMatchObject({ __type: 'SerializationException' });
  });

  it("accepts an entry of up to 1 MiB (EventBridge's limit), larger than hookrelay's data limit", async () => {
    const out = await events.send(
      new PutEventsCommand({ Entries: [entry({ Detail: JSON.stringify({ appId: 'a', data: 'x'.repeat(600_000) }) })] }),
    );
    await waitFor(() => delivered().length === 1, 'the large event');

    expect(out.FailedEntryCount).toBe(0);
    expect((delivered()[0]?.detail as { data: string }).data).toHaveLength(600_000);
  });

  it('gives a record the ingest function reports as failed back, with its receive count, until it succeeds', async () => {
    ingestImpl = (event, call) =>
      call < 3 ? { batchItemFailures: event.Records.map((r) => ({ itemIdentifier: r.messageId })) } : undefined;

    const out = await events.send(new PutEventsCommand({ Entries: [entry()] }));
    await waitFor(() => ingest.calls.length === 3, 'three receives', 10_000);
    await new Promise((r) => setTimeout(r, 1_200));

    expect(out.FailedEntryCount).toBe(0);
    expect(ingest.calls).toHaveLength(3);
    expect(delivered().map((e) => e.id)).toEqual(Array(3).fill(out.Entries?.[0]?.EventId));
    expect(ingest.calls.map((e) => e.Records[0]?.attributes.ApproximateReceiveCount)).toEqual(['1', '2', '3']);
  });

  it('shares the API port: requests without X-Amz-Target still reach the API', async () => {
    const res = await fetch(`${stack.apiUrl}/health`);

    expect(stack.eventsUrl).toBe(stack.apiUrl);
    expect(await res.json()).toEqual({ fake: true });
  });
});

describe('local EventBridge on a port of its own', () => {
  it('serves PutEvents on eventsPort', async () => {
    const rec = recorder<SQSEvent, void>(() => {});
    const own = await startFakeStack({ eventsPort: 0, handlers: { ingest: rec.handler } });
    const client = new EventBridgeClient({
      region: 'us-east-1',
      endpoint: own.eventsUrl,
      credentials: { accessKeyId: 'fake', secretAccessKey: 'fake' },
    });
    try {
      const out = await client.send(new PutEventsCommand({ Entries: [entry()] }));
      await waitFor(() => rec.calls.length === 1, 'the ingest invocation');

      expect(own.eventsUrl).not.toBe(own.apiUrl);
      expect(out.Entries?.[0]?.EventId).toBe((JSON.parse(rec.calls[0]?.Records[0]?.body ?? '{}') as Event).id);
    } finally {
      client.destroy();
      await own.stop();
    }
  });
});
