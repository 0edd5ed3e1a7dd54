import { createHash } from 'node:crypto';
import {
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { afterEach, describe, expect, it } from 'vitest';
import { startEmulators } from '../../infra/local/emulators';
import { createLog } from '../../infra/local/log';
import { provision, sqsClient } from '../../infra/local/provision';
import { startSqsPoller } from '../../infra/local/sqs-poller';
import { topology } from '../../infra/topology';
import type { LocalStack, LocalStackOptions } from '../../infra/local/stack';
import { recorder, startFakeStack, waitFor } from '../helpers/local-stack';

let stack: LocalStack | undefined;
let sqs: SQSClient | undefined;
afterEach(async () => {
  sqs?.destroy();
  await stack?.stop();
  stack = sqs = undefined;
});

type Delivery = (event: SQSEvent, call: number) => SQSBatchResponse | void | Promise<SQSBatchResponse | void>;

async function start(delivery: Delivery, opts: LocalStackOptions = {}) {
  const rec = recorder<SQSEvent, SQSBatchResponse | void>(delivery);
  stack = await startFakeStack({ ...opts, handlers: { delivery: rec.handler } });
  sqs = sqsClient(stack.endpoints.sqs);
  const records = () => rec.calls.flatMap((e) => e.Records);
  const deliveriesOf = (body: string) => records().filter((r) => r.body === body);
  return { rec, stack, sqs, records, deliveriesOf };
}

async function queueArn(client: SQSClient, url: string): Promise<string> {
  const { Attributes } = await client.send(
    new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }),
  );
  return Attributes?.QueueArn ?? '';
}

/** Receives what is visible (hidden for 30 s: with VisibilityTimeout 0 the emulator can repeat a message within one receive). */
async function drain(client: SQSClient, url: string): Promise<string[]> {
  const { Messages = [] } = await client.send(
    new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, WaitTimeSeconds: 0, VisibilityTimeout: 30 }),
  );
  return Messages.map((m) => m.Body ?? '');
}

const byBody = (body: string) => (r: SQSRecord) => r.body === body;

describe('local SQS event source mapping', () => {
  it('hands the delivery function a real SQSEvent', async () => {
    const { sqs, stack, records } = await start(() => {});

    await sqs.send(
      new SendMessageCommand({
        QueueUrl: stack.queueUrls.work,
        MessageBody: '{"hello":1}',
        MessageAttributes: {
          kind: { DataType: 'String', StringValue: 'test' },
          blob: { DataType: 'Binary', BinaryValue: Buffer.from('hi') },
        },
      }),
    );
    const [record] = await waitFor(() => records().length > 0 && records(), 'a delivery');

    expect(record).toMatchObject({
      messageId: expect.any(String),
      receiptHandle: expect.any(String),
      body: '{"hello":1}',
      md5OfBody: createHash('md5').update('{"hello":1}').digest('hex'),
      eventSource: 'aws:sqs',
      eventSourceARN: await queueArn(sqs, stack.queueUrls.work),
      awsRegion: 'us-east-1',
      attributes: {
        ApproximateReceiveCount: '1',
        SentTimestamp: expect.stringMatching(/^\d+$/),
        SenderId: expect.any(String),
        ApproximateFirstReceiveTimestamp: expect.stringMatching(/^\d+$/),
      },
      messageAttributes: {
        kind: { stringValue: 'test', stringListValues: [], binaryListValues: [], dataType: 'String' },
        blob: {
          binaryValue: Buffer.from('hi').toString('base64'),
          stringListValues: [],
          binaryListValues: [],
          dataType: 'Binary',
        },
      },
    });
  });

  it('polls the retry queue too', async () => {
    const { sqs, stack, records } = await start(() => {});

    await sqs.send(new SendMessageCommand({ QueueUrl: stack.queueUrls.retry, MessageBody: 'retry-me' }));
    const [record] = await waitFor(() => records().length > 0 && records(), 'a delivery');

    expect(record?.eventSourceARN).toBe(await queueArn(sqs, stack.queueUrls.retry));
  });

  it("polls every shard of the work queue, each named after it and made with the work queue's settings", async () => {
    const { sqs, stack, records } = await start(() => {}, { queueOverrides: { work: { visibilityTimeoutS: 1 } } });

    const shards = Array.from(
      { length: topology.delivery.workShards - 1 },
      (_, i) => `${stack.queueUrls.work}-${i + 1}`,
    );
    for (const url of shards) {
      const { Attributes } = await sqs.send(
        new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['VisibilityTimeout'] }),
      );
      expect(Attributes?.VisibilityTimeout, url).toBe('1');
      await sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: url }));
    }
    await waitFor(() => records().length >= shards.length, 'a delivery from every shard');
    for (const url of shards) {
      expect(records().find((r) => r.body === url)?.eventSourceARN).toBe(await queueArn(sqs, url));
    }
  });

  it('deletes successes, keeps batchItemFailures, and dead-letters a message after maxReceiveCount', async () => {
    const { sqs, stack, deliveriesOf } = await start(
      (event) => ({
        batchItemFailures: event.Records.filter(byBody('bad')).map((r) => ({ itemIdentifier: r.messageId })),
      }),
      { queueOverrides: { work: { visibilityTimeoutS: 1, maxReceiveCount: 2 } } },
    );

    await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: stack.queueUrls.work,
        Entries: ['ok-1', 'bad', 'ok-2'].map((body, i) => ({ Id: `m${i}`, MessageBody: body })),
      }),
    );
    // Received once, failed, back after the 1 s visibility timeout, failed again: then the DLQ.
    const dead = await waitFor(async () => {
      const bodies = await drain(sqs, stack.queueUrls.dlq);
      return bodies.length > 0 && bodies;
    }, 'the failing message in the DLQ');

    expect(dead).toEqual(['bad']);
    expect(deliveriesOf('bad').map((r) => r.attributes.ApproximateReceiveCount)).toEqual(['1', '2']);
    // Deleted after their one successful delivery: never seen again.
    expect(deliveriesOf('ok-1')).toHaveLength(1);
    expect(deliveriesOf('ok-2')).toHaveLength(1);
  });

  it('leaves the whole batch when the handler throws', async () => {
    const { sqs, stack, deliveriesOf } = await start(
      (_event, call) => {
        if (call === 1) throw new Error('worker crashed');
      },
      { queueOverrides: { work: { visibilityTimeoutS: 1 } } },
    );

    await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: stack.queueUrls.work,
        Entries: ['a', 'b'].map((body, i) => ({ Id: `m${i}`, MessageBody: body })),
      }),
    );
    await waitFor(() => deliveriesOf('a').length === 2 && deliveriesOf('b').length === 2, 'both redelivered');

    expect(deliveriesOf('a')[1]?.attributes.ApproximateReceiveCount).toBe('2');
  });

  it('leaves the whole batch when a failure names a message that is not in it', async () => {
    const { sqs, stack, deliveriesOf } = await start(
      (_event, call) => (call === 1 ? { batchItemFailures: [{ itemIdentifier: 'not-a-message-id' }] } : undefined),
      { queueOverrides: { work: { visibilityTimeoutS: 1 } } },
    );

    await sqs.send(new SendMessageCommand({ QueueUrl: stack.queueUrls.work, MessageBody: 'x' }));
    await waitFor(() => deliveriesOf('x').length === 2, 'the message redelivered');
  });

  it('delivers a burst in batches of at most 10, each message exactly once', async () => {
    const { rec, sqs, stack, records } = await start(() => {});

    for (let i = 0; i < 5; i++) {
      await sqs.send(
        new SendMessageBatchCommand({
          QueueUrl: stack.queueUrls.work,
          Entries: Array.from({ length: 10 }, (_, j) => ({ Id: `m${j}`, MessageBody: `msg-${i * 10 + j}` })),
        }),
      );
    }
    await waitFor(() => records().length >= 50, '50 deliveries');
    await new Promise((r) => setTimeout(r, 300));

    expect(new Set(records().map((r) => r.body)).size).toBe(50);
    expect(records()).toHaveLength(50);
    expect(Math.max(...rec.calls.map((e) => e.Records.length))).toBeLessThanOrEqual(10);
  });

  it('stop() waits for the batch in flight', async () => {
    let finished = false;
    const { sqs, stack, records } = await start(async () => {
      await new Promise((r) => setTimeout(r, 300));
      finished = true;
    });

    await sqs.send(new SendMessageCommand({ QueueUrl: stack.queueUrls.work, MessageBody: 'slow' }));
    await waitFor(() => records().length > 0, 'the delivery to start');
    await stack.stop();

    expect(finished).toBe(true);
  });
});

