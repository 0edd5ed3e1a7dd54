/** The SQS adapters against the real-protocol emulator, on queues the topology defines. */
import { CreateQueueCommand, ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SCHEDULER_HORIZON_S } from '../../functions/delivery/lifecycle';
import { delaySeconds, SqsDeadLetterQueue, SqsScheduler } from '../../functions/delivery/sqs-queues';
import type { DeliveryMessage } from '../../functions/delivery/lifecycle';
import { workShardOf } from '../../functions/delivery/work-shards';
import { startEmulators, type Emulators } from '../../infra/local/emulators';
import { provision, sqsClient, type Provisioned } from '../../infra/local/provision';

let emulators: Emulators;
let sqs: SQSClient;
let queues: Provisioned['queueUrls'];
/** The scheduler's queues with the work queue as its only shard. */
let oneShard: Omit<Provisioned['queueUrls'], 'work'> & { work: string[] };

beforeAll(async () => {
  emulators = await startEmulators();
  queues = (await provision(emulators.endpoints)).queueUrls;
  oneShard = { ...queues, work: [queues.work] };
  sqs = sqsClient(emulators.endpoints.sqs);
});

afterAll(async () => {
  sqs?.destroy();
  await emulators?.stop();
});

const message = (i: number): DeliveryMessage => ({
  v: 2,
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
    await new SqsScheduler(sqs, oneShard).now(Array.from({ length: 23 }, (_, i) => message(i)));
    const got = await drain(queues.work);
    expect(got.map((m) => m.eventId).sort()).toEqual(Array.from({ length: 23 }, (_, i) => `msg_${i}`).sort());
  });

  it("sends each app's first attempts to its own shard of the work queue", async () => {
    const shards = [queues.work];
    for (const n of [1, 2, 3]) {
      const made = await sqs.send(new CreateQueueCommand({ QueueName: `${queues.work.split('/').pop()}-t${n}` }));
      shards.push(made.QueueUrl!);
    }
    const apps = Array.from({ length: 12 }, (_, i) => `app_${i}`);
    const messages = apps.flatMap((appId) =>
      Array.from({ length: 3 }, (_, i) => ({ ...message(i), appId, eventId: `${appId}_${i}` })),
    );
    await new SqsScheduler(sqs, { ...queues, work: shards }).now(messages);

    const found = await Promise.all(shards.map((url) => drain(url)));
    found.forEach((got, n) => {
      for (const m of got) expect(workShardOf(m.appId, shards.length), `${m.eventId} in shard ${n}`).toBe(n);
    });
    expect(
      found
        .flat()
        .map((m) => m.eventId)
        .sort(),
    ).toEqual(messages.map((m) => m.eventId).sort());
    // Twelve apps over four shards: more than one shard carries work.
    expect(found.filter((got) => got.length > 0).length).toBeGreaterThan(1);
  });

  it('holds a retry back for its delay', async () => {
    await new SqsScheduler(sqs, oneShard).at({ ...message(1), attempt: 2 }, new Date(Date.now() + 1500));
    expect(await drain(queues.retry)).toHaveLength(0);
    await new Promise((r) => setTimeout(r, 2200));
    expect(await drain(queues.retry)).toMatchObject([{ eventId: 'msg_1', attempt: 2 }]);
  });

  it('asks SQS for at most its 900 s, carrying the rest in notBefore for the worker', () => {
    const now = new Date('2026-01-01T00:00:00Z');
    expect(delaySeconds(new Date(now.getTime() + 3_600_000), now)).toBe(SCHEDULER_HORIZON_S);
    expect(delaySeconds(new Date(now.getTime() + 4_001), now)).toBe(5);
    expect(delaySeconds(new Date(now.getTime() - 10), now)).toBe(0);
  });

  it('dead-letters a message with its reason', async () => {
    await new SqsDeadLetterQueue(sqs, queues.dlq).send({ ...message(9), reason: 'exhausted after 8 attempts' });
    expect(await drain(queues.dlq)).toMatchObject([{ eventId: 'msg_9', reason: 'exhausted after 8 attempts' }]);
  });
});
