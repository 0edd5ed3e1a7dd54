/**
 * Where dynalite (the default, pure JS) and DynamoDB Local (AWS's own emulator, Java) disagree,
 * pinned so that a change in either shows up, and with which one AWS agrees (from the DynamoDB
 * developer guide). The adapters' integration suites run on both (vitest project
 * `dynamodb-local`); this file compares them side by side, and runs only where Java is found.
 */
import {
  CreateTableCommand,
  DynamoDBClient,
  PutItemCommand,
  TransactWriteItemsCommand,
  UpdateItemCommand,
  type ConsumedCapacity,
} from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulators, type Emulators } from '../../infra/local/emulators';
import { startDynamoDbLocal, type DynamoDbLocal } from '../helpers/dynamodb-local';
import { findTool } from '../helpers/tools';

const java = findTool('java', ['-version']);

describe.runIf(java)('dynalite and DynamoDB Local, side by side', () => {
  let emulators: Emulators;
  let local: DynamoDbLocal;
  const clients: Record<'dynalite' | 'local', DynamoDBClient> = {} as never;

  beforeAll(async () => {
    [emulators, local] = await Promise.all([startEmulators(), startDynamoDbLocal()]);
    const client = (endpoint: string) =>
      new DynamoDBClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'l', secretAccessKey: 'l' } });
    clients.dynalite = client(emulators.endpoints.dynamodb);
    clients.local = client(local.endpoint);
    for (const c of Object.values(clients)) {
      await c.send(
        new CreateTableCommand({
          TableName: 'compare',
          BillingMode: 'PAY_PER_REQUEST',
          AttributeDefinitions: [
            { AttributeName: 'pk', AttributeType: 'S' },
            { AttributeName: 'gk', AttributeType: 'S' },
          ],
          KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
          GlobalSecondaryIndexes: [
            {
              IndexName: 'byGk',
              KeySchema: [{ AttributeName: 'gk', KeyType: 'HASH' }],
              Projection: { ProjectionType: 'KEYS_ONLY' },
            },
          ],
        }),
      );
    }
  }, 60_000);

  afterAll(async () => {
    for (const c of Object.values(clients)) c?.destroy();
    await local?.stop();
    await emulators?.stop();
  });

  const both = async <T>(f: (c: DynamoDBClient) => Promise<T>) => ({
    dynalite: await f(clients.dynalite).catch((e: Error) => e),
    local: await f(clients.local).catch((e: Error) => e),
  });
  const units = (c: ConsumedCapacity | undefined) => ({ total: c?.CapacityUnits, indexes: c?.GlobalSecondaryIndexes });

  it('agree on a plain 1.5 KB put and on an update of it: 2 write units (AWS: 1 unit per started KB)', async () => {
    const put = await both(async (c) =>
      units(
        (
          await c.send(
            new PutItemCommand({
              TableName: 'compare',
              Item: { pk: { S: 'plain' }, data: { S: 'x'.repeat(1500) } },
              ReturnConsumedCapacity: 'INDEXES',
            }),
          )
        ).ConsumedCapacity,
      ),
    );
    expect(put).toEqual({ dynalite: { total: 2, indexes: undefined }, local: { total: 2, indexes: undefined } });
    const update = await both(async (c) =>
      units(
        (
          await c.send(
            new UpdateItemCommand({
              TableName: 'compare',
              Key: { pk: { S: 'plain' } },
              UpdateExpression: 'SET s = :s',
              ExpressionAttributeValues: { ':s': { S: 'ok' } },
              ReturnConsumedCapacity: 'INDEXES',
            }),
          )
        ).ConsumedCapacity,
      ),
    );
    // An update is billed on the larger of the item's sizes before and after, as AWS does.
    expect(update.dynalite).toEqual(update.local);
  });

  it('differ on index writes: only DynamoDB Local reports them, as AWS bills them', async () => {
    const put = await both(async (c) =>
      units(
        (
          await c.send(
            new PutItemCommand({
              TableName: 'compare',
              Item: { pk: { S: 'indexed' }, gk: { S: 'G' }, data: { S: 'x'.repeat(1500) } },
              ReturnConsumedCapacity: 'INDEXES',
            }),
          )
        ).ConsumedCapacity,
      ),
    );
    // AWS: a write to an item that is in a GSI also costs a write on the index (here 1 unit, keys
    // only). dynalite leaves it out, which is why the cost benchmark adds index writes itself.
    expect(put.local).toEqual({ total: 3, indexes: { byGk: { CapacityUnits: 1 } } });
    expect(put.dynalite).toEqual({ total: 2, indexes: undefined });
  });

  it('differ on an empty string as an index key: DynamoDB Local refuses it, as AWS does; dynalite stores it', async () => {
    const put = await both((c) =>
      c.send(new PutItemCommand({ TableName: 'compare', Item: { pk: { S: 'empty' }, gk: { S: '' } } })),
    );
    expect(put.local).toBeInstanceOf(Error);
    expect((put.local as Error).name).toBe('ValidationException');
    expect(put.dynalite).not.toBeInstanceOf(Error);
  });

  it('differ on transactions: DynamoDB Local runs them (billing 1 unit per item where AWS bills 2); dynalite has none', async () => {
    const tx = await both((c) =>
      c.send(
        new TransactWriteItemsCommand({
          ReturnConsumedCapacity: 'TOTAL',
          TransactItems: [
            { Put: { TableName: 'compare', Item: { pk: { S: 'tx1' } } } },
            { Put: { TableName: 'compare', Item: { pk: { S: 'tx2' } } } },
          ],
        }),
      ),
    );
    expect((tx.dynalite as Error).name).toBe('UnknownOperationException');
    expect(tx.local).not.toBeInstanceOf(Error);
    expect((tx.local as { ConsumedCapacity?: ConsumedCapacity[] }).ConsumedCapacity?.[0]?.CapacityUnits).toBe(2);
  });
});
