/** Apps and endpoints: an app partition holds the app and its endpoints. */
import { DeleteCommand, GetCommand, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { AppStore } from '../../core/apps';
import type { ApiKeyRecord, KeyStore } from '../../core/keys';
import type { App, Endpoint } from '../../core/model';
import { DynamoTable, decodeCursor, encodeCursor, keys, toApp, toEndpoint, type Item } from './table';

export class DynamoAppStore extends DynamoTable implements AppStore, KeyStore {
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
      new PutCommand({
        TableName: this.table,
        Item: { ...keys.endpoint(endpoint.appId, endpoint.id), kind: 'endpoint', ...endpoint },
      }),
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

  async countEndpoints(appId: string): Promise<number> {
    let count = 0;
    let start: Item | undefined;
    do {
      const out = await this.db.send(
        new QueryCommand({
          TableName: this.table,
          KeyConditionExpression: 'pk = :pk AND begins_with(sk, :ep)',
          ExpressionAttributeValues: { ':pk': keys.app(appId).pk, ':ep': 'EP#' },
          Select: 'COUNT',
          ConsistentRead: true,
          ExclusiveStartKey: start,
        }),
      );
      count += out.Count ?? 0;
      start = out.LastEvaluatedKey as Item | undefined;
    } while (start);
    return count;
  }

  async replaceEndpoint(endpoint: Endpoint): Promise<boolean> {
    return this.conditional(() =>
      this.db.send(
        new PutCommand({
          TableName: this.table,
          Item: { ...keys.endpoint(endpoint.appId, endpoint.id), kind: 'endpoint', ...endpoint },
          ConditionExpression:
            'attribute_exists(pk) AND (version = :prev OR (attribute_not_exists(version) AND :prev = :zero))',
          ExpressionAttributeValues: { ':prev': endpoint.version - 1, ':zero': 0 },
        }),
      ),
    );
  }

  async deleteEndpoint(appId: string, endpointId: string): Promise<boolean> {
    return this.conditional(() =>
      this.db.send(
        new DeleteCommand({
          TableName: this.table,
          Key: keys.endpoint(appId, endpointId),
          ConditionExpression: 'attribute_exists(pk)',
        }),
      ),
    );
  }

  // ---- app-scoped API keys ------------------------------------------------------------------
  // Two items a key: one by hash (authentication is one GetItem), one in the app's partition
  // (revocation by id). Revocation deletes the hash item first: from then on the key fails.

  async putKey(key: ApiKeyRecord): Promise<void> {
    await this.db.send(
      new PutCommand({ TableName: this.table, Item: { ...keys.apiKey(key.hash), kind: 'apikey', ...key } }),
    );
    await this.db.send(
      new PutCommand({ TableName: this.table, Item: { ...keys.appKey(key.appId, key.id), kind: 'appkey', ...key } }),
    );
  }

  async findKeyByHash(hash: string): Promise<ApiKeyRecord | null> {
    const out = await this.db.send(
      new GetCommand({ TableName: this.table, Key: keys.apiKey(hash), ConsistentRead: true }),
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
    const out = await this.db.send(
      new GetCommand({ TableName: this.table, Key: keys.appKey(appId, keyId), ConsistentRead: true }),
    );
    if (!out.Item) return false;
    await this.db.send(new DeleteCommand({ TableName: this.table, Key: keys.apiKey(out.Item.hash as string) }));
    await this.db.send(new DeleteCommand({ TableName: this.table, Key: keys.appKey(appId, keyId) }));
    return true;
  }
}
