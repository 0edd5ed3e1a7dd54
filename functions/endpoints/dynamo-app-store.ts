/**
 * Apps and endpoints (and the apps' API keys): an app's partition holds the app, its endpoints
 * and its key records. The app item is also on the app list (the open index's APPS partition),
 * which housekeeping walks.
 */
import { DeleteCommand, GetCommand, PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { AppStore } from './apps';
import type { EndpointSource } from '../delivery/deliver';
import type { EndpointHealthStore } from './endpoint-health';
import type { ApiKeyRecord, KeyStore } from '../access/keys';
import type { App, Endpoint } from '../shared/model';
import { isRateLimit, isStoredThrottle, type StoredThrottle, type ThrottleStore } from '../flow/throttle';
import { decodeCursor, encodeCursor, type DynamoTable, type Item } from '../shared/dynamo-table';
import { MAX_ID_SHARDS as MAX_EVENT_SHARDS } from '../shared/ids';
import { APP_LIST_PK, APP_PARTITION_BEFORE_KEYS, appListKeys, keys, SK, TABLE_LAYOUT } from '../shared/table-layout';

export function toApp(i: Item): App {
  const app: App = { id: i.id as string, name: i.name as string, createdAt: i.createdAt as string };
  if (typeof i.eventShards === 'number' && i.eventShards > 1) app.eventShards = i.eventShards;
  if (i.knownEventTypesOnly === true) app.knownEventTypesOnly = true;
  return app;
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
  // Request options (issue 12): stored as the core has them, in the KMS-encrypted table.
  if (i.signature !== undefined) e.signature = i.signature as Endpoint['signature'] & object;
  if (i.headers !== undefined) e.headers = i.headers as Record<string, string>;
  if (i.auth !== undefined) e.auth = i.auth as Endpoint['auth'] & object;
  if (i.ordering === 'strict') e.ordering = 'strict';
  if (isRateLimit(i.rateLimit)) e.rateLimit = { perSecond: i.rateLimit.perSecond };
  if (isStoredThrottle(i.throttle)) e.throttle = i.throttle;
  return e;
}

export interface AppStoreOptions {
  /**
   * How long a delivery worker may reuse an endpoint it read (never one older than the version
   * the event was accepted against). 0 turns the cache off.
   */
  endpointCacheMs: number;
  now?: () => number;
}

/**
 * A busy app's fan-out (the app and its endpoints) is reused by a container for this long, once
 * the container has read it HOT_APP_READS times within it: at 10,000 events a second every event
 * reading the app's partition would take ~10,000 read units a second from one partition (3,000 is
 * its limit). An app below that rate per container reads it afresh on every event, so an endpoint
 * created a moment ago gets its next event; a busy one's new or changed endpoints take effect
 * within this long.
 */
export const HOT_APP_REUSE_MS = 1000;
export const HOT_APP_READS = 10;

type FanOut = { app: App; endpoints: Endpoint[] };

export class DynamoAppStore implements AppStore, KeyStore, EndpointSource, EndpointHealthStore, ThrottleStore {
  private readonly cache = new Map<string, { endpoint: Endpoint | null; until: number }>();
  /** Per app: the last fan-out read, when, and the times of this container's recent reads. */
  private readonly fanOuts = new Map<
    string,
    { value: FanOut | null; at: number; windowStart: number; reads: number; hot: boolean }
  >();
  private readonly clock: () => number;

  constructor(
    private readonly t: DynamoTable,
    private readonly opts: AppStoreOptions = { endpointCacheMs: 0 },
  ) {
    this.clock = opts.now ?? Date.now;
  }

  // ---- apps ---------------------------------------------------------------------------------

  async putApp(app: App): Promise<void> {
    await this.t.db.send(
      new PutCommand({
        TableName: this.t.name,
        Item: { ...keys.app(app.id), ...appListKeys(app.id), kind: 'app', ...app },
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
  }

  /** Sets the app's name and options; false when there is no such app. */
  async updateApp(app: App): Promise<boolean> {
    return this.t.conditional(() =>
      this.t.db.send(
        new UpdateCommand({
          TableName: this.t.name,
          Key: keys.app(app.id),
          UpdateExpression: app.knownEventTypesOnly
            ? 'SET #name = :name, knownEventTypesOnly = :k'
            : 'SET #name = :name REMOVE knownEventTypesOnly',
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeNames: { '#name': 'name' },
          ExpressionAttributeValues: { ':name': app.name, ...(app.knownEventTypesOnly ? { ':k': true } : {}) },
        }),
      ),
    );
  }

  async getApp(appId: string): Promise<App | null> {
    const out = await this.t.db.send(new GetCommand({ TableName: this.t.name, Key: keys.app(appId) }));
    return out.Item ? toApp(out.Item) : null;
  }

  /**
   * Spreads the app's events over `shards` partitions from now on (writers see it at their next
   * read of the app). Only ever raised: readers read every partition up to the count, and a lower
   * count would hide the events in the others. False when the app is missing or already has as many.
   */
  async raiseEventShards(appId: string, shards: number): Promise<boolean> {
    if (!Number.isInteger(shards) || shards < 1 || shards > MAX_EVENT_SHARDS) {
      throw new RangeError(`eventShards must be a whole number from 1 to ${MAX_EVENT_SHARDS}`);
    }
    return this.t.conditional(() =>
      this.t.db.send(
        new UpdateCommand({
          TableName: this.t.name,
          Key: keys.app(appId),
          UpdateExpression: 'SET eventShards = :n',
          ConditionExpression: 'attribute_exists(pk) AND (attribute_not_exists(eventShards) OR eventShards < :n)',
          ExpressionAttributeValues: { ':n': shards },
        }),
      ),
    );
  }

  /** Every app id, a page at a time (the app list). */
  async *appIdPages(): AsyncGenerator<string[]> {
    for await (const page of this.t.queryPages({
      IndexName: TABLE_LAYOUT.indexes.open.name,
      KeyConditionExpression: 'openPk = :p',
      ExpressionAttributeValues: { ':p': APP_LIST_PK },
    })) {
      yield page.map((i) => String(i.openSk));
    }
  }

  /**
   * The app and every endpoint, strongly consistent (an endpoint created a moment ago gets the
   * next event); for an app this container serves at HOT_APP_READS within HOT_APP_REUSE_MS, its
   * copy from within that time.
   */
  async getAppWithEndpoints(appId: string): Promise<FanOut | null> {
    const now = this.clock();
    const seen = this.fanOuts.get(appId) ?? { value: null, at: -Infinity, windowStart: now, reads: 0, hot: false };
    if (now - seen.windowStart >= HOT_APP_REUSE_MS) {
      // Hot: as many reads in the window that just ended (or the one before, if none since).
      seen.hot = now - seen.windowStart < 2 * HOT_APP_REUSE_MS && seen.reads >= HOT_APP_READS;
      seen.windowStart = now;
      seen.reads = 0;
    }
    seen.reads++;
    const hot = seen.hot || seen.reads > HOT_APP_READS;
    if (hot && seen.value && now - seen.at < HOT_APP_REUSE_MS) return structuredClone(seen.value);
    seen.value = await this.readAppWithEndpoints(appId);
    seen.at = now;
    this.fanOuts.set(appId, seen);
    if (this.fanOuts.size > 10_000) this.fanOuts.delete(this.fanOuts.keys().next().value!);
    return seen.value === null ? null : structuredClone(seen.value);
  }

  private async readAppWithEndpoints(appId: string): Promise<FanOut | null> {
    const items = await this.t.queryAll({
      KeyConditionExpression: 'pk = :pk AND sk < :keys',
      ExpressionAttributeValues: { ':pk': keys.app(appId).pk, ':keys': APP_PARTITION_BEFORE_KEYS },
      ConsistentRead: true,
    });
    const appItem = items.find((i) => i.sk === SK.app);
    if (!appItem) return null;
    return { app: toApp(appItem), endpoints: items.filter((i) => i.kind === 'endpoint').map(toEndpoint) };
  }

  // ---- endpoints ----------------------------------------------------------------------------

  async putEndpoint(endpoint: Endpoint): Promise<void> {
    await this.t.db.send(
      new PutCommand({
        TableName: this.t.name,
        Item: { ...keys.endpoint(endpoint.appId, endpoint.id), kind: 'endpoint', ...endpoint },
      }),
    );
  }

  async getEndpoint(appId: string, endpointId: string, consistent = true): Promise<Endpoint | null> {
    const out = await this.t.db.send(
      new GetCommand({ TableName: this.t.name, Key: keys.endpoint(appId, endpointId), ConsistentRead: consistent }),
    );
    return out.Item ? toEndpoint(out.Item) : null;
  }

  /**
   * For a delivery: from the container's short cache, else one eventually consistent read (half
   * a read unit); consistent only when that read is older than the version the event saw, or
   * when the latest is asked for (a retry), which also skips the cache.
   */
  async endpointForDelivery(
    appId: string,
    endpointId: string,
    minVersion?: number | 'latest',
  ): Promise<Endpoint | null> {
    const id = `${appId}/${endpointId}`;
    const cached = this.cache.get(id);
    const fresh = (e: Endpoint | null) =>
      minVersion === undefined || (minVersion !== 'latest' && e !== null && e.version >= minVersion);
    if (cached && cached.until > this.clock() && fresh(cached.endpoint)) return cached.endpoint;
    let endpoint = minVersion === 'latest' ? null : await this.getEndpoint(appId, endpointId, false);
    if (minVersion === 'latest' || !fresh(endpoint)) endpoint = await this.getEndpoint(appId, endpointId, true);
    if (this.opts.endpointCacheMs > 0) {
      if (this.cache.size > 10_000) this.cache.clear();
      this.cache.set(id, { endpoint, until: this.clock() + this.opts.endpointCacheMs });
    }
    return endpoint;
  }

  async listEndpoints(appId: string, limit: number, cursor?: string) {
    const pk = keys.app(appId).pk;
    const out = await this.t.db.send(
      new QueryCommand({
        TableName: this.t.name,
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :ep)',
        ExpressionAttributeValues: { ':pk': pk, ':ep': SK.endpoint },
        Limit: limit,
        ExclusiveStartKey: decodeCursor(cursor, pk, SK.endpoint),
      }),
    );
    return {
      items: ((out.Items as Item[] | undefined) ?? []).map(toEndpoint),
      nextCursor: encodeCursor(out.LastEvaluatedKey),
    };
  }

  async countEndpoints(appId: string): Promise<number> {
    let count = 0;
    for await (const page of this.t.queryPages({
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :ep)',
      ExpressionAttributeValues: { ':pk': keys.app(appId).pk, ':ep': SK.endpoint },
      ProjectionExpression: 'pk',
      ConsistentRead: true,
    })) {
      count += page.length;
    }
    return count;
  }

  async replaceEndpoint(endpoint: Endpoint): Promise<boolean> {
    return this.t.conditional(() =>
      this.t.db.send(
        new PutCommand({
          TableName: this.t.name,
          Item: { ...keys.endpoint(endpoint.appId, endpoint.id), kind: 'endpoint', ...endpoint },
          ConditionExpression:
            'attribute_exists(pk) AND (version = :prev OR (attribute_not_exists(version) AND :prev = :zero))',
          ExpressionAttributeValues: { ':prev': endpoint.version - 1, ':zero': 0 },
        }),
      ),
    );
  }

  async deleteEndpoint(appId: string, endpointId: string): Promise<boolean> {
    return this.t.conditional(() =>
      this.t.db.send(
        new DeleteCommand({
          TableName: this.t.name,
          Key: keys.endpoint(appId, endpointId),
          ConditionExpression: 'attribute_exists(pk)',
        }),
      ),
    );
  }

  // ---- endpoint health (the delivery worker's writes) ---------------------------------------

  private async updateEndpoint(appId: string, endpointId: string, input: Omit<Item, 'TableName' | 'Key'>) {
    this.cache.delete(`${appId}/${endpointId}`);
    await this.t.conditional(() =>
      this.t.db.send(
        new UpdateCommand({
          TableName: this.t.name,
          Key: keys.endpoint(appId, endpointId),
          ...(input as Pick<ConstructorParameters<typeof UpdateCommand>[0], 'UpdateExpression'>),
        }),
      ),
    );
  }

  async disableEndpoint(appId: string, endpointId: string, reason: string, at: string): Promise<void> {
    await this.updateEndpoint(appId, endpointId, {
      UpdateExpression:
        'SET enabled = :f, disabledReason = :r, updatedAt = :at, version = if_not_exists(version, :zero) + :one',
      ConditionExpression: 'attribute_exists(pk)',
      ExpressionAttributeValues: { ':f': false, ':r': reason, ':at': at, ':zero': 0, ':one': 1 },
    });
  }

  /**
   * Flow control's state change (functions/flow/gate.ts): written only when it changes, on the
   * endpoint's own item, without bumping its version (an owner's PATCH is not in conflict with
   * it). This container's cached copy takes it at once.
   */
  async saveThrottle(appId: string, endpointId: string, throttle: StoredThrottle | null): Promise<void> {
    const id = `${appId}/${endpointId}`;
    const cached = this.cache.get(id)?.endpoint;
    if (cached) {
      if (throttle) cached.throttle = throttle;
      else delete cached.throttle;
    }
    await this.t.conditional(() =>
      this.t.db.send(
        new UpdateCommand({
          TableName: this.t.name,
          Key: keys.endpoint(appId, endpointId),
          ...(throttle
            ? {
                UpdateExpression: 'SET throttle = :t',
                ExpressionAttributeValues: { ':t': throttle },
              }
            : { UpdateExpression: 'REMOVE throttle' }),
          ConditionExpression: 'attribute_exists(pk)',
        }),
      ),
    );
  }

  async markEndpointFailing(appId: string, endpointId: string, at: string): Promise<void> {
    await this.updateEndpoint(appId, endpointId, {
      UpdateExpression: 'SET failingSince = :at',
      ConditionExpression: 'attribute_exists(pk) AND attribute_not_exists(failingSince)',
      ExpressionAttributeValues: { ':at': at },
    });
  }

  async markEndpointHealthy(appId: string, endpointId: string): Promise<void> {
    await this.updateEndpoint(appId, endpointId, {
      UpdateExpression: 'REMOVE failingSince',
      ConditionExpression: 'attribute_exists(failingSince)',
    });
  }

  // ---- app-scoped API keys ------------------------------------------------------------------
  // Two items a key: one by hash (authentication is one GetItem), one in the app's partition
  // (revocation by id). Revocation deletes the hash item first: from then on the key fails.

  async putKey(key: ApiKeyRecord): Promise<void> {
    await this.t.db.send(
      new PutCommand({ TableName: this.t.name, Item: { ...keys.apiKey(key.hash), kind: 'apikey', ...key } }),
    );
    await this.t.db.send(
      new PutCommand({ TableName: this.t.name, Item: { ...keys.appKey(key.appId, key.id), kind: 'appkey', ...key } }),
    );
  }

  async findKeyByHash(hash: string): Promise<ApiKeyRecord | null> {
    const out = await this.t.db.send(
      new GetCommand({ TableName: this.t.name, Key: keys.apiKey(hash), ConsistentRead: true }),
    );
    if (!out.Item) return null;
    const i = out.Item;
    return {
      id: i.id as string,
      appId: i.appId as string,
      name: i.name as string,
      hash,
      createdAt: i.createdAt as string,
    };
  }

  async deleteKey(appId: string, keyId: string): Promise<boolean> {
    const out = await this.t.db.send(
      new GetCommand({ TableName: this.t.name, Key: keys.appKey(appId, keyId), ConsistentRead: true }),
    );
    if (!out.Item) return false;
    await this.t.db.send(new DeleteCommand({ TableName: this.t.name, Key: keys.apiKey(out.Item.hash as string) }));
    await this.t.db.send(new DeleteCommand({ TableName: this.t.name, Key: keys.appKey(appId, keyId) }));
    return true;
  }
}
