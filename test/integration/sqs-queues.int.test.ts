/** The SQS adapters against the real-protocol emulator, on queues the topology defines. */
import { ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqsDeadLetterQueue, SqsRetryQueue, SqsWorkQueue } from '../../functions/adapters/sqs-queues';
import type { DeliveryMessage } from '../../functions/core/messages';
import { startEmulators, type Emulators } from '../../infra/local/emulators';
import { provision, sqsClient, type Provisioned } from '../../infra/local/provision';

let emulators: Emulators;
let sqs: SQSClient;
let queues: Provisioned['queueUrls'];

beforeAll(async () => {
  emulators = await startEmulators();
  queues = (await provision(emulators.endpoints)).queueUrls;
  sqs = sqsClient(emulators.endpoints.sqs);
});

afterAll(async () => {
  sqs?.destroy();
  await emulators?.stop();
});

const message = (i: number): DeliveryMessage => ({
  v: 1,
  appId: 'app_1',
  eventId: `msg_${i}`,
  endpointId: 'ep_1',
  attempt: 1,
});

async function drain(url: string, waitS = 0): Promise<DeliveryMessage[]> {
  const out: DeliveryMessage[] = [];
  for (;;) {
    const r = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: url,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: waitS,
        VisibilityTimeout: 60,
      }),
    );
    if (!r.Messages?.length) return out;
    out.push(...r.Messages.map((m) => JSON.parse(m.Body ?? '') as DeliveryMessage));
  }
}

describe('SQS queues', () => {
  it('enqueues any number of messages in batches of ten', async () => {
    await new SqsWorkQueue(sqs, queues.work).enqueue(Array.from({ length: 23 }, (_, i) => message(i)));
    const got = await drain(queues.work);
    expect(got.map((m) => m.eventId).sort()).toEqual(Array.from({ length: 23 }, (_, i) => `msg_${i}`).sort());
  });

  it('holds a retry back for its delay', async () => {
    await new SqsRetryQueue(sqs, queues.retry).schedule({ ...message(1), attempt: 2 }, 2);
    expect(await drain(queues.retry)).toHaveLength(0);
    await new Promise((r) => setTimeout(r, 2200));
    expect(await drain(queues.retry)).toMatchObject([{ eventId: 'msg_1', attempt: 2 }]);
  });

  it('dead-letters a message with its reason', async () => {
    await new SqsDeadLetterQueue(sqs, queues.dlq).send({ ...message(9), reason: 'exhausted after 8 attempts' });
    expect(await drain(queues.dlq)).toMatchObject([{ eventId: 'msg_9', reason: 'exhausted after 8 attempts' }]);
  });
});
