/** The open index read by housekeeping, at the sizes a recover run after a crash can meet. */
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoEventStore } from '../../functions/adapters/dynamo/event-store';
import { DynamoHousekeepingStore } from '../../functions/adapters/dynamo/housekeeping-store';
import { RECOVER_LIMIT } from '../../functions/core/housekeeping';
import type { Delivery } from '../../functions/core/model';
import type { Emulators } from '../../infra/local/emulators';
import { startTestEmulators } from '../helpers/dynamodb-local';
import { dynamoClient, provision } from '../../infra/local/provision';

const OPEN = 1500;
let emulators: Emulators;
let db: DynamoDBDocumentClient;
let housekeeping: DynamoHousekeepingStore;

beforeAll(async () => {
  emulators = await startTestEmulators();
  const { tableName } = await provision(emulators.endpoints);
  db = DynamoDBDocumentClient.from(dynamoClient(emulators.endpoints.dynamodb), {
    marshallOptions: { removeUndefinedValues: true },
  });
  const options = { tableName, retentionDays: 30 };
  housekeeping = new DynamoHousekeepingStore(db, options);
  const deliveries = Array.from({ length: OPEN }, (_, i): Delivery => {
    const dueAt = new Date(Date.UTC(2030, 0, 1) + i * 1000).toISOString();
    return {
      appId: 'app_hk',
      eventId: `evt_${String(i).padStart(5, '0')}`,
      endpointId: 'ep_1',
      status: 'pending',
      attempts: 0,
      createdAt: dueAt,
      dueAt,
    };
  });
  await new DynamoEventStore(db, options).putNewDeliveries(deliveries);
}, 60_000);

afterAll(async () => {
  db?.destroy();
  await emulators?.stop();
});

describe('DynamoHousekeepingStore.listDue', () => {
  it('lists every open item, oldest first, when asked for all of them (a recover run)', async () => {
    const items = await housekeeping.listDue('9999', RECOVER_LIMIT);

    expect(items).toHaveLength(OPEN);
    expect(items.map((i) => i.delivery.eventId)).toEqual(items.map((i) => i.delivery.eventId).sort());
  });

  it('lists exactly the oldest `limit` items across its shards', async () => {
    const items = await housekeeping.listDue('9999', 1100);

    expect(items.map((i) => i.delivery.eventId)).toEqual(
      Array.from({ length: 1100 }, (_, i) => `evt_${String(i).padStart(5, '0')}`),
    );
  });
});
