/**
 * DynamoDB: the one source of truth for apps, endpoints, events, deliveries and attempts.
 * Single-table layout (see docs/data-model.md):
 *
 * | item      | pk                    | sk                      | indexes                                  |
 * |-----------|-----------------------|-------------------------|------------------------------------------|
 * | app       | APP#<appId>           | #APP                    |                                          |
 * | endpoint  | APP#<appId>           | EP#<endpointId>         |                                          |
 * | event     | EVT#<appId>#<eventId> | #EVENT                  | feed: FEED#<appId> / <timestamp>#<id>;   |
 * |           |                       |                         | open (until fanned out)                  |
 * | delivery  | EVT#<appId>#<eventId> | DLV#<endpointId>        | open (until finished)                    |
 * | attempt   | EVT#<appId>#<eventId> | TRY#<endpointId>#<nnnn> |                                          |
 *
 * One query on an app's partition gives the app and every endpoint (fan-out); one query on an
 * event's partition gives the event and its deliveries (the polling view); the sparse `open`
 * index, sharded, lists what housekeeping must look at, by due time.
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { BatchGetCommand, PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { createHash } from 'node:crypto';
import { ValidationError } from '../../core/errors';
import type { App, Attempt, Delivery, Endpoint, StoredEvent } from '../../core/model';
import { successAttempt } from '../../core/queries';
import { TABLE_LAYOUT } from './table-layout';

export type Item = Record<string, unknown>;

export const T = TABLE_LAYOUT;

/**
 * Failed and skipped deliveries of an endpoint, by event time, on the `feed` index (overloaded:
 * its partitions are either an app's event feed or an endpoint's failures), for `recover`.
 */
export const failedKeys = (d: { appId: string; eventId: string; endpointId: string; createdAt: string }) => ({
  feedPk: `FAILED#${d.appId}#${d.endpointId}`,
  feedSk: `${d.createdAt}#${d.eventId}`,
});

export const keys = {
  apiKey: (hash: string) => ({ pk: `KEY#${hash}`, sk: '#KEY' }),
  appKey: (appId: string, keyId: string) => ({ pk: `APP#${appId}`, sk: `KEY#${keyId}` }),
  app: (appId: string) => ({ pk: `APP#${appId}`, sk: '#APP' }),
  endpoint: (appId: string, endpointId: string) => ({ pk: `APP#${appId}`, sk: `EP#${endpointId}` }),
  event: (appId: string, eventId: string) => ({ pk: `EVT#${appId}#${eventId}`, sk: '#EVENT' }),
  delivery: (appId: string, eventId: string, endpointId: string) => ({
    pk: `EVT#${appId}#${eventId}`,
    sk: `DLV#${endpointId}`,
  }),
  attempt: (appId: string, eventId: string, endpointId: string, n: number) => ({
    pk: `EVT#${appId}#${eventId}`,
    sk: `TRY#${endpointId}#${String(n).padStart(4, '0')}`,
  }),
};

/** The open-index keys of an item due at `dueAt`: a shard from its key, sorted by due time. */
export function openKeys(key: { pk: string; sk: string }, dueAt: string) {
  const shard = createHash('sha1').update(key.pk).update(key.sk).digest().readUInt32BE(0) % T.openShards;
  return { openPk: `OPEN#${shard}`, openSk: `${dueAt}#${key.pk}#${key.sk}` };
}

export const epochSeconds = (iso: string, plusDays: number) => Math.floor(Date.parse(iso) / 1000) + plusDays * 86_400;

export function encodeCursor(key: Record<string, unknown> | undefined): string | null {
  return key ? Buffer.from(JSON.stringify(key)).toString('base64url') : null;
}

export function decodeCursor(cursor: string | undefined, expectPk: string, skPrefix: string): Item | undefined {
  if (cursor === undefined) return undefined;
  try {
    const key = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as Item;
    if (
      key.pk === expectPk &&
      typeof key.sk === 'string' &&
      key.sk.startsWith(skPrefix) &&
      Object.keys(key).length === 2
    ) {
      return key;
    }
  } catch {
    // fall through: any unreadable cursor is the client's error
  }
  throw new ValidationError('invalid cursor', [{ path: 'cursor', message: 'is not a cursor this list returned' }]);
}

