/** Apps and endpoints: an app partition holds the app and its endpoints. */
import { GetCommand, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { AppStore } from '../../core/apps';
import type { App, Endpoint } from '../../core/model';
import { DynamoTable, decodeCursor, encodeCursor, keys, toApp, toEndpoint, type Item } from './table';

export class DynamoAppStore extends DynamoTable implements AppStore {
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


}
