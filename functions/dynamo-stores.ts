/**
 * The DynamoDB stores over one table, one per aggregate (apps and endpoints, events, deliveries)
 * plus housekeeping's own. Each implements its use cases' ports directly: the composition root
 * (wiring.ts) hands each use case the stores it names.
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DynamoDeliveryStore } from './delivery/dynamo-delivery-store';
import { DynamoHousekeepingStore } from './delivery/dynamo-housekeeping-store';
import { DynamoAppStore, type AppStoreOptions } from './endpoints/dynamo-app-store';
import { DynamoEventStore } from './intake/dynamo-event-store';
import { DynamoTable, type DynamoStoreOptions } from './shared/dynamo-table';

export function dynamoStores(db: DynamoDBDocumentClient, options: DynamoStoreOptions, appOptions?: AppStoreOptions) {
  const table = new DynamoTable(db, options);
  return {
    table,
    apps: new DynamoAppStore(table, appOptions),
    events: new DynamoEventStore(table),
    deliveries: new DynamoDeliveryStore(table),
    housekeeping: new DynamoHousekeepingStore(table),
  };
}

export type DynamoStores = ReturnType<typeof dynamoStores>;