export function toApp(i: Item): App {
  return { id: i.id as string, name: i.name as string, createdAt: i.createdAt as string };
}

export function toEndpoint(i: Item): Endpoint {
  const e: Endpoint = {
    id: i.id as string,
    appId: i.appId as string,
    url: i.url as string,
    eventTypes: (i.eventTypes as string[] | undefined) ?? [],
    description: (i.description as string | undefined) ?? '',
    enabled: i.enabled as boolean,
    createdAt: i.createdAt as string,
    updatedAt: i.updatedAt as string,
    secrets: (i.secrets as Endpoint['secrets'] | undefined) ?? [],
    version: (i.version as number | undefined) ?? 0,
  };
  if (typeof i.disabledReason === 'string') e.disabledReason = i.disabledReason;
  if (typeof i.failingSince === 'string') e.failingSince = i.failingSince;
  return e;
}

export function toEvent(i: Item): StoredEvent {
  const e: StoredEvent = {
    id: i.id as string,
    appId: i.appId as string,
    type: i.eventType as string,
    timestamp: i.timestamp as string,
    dataJson: i.dataJson as string,
    requestHash: i.requestHash as string,
    endpointIds: (i.endpointIds as string[] | undefined) ?? [],
    skippedEndpointIds: (i.skippedEndpointIds as string[] | undefined) ?? [],
  };
  if (i.test === true) e.test = true;
  return e;
}

export function toDelivery(i: Item): Delivery & { requeues?: number } {
  const d: Delivery & { requeues?: number } = {
    appId: i.appId as string,
    eventId: i.eventId as string,
    endpointId: i.endpointId as string,
    status: i.status as Delivery['status'],
    attempts: (i.attempts as number | undefined) ?? 0,
    createdAt: i.createdAt as string,
  };
  if (typeof i.lastStatusCode === 'number') d.lastStatusCode = i.lastStatusCode;
  if (typeof i.lastAttemptAt === 'string') d.lastAttemptAt = i.lastAttemptAt;
  if (typeof i.nextAttemptAt === 'string') d.nextAttemptAt = i.nextAttemptAt;
  if (typeof i.leaseUntil === 'string') d.leaseUntil = i.leaseUntil;
  if (typeof i.dueAt === 'string') d.dueAt = i.dueAt;
  if (typeof i.requeues === 'number') d.requeues = i.requeues;
  if (typeof i.retryBase === 'number') d.retryBase = i.retryBase;
  if (i.success && typeof i.success === 'object') d.success = i.success as NonNullable<Delivery['success']>;
  return d;
}

export function toAttempt(i: Item): Attempt {
  return {
    appId: i.appId as string,
    eventId: i.eventId as string,
    endpointId: i.endpointId as string,
    attempt: i.attempt as number,
    at: i.at as string,
    statusCode: (i.statusCode as number | null | undefined) ?? null,
    durationMs: i.durationMs as number,
    outcome: i.outcome as Attempt['outcome'],
    error: (i.error as string | null | undefined) ?? null,
    responseExcerpt: (i.responseExcerpt as string | null | undefined) ?? null,
  };
}

export const isConditionFailure = (err: unknown) =>
  err instanceof ConditionalCheckFailedException ||
  (err as { name?: string } | null)?.name === 'ConditionalCheckFailedException';

export interface DynamoStoreOptions {
  tableName: string;
  retentionDays: number;
}

/** What every store on the table shares: the client, the table name, and write helpers. */
export abstract class DynamoTable {
  constructor(
    protected readonly db: DynamoDBDocumentClient,
    protected readonly options: DynamoStoreOptions,
  ) {}

  protected get table() {
    return this.options.tableName;
  }

  protected expiresAt(fromIso: string) {
    return epochSeconds(fromIso, this.options.retentionDays);
  }

  /** Runs a conditional write; false when the condition failed. */
  protected async conditional(write: () => Promise<unknown>): Promise<boolean> {
    try {
      await write();
      return true;
    } catch (err) {
      if (isConditionFailure(err)) return false;
      throw err;
    }
  }

