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
import {
  BatchGetCommand,
  BatchWriteCommand,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { createHash } from 'node:crypto';
import { topology } from '../../infra/topology';
import type { AppStore } from '../core/apps';
import type { AttemptContext, DeliveryStore, DeliveryUpdate } from '../core/deliver';
import { ValidationError } from '../core/errors';
import type { HousekeepingStore, OpenItem } from '../core/housekeeping';
import type { IngestStore } from '../core/ingest';
import type { App, Attempt, Delivery, Endpoint, StoredEvent } from '../core/model';
import type { EventQueryStore } from '../core/queries';

type Item = Record<string, unknown>;

const T = topology.table;
const OPEN_INDEX = T.indexes.open.name;

export const keys = {
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

const epochSeconds = (iso: string, plusDays: number) => Math.floor(Date.parse(iso) / 1000) + plusDays * 86_400;

function encodeCursor(key: Record<string, unknown> | undefined): string | null {
  return key ? Buffer.from(JSON.stringify(key)).toString('base64url') : null;
}

function decodeCursor(cursor: string | undefined, expectPk: string, skPrefix: string): Item | undefined {
  if (cursor === undefined) return undefined;
  try {
    const key = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as Item;
    if (key.pk === expectPk && typeof key.sk === 'string' && key.sk.startsWith(skPrefix) && Object.keys(key).length === 2) {
      return key;
    }
  } catch {
    // fall through: any unreadable cursor is the client's error
  }
  throw new ValidationError('invalid cursor', [{ path: 'cursor', message: 'is not a cursor this list returned' }]);
}

function toApp(i: Item): App {
  return { id: i.id as string, name: i.name as string, createdAt: i.createdAt as string };
}

function toEndpoint(i: Item): Endpoint {
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
  };
  if (typeof i.disabledReason === 'string') e.disabledReason = i.disabledReason;
  return e;
}

function toEvent(i: Item): StoredEvent {
  return {
    id: i.id as string,
    appId: i.appId as string,
    type: i.eventType as string,
    timestamp: i.timestamp as string,
    dataJson: i.dataJson as string,
    requestHash: i.requestHash as string,
    endpointIds: (i.endpointIds as string[] | undefined) ?? [],
    skippedEndpointIds: (i.skippedEndpointIds as string[] | undefined) ?? [],
    fannedOut: i.fannedOut === true,
  };
}

function toDelivery(i: Item): Delivery & { requeues?: number } {
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
  return d;
}

function toAttempt(i: Item): Attempt {
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

const isConditionFailure = (err: unknown) =>
  err instanceof ConditionalCheckFailedException ||
  (err as { name?: string } | null)?.name === 'ConditionalCheckFailedException';

export interface DynamoStoreOptions {
  tableName: string;
  retentionDays: number;
}

export class DynamoStore implements AppStore, IngestStore, DeliveryStore, EventQueryStore, HousekeepingStore {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly options: DynamoStoreOptions,
  ) {}

  private get table() {
    return this.options.tableName;
  }

  private expiresAt(fromIso: string) {
    return epochSeconds(fromIso, this.options.retentionDays);
  }

  /** Runs a conditional write; false when the condition failed. */
  private async conditional(write: () => Promise<unknown>): Promise<boolean> {
    try {
      await write();
      return true;
    } catch (err) {
      if (isConditionFailure(err)) return false;
      throw err;
    }
  }

  private async queryAll(input: Omit<ConstructorParameters<typeof QueryCommand>[0], 'TableName'>): Promise<Item[]> {
    const items: Item[] = [];
    let start: Item | undefined;
    do {
      const out = await this.db.send(new QueryCommand({ ...input, TableName: this.table, ExclusiveStartKey: start }));
      items.push(...((out.Items as Item[] | undefined) ?? []));
      start = out.LastEvaluatedKey as Item | undefined;
    } while (start);
    return items;
  }

  // ---- apps and endpoints -------------------------------------------------------------------

  async putApp(app: App): Promise<void> {
    await this.db.send(
      new PutCommand({
        TableName: this.table,
        Item: { ...keys.app(app.id), kind: 'app', ...app },
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
  }

  async getApp(appId: string): Promise<App | null> {
    const out = await this.db.send(new GetCommand({ TableName: this.table, Key: keys.app(appId) }));
    return out.Item ? toApp(out.Item) : null;
  }

  async putEndpoint(endpoint: Endpoint): Promise<void> {
    await this.db.send(
      new PutCommand({ TableName: this.table, Item: { ...keys.endpoint(endpoint.appId, endpoint.id), kind: 'endpoint', ...endpoint } }),
    );
  }

  async getEndpoint(appId: string, endpointId: string): Promise<Endpoint | null> {
    const out = await this.db.send(
      new GetCommand({ TableName: this.table, Key: keys.endpoint(appId, endpointId), ConsistentRead: true }),
    );
    return out.Item ? toEndpoint(out.Item) : null;
  }

  async listEndpoints(appId: string, limit: number, cursor?: string) {
    const pk = keys.app(appId).pk;
    const out = await this.db.send(
      new QueryCommand({
        TableName: this.table,
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :ep)',
        ExpressionAttributeValues: { ':pk': pk, ':ep': 'EP#' },
        Limit: limit,
        ExclusiveStartKey: decodeCursor(cursor, pk, 'EP#'),
      }),
    );
    return {
      items: ((out.Items as Item[] | undefined) ?? []).map(toEndpoint),
      nextCursor: encodeCursor(out.LastEvaluatedKey),
    };
  }

  async getAppWithEndpoints(appId: string) {
    // Strongly consistent: an endpoint created a moment ago must receive the next event.
    const items = await this.queryAll({
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': keys.app(appId).pk },
      ConsistentRead: true,
    });
    const appItem = items.find((i) => i.sk === '#APP');
    if (!appItem) return null;
    return { app: toApp(appItem), endpoints: items.filter((i) => i.kind === 'endpoint').map(toEndpoint) };
  }

  async disableEndpoint(appId: string, endpointId: string, reason: string, at: string): Promise<void> {
    await this.conditional(() =>
      this.db.send(
        new UpdateCommand({
          TableName: this.table,
          Key: keys.endpoint(appId, endpointId),
          UpdateExpression: 'SET enabled = :f, disabledReason = :r, updatedAt = :at',
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeValues: { ':f': false, ':r': reason, ':at': at },
        }),
      ),
    );
  }

  // ---- events and fan-out -------------------------------------------------------------------

  private eventItem(event: StoredEvent, dueAt: string): Item {
    const key = keys.event(event.appId, event.id);
    const { type, ...rest } = event;
    return {
      ...key,
      kind: 'event',
      ...rest,
      eventType: type,
      feedPk: `FEED#${event.appId}`,
      feedSk: `${event.timestamp}#${event.id}`,
      dueAt,
      ...openKeys(key, dueAt),
      expiresAt: this.expiresAt(event.timestamp),
    };
  }

  async putEventIfAbsent(event: StoredEvent, dueAt: string) {
    const created = await this.conditional(() =>
      this.db.send(
        new PutCommand({
          TableName: this.table,
          Item: this.eventItem(event, dueAt),
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      ),
    );
    if (created) return { created: true as const };
    const out = await this.db.send(
      new GetCommand({ TableName: this.table, Key: keys.event(event.appId, event.id), ConsistentRead: true }),
    );
    if (!out.Item) throw new Error(`event ${event.id} vanished between a conditional put and a read`);
    return { created: false as const, existing: toEvent(out.Item) };
  }

  private deliveryItem(d: Delivery): Item {
    const key = keys.delivery(d.appId, d.eventId, d.endpointId);
    return {
      ...key,
      kind: 'delivery',
      ...d,
      ...(d.dueAt !== undefined ? openKeys(key, d.dueAt) : {}),
      expiresAt: this.expiresAt(d.createdAt),
    };
  }

  async putNewDeliveries(deliveries: Delivery[]): Promise<void> {
    for (let i = 0; i < deliveries.length; i += 25) {
      let requests: NonNullable<ConstructorParameters<typeof BatchWriteCommand>[0]['RequestItems']>[string] = deliveries
        .slice(i, i + 25)
        .map((d) => ({ PutRequest: { Item: this.deliveryItem(d) } }));
      for (let round = 0; requests.length > 0; round++) {
        if (round > 8) throw new Error('DynamoDB kept returning unprocessed delivery writes');
        if (round > 0) await new Promise((r) => setTimeout(r, 25 * 2 ** round));
        const out = await this.db.send(new BatchWriteCommand({ RequestItems: { [this.table]: requests } }));
        requests = out.UnprocessedItems?.[this.table] ?? [];
      }
    }
  }

  async putMissingDeliveries(deliveries: Delivery[]): Promise<Delivery[]> {
    const created = await Promise.all(
      deliveries.map((d) =>
        this.conditional(() =>
          this.db.send(
            new PutCommand({ TableName: this.table, Item: this.deliveryItem(d), ConditionExpression: 'attribute_not_exists(pk)' }),
          ),
        ),
      ),
    );
    return deliveries.filter((_, i) => created[i]);
  }

  async markFannedOut(appId: string, eventId: string): Promise<void> {
    await this.db.send(
      new UpdateCommand({
        TableName: this.table,
        Key: keys.event(appId, eventId),
        UpdateExpression: 'SET fannedOut = :t REMOVE openPk, openSk, dueAt',
        ExpressionAttributeValues: { ':t': true },
      }),
    );
  }

  // ---- delivery attempts --------------------------------------------------------------------

  async loadAttemptContext(appId: string, eventId: string, endpointId: string): Promise<AttemptContext> {
    const wanted = [keys.event(appId, eventId), keys.delivery(appId, eventId, endpointId), keys.endpoint(appId, endpointId)];
    let pending: Item[] = wanted;
    const found: Item[] = [];
    for (let round = 0; pending.length > 0; round++) {
      if (round > 8) throw new Error('DynamoDB kept returning unprocessed keys');
      if (round > 0) await new Promise((r) => setTimeout(r, 25 * 2 ** round));
      const out = await this.db.send(
        new BatchGetCommand({ RequestItems: { [this.table]: { Keys: pending, ConsistentRead: true } } }),
      );
      found.push(...((out.Responses?.[this.table] as Item[] | undefined) ?? []));
      pending = (out.UnprocessedKeys?.[this.table]?.Keys as Item[] | undefined) ?? [];
    }
    const pick = (k: { pk: string; sk: string }) => found.find((i) => i.pk === k.pk && i.sk === k.sk);
    const [ev, dl, ep] = wanted.map(pick);
    return {
      event: ev ? toEvent(ev) : null,
      delivery: dl ? toDelivery(dl) : null,
      endpoint: ep ? toEndpoint(ep) : null,
    };
  }

  async claim(d: Delivery, attempt: number, lease: { token: string; until: string }, now: string): Promise<boolean> {
    const key = keys.delivery(d.appId, d.eventId, d.endpointId);
    return this.conditional(() =>
      this.db.send(
        new UpdateCommand({
          TableName: this.table,
          Key: key,
          UpdateExpression: 'SET leaseToken = :tok, leaseUntil = :until, dueAt = :until, openPk = :opk, openSk = :osk',
          ConditionExpression:
            'attempts = :prev AND #s IN (:pending, :retrying) AND (attribute_not_exists(leaseUntil) OR leaseUntil < :now)',
          ExpressionAttributeNames: { '#s': 'status' },
          ExpressionAttributeValues: {
            ':tok': lease.token,
            ':until': lease.until,
            ':opk': openKeys(key, lease.until).openPk,
            ':osk': openKeys(key, lease.until).openSk,
            ':prev': attempt - 1,
            ':pending': 'pending',
            ':retrying': 'retrying',
            ':now': now,
          },
        }),
      ),
    );
  }

  async recordAttempt(a: Attempt, retentionDays: number): Promise<void> {
    await this.db.send(
      new PutCommand({
        TableName: this.table,
        Item: {
          ...keys.attempt(a.appId, a.eventId, a.endpointId, a.attempt),
          kind: 'attempt',
          ...a,
          expiresAt: epochSeconds(a.at, retentionDays),
        },
      }),
    );
  }

  async finish(d: Delivery, leaseToken: string, u: DeliveryUpdate): Promise<boolean> {
    const key = keys.delivery(d.appId, d.eventId, d.endpointId);
    const set = ['#s = :s', 'attempts = :a', 'requeues = :zero'];
    const remove = ['leaseToken', 'leaseUntil'];
    const values: Item = { ':s': u.status, ':a': u.attempts, ':zero': 0, ':tok': leaseToken };
    if (u.lastStatusCode !== undefined) {
      set.push('lastStatusCode = :c');
      values[':c'] = u.lastStatusCode;
    }
    if (u.lastAttemptAt !== undefined) {
      set.push('lastAttemptAt = :la');
      values[':la'] = u.lastAttemptAt;
    }
    if (u.nextAttemptAt) {
      set.push('nextAttemptAt = :na');
      values[':na'] = u.nextAttemptAt;
    } else {
      remove.push('nextAttemptAt');
    }
    if (u.dueAt) {
      const open = openKeys(key, u.dueAt);
      set.push('dueAt = :due', 'openPk = :opk', 'openSk = :osk');
      Object.assign(values, { ':due': u.dueAt, ':opk': open.openPk, ':osk': open.openSk });
    } else {
      remove.push('dueAt', 'openPk', 'openSk');
    }
    return this.conditional(() =>
      this.db.send(
        new UpdateCommand({
          TableName: this.table,
          Key: key,
          UpdateExpression: `SET ${set.join(', ')} REMOVE ${remove.join(', ')}`,
          ConditionExpression: 'leaseToken = :tok',
          ExpressionAttributeNames: { '#s': 'status' },
          ExpressionAttributeValues: values,
        }),
      ),
    );
  }

  async skip(d: Delivery): Promise<void> {
    await this.conditional(() =>
      this.db.send(
        new UpdateCommand({
          TableName: this.table,
          Key: keys.delivery(d.appId, d.eventId, d.endpointId),
          UpdateExpression: 'SET #s = :skipped REMOVE dueAt, openPk, openSk, nextAttemptAt, leaseToken, leaseUntil',
          ConditionExpression: '#s IN (:pending, :retrying)',
          ExpressionAttributeNames: { '#s': 'status' },
          ExpressionAttributeValues: { ':skipped': 'skipped', ':pending': 'pending', ':retrying': 'retrying' },
        }),
      ),
    );
  }

  // ---- the polling view ---------------------------------------------------------------------

  async getEventWithDeliveries(appId: string, eventId: string) {
    // '#EVENT' < 'DLV#...' < 'TRY#...': one range read gives the event and its deliveries only.
    const items = await this.queryAll({
      KeyConditionExpression: 'pk = :pk AND sk < :attempts',
      ExpressionAttributeValues: { ':pk': keys.event(appId, eventId).pk, ':attempts': 'E' },
    });
    const ev = items.find((i) => i.sk === '#EVENT');
    if (!ev) return null;
    return { event: toEvent(ev), deliveries: items.filter((i) => i.kind === 'delivery').map(toDelivery) };
  }

  async listAttempts(appId: string, eventId: string): Promise<Attempt[]> {
    const items = await this.queryAll({
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :try)',
      ExpressionAttributeValues: { ':pk': keys.event(appId, eventId).pk, ':try': 'TRY#' },
    });
    return items.map(toAttempt);
  }

  // ---- housekeeping -------------------------------------------------------------------------

  async listDue(cutoff: string, limit: number): Promise<OpenItem[]> {
    const perShard = await Promise.all(
      Array.from({ length: T.openShards }, (_, shard) =>
        this.db.send(
          new QueryCommand({
            TableName: this.table,
            IndexName: OPEN_INDEX,
            KeyConditionExpression: 'openPk = :p AND openSk < :cut',
            ExpressionAttributeValues: { ':p': `OPEN#${shard}`, ':cut': cutoff },
            Limit: limit,
          }),
        ),
      ),
    );
    const items = perShard.flatMap((out) => (out.Items as Item[] | undefined) ?? []);
    items.sort((a, b) => String(a.openSk).localeCompare(String(b.openSk)));
    return items.slice(0, limit).map((i): OpenItem => {
      const dueAt = String(i.openSk).split('#')[0] ?? '';
      return i.kind === 'event'
        ? { kind: 'event', dueAt, event: toEvent(i) }
        : { kind: 'delivery', dueAt, delivery: toDelivery(i) };
    });
  }

  async rescheduleDue(item: OpenItem, toDueAt: string, opts: { clearLease?: boolean } = {}): Promise<boolean> {
    const key =
      item.kind === 'event'
        ? keys.event(item.event.appId, item.event.id)
        : keys.delivery(item.delivery.appId, item.delivery.eventId, item.delivery.endpointId);
    const from = openKeys(key, item.dueAt);
    const to = openKeys(key, toDueAt);
    const set = ['dueAt = :due', 'openSk = :to'];
    if (item.kind === 'delivery') set.push('requeues = if_not_exists(requeues, :zero) + :one');
    const remove = opts.clearLease ? ' REMOVE leaseToken, leaseUntil' : '';
    return this.conditional(() =>
      this.db.send(
        new UpdateCommand({
          TableName: this.table,
          Key: key,
          UpdateExpression: `SET ${set.join(', ')}${remove}`,
          ConditionExpression: 'openSk = :from',
          ExpressionAttributeValues: {
            ':due': toDueAt,
            ':to': to.openSk,
            ':from': from.openSk,
            ...(item.kind === 'delivery' ? { ':zero': 0, ':one': 1 } : {}),
          },
        }),
      ),
    );
  }
}
