/**
 * The local FIFO queues (infra/local/fifo-queues.ts) keep AWS's FIFO semantics, which ordered
 * delivery rests on: a group with a message in flight hands out nothing, order within a group,
 * 5-minute deduplication, no per-message delay, the 12-hour visibility limit, and the redrive.
 */
import { describe, expect, it } from 'vitest';
import { createFifoQueues, isFifoRequest } from '../../infra/local/fifo-queues';

interface Received {
  Body: string;
  ReceiptHandle: string;
  Attributes: Record<string, string>;
}
interface Answer {
  MessageId?: string;
  Messages?: Received[];
}

const url = (name: string) => `http://127.0.0.1:1/000000000000/${name}`;

async function setUp(attributes: Record<string, string> = {}) {
  const fifo = createFifoQueues({ urlOf: url, arnOf: (n) => `arn:aws:sqs:us-east-1:000000000000:${n}` });
  const call = async (action: string, input: Record<string, unknown>) => {
    const a = await fifo.handle(action, input);
    if (a.status !== 200) throw new Error(`${action}: ${JSON.stringify(a.body)}`);
    return a.body as Answer;
  };
  await call('CreateQueue', { QueueName: 'dlq.fifo', Attributes: { FifoQueue: 'true' } });
  await call('CreateQueue', {
    QueueName: 'q.fifo',
    Attributes: { FifoQueue: 'true', VisibilityTimeout: '30', ...attributes },
  });
  const QueueUrl = url('q.fifo');
  let n = 0;
  const send = (group: string, body: string, dedup = `d${n++}`) =>
    call('SendMessage', { QueueUrl, MessageBody: body, MessageGroupId: group, MessageDeduplicationId: dedup });
  const receive = async (max = 10) =>
    ((await call('ReceiveMessage', { QueueUrl, MaxNumberOfMessages: max, AttributeNames: ['All'] })).Messages ??
      []) as {
      Body: string;
      ReceiptHandle: string;
      Attributes: Record<string, string>;
    }[];
  return { fifo, call, send, receive, QueueUrl };
}

describe('local FIFO queues', () => {
  it('are the requests naming a .fifo queue', () => {
    expect(isFifoRequest({ QueueUrl: url('a.fifo') })).toBe(true);
    expect(isFifoRequest({ QueueName: 'a.fifo' })).toBe(true);
    expect(isFifoRequest({ QueueUrl: url('a') })).toBe(false);
  });

  it('hand out a group in order and nothing more of it while one of its messages is in flight', async () => {
    const { send, receive, call, QueueUrl } = await setUp();
    await send('a', 'a1');
    await send('b', 'b1');
    await send('a', 'a2');
    const first = await receive(1);
    expect(first.map((m) => m.Body)).toEqual(['a1']);
    // a is blocked by a1 in flight; b is free.
    expect((await receive()).map((m) => m.Body)).toEqual(['b1']);
    expect(await receive()).toEqual([]);
    // a1 back (visibility 0): a goes on from a1, then a2, in one receive.
    await call('ChangeMessageVisibility', { QueueUrl, ReceiptHandle: first[0]!.ReceiptHandle, VisibilityTimeout: 0 });
    const again = await receive();
    expect(again.map((m) => m.Body)).toEqual(['a1', 'a2']);
    expect(again[0]!.Attributes.ApproximateReceiveCount).toBe('2');
    // Deleting a1 leaves a2 in flight: a stays blocked until a2 goes too.
    await call('DeleteMessage', { QueueUrl, ReceiptHandle: again[0]!.ReceiptHandle });
    expect(await receive()).toEqual([]);
  });

  it('drop a second send of a deduplication id within 5 minutes, even after the first was deleted', async () => {
    const { send, receive, call, QueueUrl } = await setUp();
    const a = await send('g', 'one', 'same');
    const b = await send('g', 'two', 'same');
    expect(b.MessageId).toBe(a.MessageId);
    const [m] = await receive();
    await call('DeleteMessage', { QueueUrl, ReceiptHandle: m!.ReceiptHandle });
    await send('g', 'three', 'same');
    expect(await receive()).toEqual([]);
  });

  it('refuse a per-message delay and a visibility beyond 12 hours from the receive', async () => {
    const { fifo, send, receive, QueueUrl } = await setUp();
    const delayed = await fifo.handle('SendMessage', {
      QueueUrl,
      MessageBody: 'x',
      MessageGroupId: 'g',
      MessageDeduplicationId: 'x',
      DelaySeconds: 5,
    });
    expect(delayed.status).toBe(400);
    await send('g', 'y');
    const [m] = await receive();
    const ok = await fifo.handle('ChangeMessageVisibility', {
      QueueUrl,
      ReceiptHandle: m!.ReceiptHandle,
      VisibilityTimeout: 43_000,
    });
    expect(ok.status).toBe(200);
    const tooLong = await fifo.handle('ChangeMessageVisibility', {
      QueueUrl,
      ReceiptHandle: m!.ReceiptHandle,
      VisibilityTimeout: 43_200 + 1,
    });
    expect(tooLong.status).toBe(400);
  });

  it('refuse a delete with the receipt handle of an earlier receive', async () => {
    const { fifo, send, receive, call, QueueUrl } = await setUp();
    await send('g', 'm');
    const [first] = await receive();
    await call('ChangeMessageVisibility', { QueueUrl, ReceiptHandle: first!.ReceiptHandle, VisibilityTimeout: 0 });
    await receive();
    const stale = await fifo.handle('DeleteMessage', { QueueUrl, ReceiptHandle: first!.ReceiptHandle });
    expect(stale.status).toBe(400);
  });

  it('move a message received maxReceiveCount times to the dead-letter queue, keeping its group', async () => {
    const { send, receive, call, QueueUrl } = await setUp({
      RedrivePolicy: JSON.stringify({
        deadLetterTargetArn: 'arn:aws:sqs:us-east-1:000000000000:dlq.fifo',
        maxReceiveCount: 2,
      }),
    });
    await send('g', 'poison');
    await send('g', 'next');
    for (let i = 0; i < 2; i++) {
      const [m] = await receive(1);
      expect(m!.Body).toBe('poison');
      await call('ChangeMessageVisibility', { QueueUrl, ReceiptHandle: m!.ReceiptHandle, VisibilityTimeout: 0 });
    }
    expect((await receive(1)).map((m) => m.Body)).toEqual(['next']);
    const dead = await call('ReceiveMessage', { QueueUrl: url('dlq.fifo'), AttributeNames: ['All'] });
    expect(dead.Messages?.[0]?.Body).toBe('poison');
    expect(dead.Messages?.[0]?.Attributes.MessageGroupId).toBe('g');
  });
});