describe('local SQS poller wake-ups', () => {
  // The safety-net look at an idle queue is pushed out of reach: anything delivered in these
  // tests was delivered because the poller was woken at the right moment.
  async function idlePoller(delivery: Delivery) {
    const emulators = await startEmulators();
    const resources = await provision(emulators.endpoints, { work: { visibilityTimeoutS: 1 } });
    const client = sqsClient(emulators.endpoints.sqs);
    const rec = recorder<SQSEvent, SQSBatchResponse | void>(delivery);
    const poller = startSqsPoller({
      sqs: client,
      queueUrl: resources.queueUrls.work,
      queueArn: resources.queueArns.work,
      invoke: (event) => rec.handler(event, {} as never),
      log: createLog(true),
      idlePollMs: 600_000,
      onActivity: emulators.onQueueActivity,
    });
    const stop = async () => {
      await poller.stop();
      client.destroy();
      await emulators.stop();
    };
    // Let both pollers find the queue empty and go to sleep.
    await new Promise((r) => setTimeout(r, 100));
    return { rec, client, url: resources.queueUrls.work, stop };
  }

  it('wakes a sleeping poller on a send, and again when a delayed message comes due', async () => {
    const { rec, client, url, stop } = await idlePoller(() => {});
    try {
      await client.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'now' }));
      await waitFor(() => rec.calls.length === 1, 'the undelayed message');
      await client.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'later', DelaySeconds: 1 }));
      await waitFor(() => rec.calls.length === 2, 'the delayed message', 3_000);

      expect(rec.calls.map((e) => e.Records[0]?.body)).toEqual(['now', 'later']);
    } finally {
      await stop();
    }
  });

  it('wakes when a failed batch comes back after its visibility timeout', async () => {
    const { rec, client, url, stop } = await idlePoller((_event, call) => {
      if (call === 1) throw new Error('first attempt fails');
    });
    try {
      await client.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'again' }));
      await waitFor(() => rec.calls.length === 2, 'the redelivery', 3_000);

      expect(rec.calls[1]?.Records[0]?.attributes.ApproximateReceiveCount).toBe('2');
    } finally {
      await stop();
    }
  });
});
