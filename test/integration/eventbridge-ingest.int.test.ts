/**
 * Nothing accepted through EventBridge is lost, on the local stack with the real handlers:
 * PutEvents -> the rule -> the SQS ingest queue -> the event source mapping -> the ingest
 * function -> ingested, or the ingest DLQ with its reason. Events refused for good (unknown app,
 * invalid data, oversized data) are dead-lettered at once, on their first and only invocation;
 * an operator sees them with `hookrelay dlq list` and re-ingests them with `dlq redrive` once the
 * cause is fixed.
 */
import { EventBridgeClient, PutEventsCommand, type PutEventsRequestEntry } from '@aws-sdk/client-eventbridge';
import { DeleteMessageCommand, GetQueueAttributesCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { DeleteCommand, DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { SQSEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../cli/hookrelay';
import { keys } from '../../functions/shared/table-layout';
import { dynamoClient, sqsClient } from '../../infra/local/provision';
import { startLocalStack, type Handlers, type LocalStack } from '../../infra/local/stack';
import { RecordingReceiver } from '../helpers/receiver';
import { testApi, type Api } from '../helpers/target';
import { waitFor } from '../helpers/local-stack';

let stack: LocalStack;
let events: EventBridgeClient;
let receiver: RecordingReceiver;
let api: Api;
/** EventBridge event ids, one per record the ingest function was given. */
const invoked: string[] = [];

/** The real ingest handler, loaded once the stack has set the environment, counting its records. */
let real: Handlers['ingest'] | undefined;
const countingIngest: Handlers['ingest'] = async (event: SQSEvent, context) => {
  for (const r of event.Records) invoked.push((JSON.parse(r.body) as { id: string }).id);
  real ??= (await import('../../functions/handlers/ingest')).handler;
  return real(event, context);
};

beforeAll(async () => {
  receiver = await new RecordingReceiver().start();
  stack = await startLocalStack({ port: 0, quiet: true, housekeeping: false, handlers: { ingest: countingIngest } });
  api = testApi(stack);
  events = new EventBridgeClient({
    region: 'us-east-1',
    endpoint: stack.eventsUrl,
    credentials: { accessKeyId: 'fake', secretAccessKey: 'fake' },
  });
});
afterAll(async () => {
  events?.destroy();
  await stack?.stop();
  await receiver?.stop();
});

async function put(detail: Record<string, unknown>): Promise<string> {
  const entry: PutEventsRequestEntry = {
    Source: 'com.example.billing',
    DetailType: 'invoice.paid',
    Detail: JSON.stringify(detail),
  };
  const out = await events.send(new PutEventsCommand({ Entries: [entry] }));
  expect(out.FailedEntryCount).toBe(0);
  const id = out.Entries?.[0]?.EventId;
  if (!id) throw new Error('PutEvents answered no EventId');
  return id;
}

async function cli(args: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await run(['--endpoint-url', stack.endpoints.sqs, ...args], {
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
    env: {},
    interactive: false,
  });
  const lines = args.includes('--json')
    ? stdout
        .split('\n')
        .filter((l) => l.trim())
        .map((l) => JSON.parse(l) as Record<string, unknown>)
    : [];
  return { code, stdout, stderr, lines };
}

/** Messages in a queue, visible or in flight (the emulator counts both). */
async function queueDepth(queueUrl: string): Promise<number> {
  const sqs = sqsClient(stack.endpoints.sqs);
  try {
    const { Attributes } = await sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['ApproximateNumberOfMessages'] }),
    );
    return Number(Attributes?.ApproximateNumberOfMessages);
  } finally {
    sqs.destroy();
  }
}

/** Deletes every message of a queue (PurgeQueue takes 60 s on the emulator, as on AWS). */
async function drain(queueUrl: string): Promise<void> {
  const sqs = sqsClient(stack.endpoints.sqs);
  try {
    for (;;) {
      const { Messages = [] } = await sqs.send(
        new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }),
      );
      if (Messages.length === 0) return;
      for (const m of Messages)
        await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: m.ReceiptHandle }));
    }
  } finally {
    sqs.destroy();
  }
}

/** The failed ingests `dlq list --json` shows, by EventBridge event id. */
async function failedIngests(): Promise<Map<string, Record<string, unknown>>> {
  const r = await cli(['--json', 'dlq', 'list']);
  expect(r.code, r.stderr).toBe(0);
  return new Map(r.lines.filter((l) => l.kind === 'ingest').map((l) => [String(l.eventBridgeEventId), l]));
}

