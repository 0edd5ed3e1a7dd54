/**
 * Held keys in the table: one small item per (strict endpoint, key) whose head failed an attempt
 * and waits (`HELD#<appId>#<endpointId>` / `K#<key>`, or `#` for the events without a key).
 * Written when the head fails, removed when it finishes: nothing for a key that flows.
 */
import { DeleteCommand, GetCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { DeliveryKey } from '../delivery/lifecycle';
import type { DynamoTable, Item } from '../shared/dynamo-table';
import { keys } from '../shared/table-layout';
import type { HeldKey, HeldKeyStore } from './ordering';

function toHeld(i: Item): HeldKey {
  return {
    appId: i.appId as string,
    endpointId: i.endpointId as string,
    orderingKey: typeof i.orderingKey === 'string' ? i.orderingKey : undefined,
    eventId: i.eventId as string,
    eventAt: i.eventAt as string,
    attempts: i.attempts as number,
    nextAttemptAt: i.nextAttemptAt as string,
    lastError: (i.lastError as string | null | undefined) ?? null,
    since: typeof i.since === 'string' ? i.since : undefined,
    receiptHandle: typeof i.receiptHandle === 'string' ? i.receiptHandle : undefined,
    ...(typeof i.shard === 'number' ? { shard: i.shard } : {}),
  };
}

export class DynamoHeldKeyStore implements HeldKeyStore {
  constructor(private readonly t: DynamoTable) {}

  async put(h: HeldKey): Promise<void> {
    const values: Item = {
      ':app': h.appId,
      ':ep': h.endpointId,
      ':ev': h.eventId,
      ':at': h.eventAt,
      ':n': h.attempts,
      ':next': h.nextAttemptAt,
      ':err': h.lastError,
      ':kind': 'held',
      ':exp': this.t.expiresAt(h.eventAt),
    };
    const set = [
      'appId = :app',
      'endpointId = :ep',
      'eventId = :ev',
      'eventAt = :at',
      'attempts = :n',
      'nextAttemptAt = :next',
      'lastError = :err',
      'kind = :kind',
      'expiresAt = :exp',
    ];
    if (h.orderingKey !== undefined) {
      set.push('orderingKey = :key');
      values[':key'] = h.orderingKey;
    }
    if (h.receiptHandle !== undefined) {
      set.push('receiptHandle = :rh');
      values[':rh'] = h.receiptHandle;
    }
    // The head's shard when its id does not name it (a later head of the key may have none).
    // `shard` is one of DynamoDB's reserved words: named through #sh.
    if (h.shard !== undefined) {
      set.push('#sh = :sh');
      values[':sh'] = h.shard;
    }
    // `since` is the key's first failure: kept while the same head holds it.
    set.push('since = if_not_exists(since, :since)');
    values[':since'] = h.since ?? new Date().toISOString();
    await this.t.db.send(
      new UpdateCommand({
        TableName: this.t.name,
        Key: keys.heldKey(h.appId, h.endpointId, h.orderingKey),
        UpdateExpression: `SET ${set.join(', ')}${h.shard === undefined ? ' REMOVE #sh' : ''}`,
        ExpressionAttributeNames: { '#sh': 'shard' },
        ExpressionAttributeValues: values,
      }),
    );
  }

  async touch(k: DeliveryKey, orderingKey: string | undefined, receiptHandle: string): Promise<void> {
    await this.t.conditional(() =>
      this.t.db.send(
        new UpdateCommand({
          TableName: this.t.name,
          Key: keys.heldKey(k.appId, k.endpointId, orderingKey),
          UpdateExpression: 'SET receiptHandle = :rh',
          ConditionExpression: 'eventId = :ev',
          ExpressionAttributeValues: { ':rh': receiptHandle, ':ev': k.eventId },
        }),
      ),
    );
  }

  async clear(k: DeliveryKey, orderingKey: string | undefined): Promise<void> {
    // Only this head's: a later head may hold the key already.
    await this.t.conditional(() =>
      this.t.db.send(
        new DeleteCommand({
          TableName: this.t.name,
          Key: keys.heldKey(k.appId, k.endpointId, orderingKey),
          ConditionExpression: 'eventId = :ev',
          ExpressionAttributeValues: { ':ev': k.eventId },
        }),
      ),
    );
  }

  async get(appId: string, endpointId: string, orderingKey: string | undefined): Promise<HeldKey | null> {
    const out = await this.t.db.send(
      new GetCommand({
        TableName: this.t.name,
        Key: keys.heldKey(appId, endpointId, orderingKey),
        ConsistentRead: true,
      }),
    );
    return out.Item ? toHeld(out.Item) : null;
  }

  async list(appId: string, endpointId: string, limit: number): Promise<HeldKey[]> {
    const out = await this.t.db.send(
      new QueryCommand({
        TableName: this.t.name,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': keys.heldKey(appId, endpointId, undefined).pk },
        Limit: limit,
      }),
    );
    return ((out.Items as Item[] | undefined) ?? []).map(toHeld);
  }
}
