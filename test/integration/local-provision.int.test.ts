import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DescribeTableCommand, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { afterEach, describe, expect, it } from 'vitest';
import { startEmulators, type Emulators } from '../../infra/local/emulators';
import { dynamoClient, provision, sqsClient } from '../../infra/local/provision';
import { topology } from '../../infra/topology';

const started: Emulators[] = [];
const dirs: string[] = [];
async function emulators(dataDir?: string): Promise<Emulators> {
  const e = await startEmulators({ dataDir });
  started.push(e);
  return e;
}

afterEach(async () => {
  await Promise.all(started.splice(0).map((e) => e.stop()));
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function queueAttributes(endpoint: string, url: string): Promise<Record<string, string>> {
  const sqs = sqsClient(endpoint);
  try {
    const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['All'] }));
    return Attributes ?? {};
  } finally {
    sqs.destroy();
  }
}

describe('local provisioning', () => {
  it('creates the table with its keys and both GSIs, on-demand', async () => {
    const { endpoints } = await emulators();
    const { tableName } = await provision(endpoints);

    const dynamo = dynamoClient(endpoints.dynamodb);
    const { Table } = await dynamo.send(new DescribeTableCommand({ TableName: tableName }));
    dynamo.destroy();

    expect(tableName).toBe(topology.table.name);
    expect(Table?.KeySchema).toEqual([
      { AttributeName: 'pk', KeyType: 'HASH' },
      { AttributeName: 'sk', KeyType: 'RANGE' },
    ]);
    expect(Table?.BillingModeSummary?.BillingMode).toBe('PAY_PER_REQUEST');
    const indexes = Object.fromEntries((Table?.GlobalSecondaryIndexes ?? []).map((i) => [i.IndexName, i]));
    for (const [name, hash, range, projection] of [
      ['feed', 'feedPk', 'feedSk', { ProjectionType: 'INCLUDE', NonKeyAttributes: ['eventType', 'endpointIds'] }],
      ['open', 'openPk', 'openSk', { ProjectionType: 'KEYS_ONLY' }],
    ] as const) {
      expect(indexes[name]?.KeySchema).toEqual([
        { AttributeName: hash, KeyType: 'HASH' },
        { AttributeName: range, KeyType: 'RANGE' },
      ]);
      expect(indexes[name]?.Projection).toEqual(projection);
    }
  });

  it('gives the work and retry queues the topology settings and a redrive policy to the DLQ', async () => {
    const { endpoints } = await emulators();
    const { queueUrls, queueArns } = await provision(endpoints);

    for (const key of ['work', 'retry'] as const) {
      const a = await queueAttributes(endpoints.sqs, queueUrls[key]);
      expect(queueUrls[key]).toMatch(new RegExp(`/${topology.queues[key].name}$`));
      expect(a.VisibilityTimeout).toBe(String(topology.queues[key].visibilityTimeoutS));
      expect(a.MessageRetentionPeriod).toBe(String(topology.queues[key].retentionDays * 86_400));
      expect(JSON.parse(a.RedrivePolicy ?? '{}')).toEqual({
        deadLetterTargetArn: queueArns.dlq,
        maxReceiveCount: topology.queues[key].maxReceiveCount,
      });
    }
    const dlq = await queueAttributes(endpoints.sqs, queueUrls.dlq);
    expect(dlq.MessageRetentionPeriod).toBe(String(14 * 86_400));
    expect(dlq.RedrivePolicy).toBeUndefined();
  });

  it('is idempotent, and applies overrides to queues that already exist', async () => {
    const { endpoints } = await emulators();
    const first = await provision(endpoints);
    const again = await provision(endpoints);
    const changed = await provision(endpoints, { work: { visibilityTimeoutS: 2, maxReceiveCount: 3 } });

    expect(again).toEqual(first);
    expect(changed.queueUrls).toEqual(first.queueUrls);
    const work = await queueAttributes(endpoints.sqs, first.queueUrls.work);
    expect(work.VisibilityTimeout).toBe('2');
    expect(JSON.parse(work.RedrivePolicy ?? '{}')).toMatchObject({ maxReceiveCount: 3 });
  });

  it('keeps the table and its items in the data dir across a restart', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'hookrelay-provision-'));
    dirs.push(dataDir);
    const item = { pk: { S: 'app#1' }, sk: { S: 'app' }, name: { S: 'kept' } };

    const before = await emulators(dataDir);
    const { tableName } = await provision(before.endpoints);
    const d1 = dynamoClient(before.endpoints.dynamodb);
    await d1.send(new PutItemCommand({ TableName: tableName, Item: item }));
    d1.destroy();
    await before.stop();

    const after = await emulators(dataDir);
    await provision(after.endpoints);
    const d2 = dynamoClient(after.endpoints.dynamodb);
    const { Item } = await d2.send(new GetItemCommand({ TableName: tableName, Key: { pk: item.pk, sk: item.sk } }));
    d2.destroy();
    expect(Item).toEqual(item);
  });
});