describe('PutEvents entries that cannot be ingested', () => {
  it('dead-letters an unknown app, invalid data and oversized data at once, each with its reason and no retry', async () => {
    const appId = await api.createApp('bus');
    const cases = {
      unknownApp: await put({ appId: 'app_does_not_exist', data: { amount: 1 } }),
      invalidData: await put({ appId, data: 'not an object' }),
      // 300 KB of data: within EventBridge's 1 MiB, over hookrelay's 256 KB.
      oversized: await put({ appId, data: { pad: 'x'.repeat(300 * 1024) } }),
      noApp: await put({ data: { amount: 1 } }),
    };
    const ids = Object.values(cases);

    const dead = await waitFor(
      async () => {
        const found = await failedIngests();
        return ids.every((id) => found.has(id)) && found;
      },
      'the four events in the ingest DLQ',
      15_000,
    );
    // Time for a retry to show, were there one (the queue's visibility timeout is far longer,
    // but a retry policy that hid nothing would bring a failed record straight back).
    await new Promise((r) => setTimeout(r, 500));

    for (const id of ids)
      expect(
        invoked.filter((x) => x === id),
        `invocations for ${id}`,
      ).toHaveLength(1);
    // None is left in the ingest queue for a retry, visible or hidden.
    expect(await queueDepth(stack.queueUrls.ingest)).toBe(0);
    expect(dead.get(cases.unknownApp)).toMatchObject({
      kind: 'ingest',
      code: 'not_found',
      reason: 'app app_does_not_exist not found',
      source: 'com.example.billing',
      detailType: 'invoice.paid',
      appId: 'app_does_not_exist',
      eventId: `evb_${cases.unknownApp}`,
      attempt: 1,
    });
    expect(dead.get(cases.invalidData)).toMatchObject({
      code: 'validation_failed',
      reason: expect.stringMatching(/^invalid request body \(data: is required and must be a JSON object\)$/),
    });
    expect(dead.get(cases.oversized)).toMatchObject({
      code: 'validation_failed',
      reason: 'event data is too large (data: must serialize to at most 262144 bytes)',
    });
    expect(dead.get(cases.noApp)).toMatchObject({
      code: 'validation_failed',
      reason: expect.stringContaining('detail.appId: is required and must be a string'),
    });
    for (const id of ids) {
      const status = await api.hr.GET('/v1/apps/{appId}/events/{eventId}', {
        params: { path: { appId, eventId: `evb_${id}` } },
      });
      expect(status.response.status).toBe(404);
    }

    const table = await cli(['dlq', 'list']);
    expect(table.stdout).toMatch(/kind +message id .*reason/);
    expect(table.stdout).toMatch(/ingest +\S+ +app_does_not_exist .*app app_does_not_exist not found/);

    await drain(stack.queueUrls.ingestDlq);
  });
});

describe('a failed ingest redriven once its cause is fixed', () => {
  it('is ingested from the ingest queue and delivered', async () => {
    const appId = await api.createApp('restored');
    await api.createEndpoint(appId, receiver.endpoint([200]));
    // The cause: the app's record is missing (say, a table restored without it).
    const db = DynamoDBDocumentClient.from(dynamoClient(stack.endpoints.dynamodb));
    const appKey = { TableName: stack.tableName, Key: keys.app(appId) };
    const { Item: appItem } = await db.send(new GetCommand(appKey));
    await db.send(new DeleteCommand(appKey));

    const evb = await put({ appId, id: 'inv_restored_1', data: { amount: 42 } });
    await waitFor(async () => (await failedIngests()).get(evb)?.code === 'not_found', 'the failed ingest', 15_000);

    // The fix: the app is back. Then the operator redrives.
    await db.send(new PutCommand({ TableName: stack.tableName, Item: appItem }));
    db.destroy();
    const redrive = await cli(['--json', 'dlq', 'redrive', '--yes']);
    expect(redrive.code, redrive.stderr).toBe(0);
    expect(redrive.lines).toEqual([expect.objectContaining({ queue: 'ingest', status: 'COMPLETED', moved: 1 })]);

    await receiver.waitFor(
      (r) => r.some((x) => x.headers['webhook-id'] === 'inv_restored_1'),
      15_000,
      'the webhook of the redriven event',
    );
    const webhook = receiver.received.find((x) => x.headers['webhook-id'] === 'inv_restored_1');
    expect(JSON.parse(webhook?.body ?? '{}')).toMatchObject({ type: 'invoice.paid', data: { amount: 42 } });
    expect(invoked.filter((x) => x === evb)).toHaveLength(2);
    expect((await failedIngests()).size).toBe(0);
  });
});
