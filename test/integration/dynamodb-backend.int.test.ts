/**
 * The DynamoDB integration tests run once per backend (vitest projects `hookrelay` and
 * `dynamodb-local`): this checks that each project really talks to the backend it names, by the
 * one operation only DynamoDB Local has.
 */
import { CreateTableCommand, DynamoDBClient, TransactWriteItemsCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Emulators } from '../../infra/local/emulators';
import { startTestEmulators, TEST_DYNAMODB } from '../helpers/dynamodb-local';

let emulators: Emulators;
let db: DynamoDBClient;

beforeAll(async () => {
  emulators = await startTestEmulators();
  db = new DynamoDBClient({
    endpoint: emulators.endpoints.dynamodb,
    region: 'us-east-1',
    credentials: { accessKeyId: 'l', secretAccessKey: 'l' },
  });
  await db.send(
    new CreateTableCommand({
      TableName: 'backend',
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
    }),
  );
});
afterAll(async () => {
  db?.destroy();
  await emulators?.stop();
});

it(`talks to ${TEST_DYNAMODB === 'local' ? 'DynamoDB Local' : 'dynalite'}`, async () => {
  const tx = db.send(
    new TransactWriteItemsCommand({ TransactItems: [{ Put: { TableName: 'backend', Item: { pk: { S: 'a' } } } }] }),
  );
  if (TEST_DYNAMODB === 'local') await expect(tx).resolves.toBeDefined();
  else await expect(tx).rejects.toThrow();
});
