/** The open index read by housekeeping, at the sizes a recover run after a crash can meet. */
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dynamoStores } from '../../functions/dynamo-stores';
import { RECOVER_LIMIT, type HousekeepingStore } from '../../functions/delivery/housekeeping';
import { freshDelivery } from '../../functions/delivery/lifecycle';
import type { Emulators } from '../../infra/local/emulators';
import { startTestEmulators } from '../helpers/dynamodb-local';
import { dynamoClient, provision } from '../../infra/local/provision';

const OPEN = 1500;
let emulators: Emulators;
let db: DynamoDBDocumentClient;
let housekeeping: HousekeepingStore;

beforeAll(async () => {
  emulators = await startTestEmulators();
  const { tableName } = await provision(emulators.endpoints);
  db = DynamoDBDocumentClient.from(dynamoClient(emulators.endpoints.dynamodb), {
    marshallOptions: { removeUndefinedValues: true },
  });
  const options = { tableName, retentionDays: 30 };
  const stores = dynamoStores(db, options);
  housekeeping = stores.housekeeping;
  for (let i = 0; i < OPEN; i += 50) {
    await Promise.all(
      Array.from({ length: Math.min(50, OPEN - i) }, (_, j) => {
        const dueAt = new Date(Date.UTC(2030, 0, 1) + (i + j) * 1000).toISOString();
        const key = {
          appId: 'app_hk',
          eventId: `evt_${String(i + j).padStart(5, '0')}`,
          endpointId: 'ep_1',
          eventAt: dueAt,
        };
        return stores.deliveries.openPending(freshDelivery(key, 't'), dueAt);
      }),
    );
  }
}, 60_000);

afterAll(async () => {
  db?.destroy();
  await emulators?.stop();
});

describe('the open index, read by housekeeping', () => {
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