  protected async queryAll(input: Omit<ConstructorParameters<typeof QueryCommand>[0], 'TableName'>): Promise<Item[]> {
    const items: Item[] = [];
    let start: Item | undefined;
    do {
      const out = await this.db.send(new QueryCommand({ ...input, TableName: this.table, ExclusiveStartKey: start }));
      items.push(...((out.Items as Item[] | undefined) ?? []));
      start = out.LastEvaluatedKey as Item | undefined;
    } while (start);
    return items;
  }

  /**
   * The items behind index entries (the indexes project keys only), in the order of `refs`;
   * an item deleted meanwhile is left out.
   */
  protected async fetchItems(refs: Item[], consistent = false): Promise<Item[]> {
    const byKey = new Map<string, Item>();
    const keyOf = (i: Item) => `${String(i.pk)}\u0000${String(i.sk)}`;
    for (let i = 0; i < refs.length; i += 100) {
      let pending: Item[] = [
        ...new Map(refs.slice(i, i + 100).map((r) => [keyOf(r), { pk: r.pk, sk: r.sk }])).values(),
      ];
      for (let round = 0; pending.length > 0; round++) {
        if (round > 8) throw new Error('DynamoDB kept returning unprocessed keys');
        if (round > 0) await new Promise((r) => setTimeout(r, 25 * 2 ** round));
        const out = await this.db.send(
          new BatchGetCommand({ RequestItems: { [this.table]: { Keys: pending, ConsistentRead: consistent } } }),
        );
        for (const item of (out.Responses?.[this.table] as Item[] | undefined) ?? []) byKey.set(keyOf(item), item);
        pending = (out.UnprocessedKeys?.[this.table]?.Keys as Item[] | undefined) ?? [];
      }
    }
    return refs.map((r) => byKey.get(keyOf(r))).filter((i): i is Item => i !== undefined);
  }

  protected deliveryItem(d: Delivery): Item {
    const key = keys.delivery(d.appId, d.eventId, d.endpointId);
    return {
      ...key,
      kind: 'delivery',
      ...d,
      ...(d.dueAt !== undefined ? openKeys(key, d.dueAt) : {}),
      // Skipped at accept time (endpoint disabled): recoverable like any failed delivery.
      ...(d.status === 'skipped' || d.status === 'failed' ? failedKeys(d) : {}),
      expiresAt: this.expiresAt(d.createdAt),
    };
  }

  /** Puts a finished (or waiting, unleased) delivery back to pending for a new attempt cycle. */
  async restartDelivery(d: Delivery, dueAt: string, now: string): Promise<boolean> {
    const key = keys.delivery(d.appId, d.eventId, d.endpointId);
    const open = openKeys(key, dueAt);
    // The success kept on the delivery becomes an attempt record before the delivery moves on.
    for (const a of successAttempt(d)) {
      await this.db.send(
        new PutCommand({
          TableName: this.table,
          Item: {
            ...keys.attempt(a.appId, a.eventId, a.endpointId, a.attempt),
            kind: 'attempt',
            ...a,
            expiresAt: this.expiresAt(a.at),
          },
        }),
      );
    }
    return this.conditional(() =>
      this.db.send(
        new UpdateCommand({
          TableName: this.table,
          Key: key,
          UpdateExpression:
            'SET #s = :pending, retryBase = attempts, requeues = :zero, dueAt = :due, openPk = :opk, openSk = :osk ' +
            'REMOVE nextAttemptAt, feedPk, feedSk, leaseToken, leaseUntil, success',
          ConditionExpression:
            'attempts = :attempts AND (#s IN (:succeeded, :failed, :skipped) OR ' +
            '(#s = :retrying AND (attribute_not_exists(leaseUntil) OR leaseUntil < :now)))',
          ExpressionAttributeNames: { '#s': 'status' },
          ExpressionAttributeValues: {
            ':pending': 'pending',
            ':succeeded': 'succeeded',
            ':failed': 'failed',
            ':skipped': 'skipped',
            ':retrying': 'retrying',
            ':zero': 0,
            ':attempts': d.attempts,
            ':due': dueAt,
            ':opk': open.openPk,
            ':osk': open.openSk,
            ':now': now,
          },
        }),
      ),
    );
  }
}
