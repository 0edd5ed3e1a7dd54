/** Events and their fan-out; the polling view of an event. */
import { BatchWriteCommand, GetCommand, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { IngestStore } from '../../core/ingest';
import type { Delivery, StoredEvent } from '../../core/model';
import { feedPosition, type EventQueryStore } from '../../core/queries';
import type { ReplayStore } from '../../core/replay';
import {
  DynamoTable,
  T,
  failedKeys,
  keys,
  toApp,
  toAttempt,
  toDelivery,
  toEndpoint,
  toEvent,
  type Item,
} from './table';

export class DynamoEventStore extends DynamoTable implements IngestStore, EventQueryStore, ReplayStore {
  async getAppWithEndpoints(appId: string) {
    // Strongly consistent: an endpoint created a moment ago must receive the next event.
    // '#APP' < 'EP#...' < 'KEY#...': the range stops before the app's keys, which ingest never needs.
    const items = await this.queryAll({
      KeyConditionExpression: 'pk = :pk AND sk < :keys',
      ExpressionAttributeValues: { ':pk': keys.app(appId).pk, ':keys': 'F' },
      ConsistentRead: true,
    });
    const appItem = items.find((i) => i.sk === '#APP');
    if (!appItem) return null;
    return { app: toApp(appItem), endpoints: items.filter((i) => i.kind === 'endpoint').map(toEndpoint) };
  }

  // ---- events and fan-out -------------------------------------------------------------------

  private eventItem(event: StoredEvent): Item {
    const key = keys.event(event.appId, event.id);
    const { type, ...rest } = event;
    return {
      ...key,
      kind: 'event',
      ...rest,
      eventType: type,
      // A test event goes to one endpoint only: never into the app's catch-up feed.
      ...(event.test ? {} : { feedPk: `FEED#${event.appId}`, feedSk: feedPosition(event) }),
      expiresAt: this.expiresAt(event.timestamp),
    };
  }

  async putEventIfAbsent(event: StoredEvent) {
    const created = await this.conditional(() =>
      this.db.send(
        new PutCommand({
          TableName: this.table,
          Item: this.eventItem(event),
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
            new PutCommand({
              TableName: this.table,
              Item: this.deliveryItem(d),
              ConditionExpression: 'attribute_not_exists(pk)',
            }),
          ),
        ),
      ),
    );
    return deliveries.filter((_, i) => created[i]);
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

  async getEventHistory(appId: string, eventId: string) {
    // The whole partition in one read: the event, its deliveries and their attempt records.
    const items = await this.queryAll({
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': keys.event(appId, eventId).pk },
    });
    const ev = items.find((i) => i.sk === '#EVENT');
    if (!ev) return null;
    return {
      event: toEvent(ev),
      deliveries: items.filter((i) => i.kind === 'delivery').map(toDelivery),
      attempts: items.filter((i) => i.kind === 'attempt').map(toAttempt),
    };
  }

  // ---- the catch-up feed and replays --------------------------------------------------------

  async listFeed(appId: string, after: string | undefined, before: string, limit: number): Promise<StoredEvent[]> {
    // BETWEEN is inclusive: start at `after` itself and drop it, so the page holds `limit` new events.
    const out = await this.db.send(
      new QueryCommand({
        TableName: this.table,
        IndexName: T.indexes.feed.name,
        KeyConditionExpression:
          after === undefined ? 'feedPk = :p AND feedSk < :hi' : 'feedPk = :p AND feedSk BETWEEN :lo AND :hi',
        ExpressionAttributeValues: {
          ':p': `FEED#${appId}`,
          ':hi': before,
          ...(after === undefined ? {} : { ':lo': after }),
        },
        Limit: after === undefined ? limit : limit + 1,
      }),
    );
    const refs = ((out.Items as Item[] | undefined) ?? []).filter((i) => i.feedSk !== after);
    return (await this.fetchItems(refs.slice(0, limit))).map(toEvent);
  }

  async listFailedSince(appId: string, endpointId: string, since: string, limit: number) {
    const pk = failedKeys({ appId, endpointId, eventId: '', createdAt: '' }).feedPk;
    const items: Item[] = [];
    let start: Item | undefined;
    do {
      const out = await this.db.send(
        new QueryCommand({
          TableName: this.table,
          IndexName: T.indexes.feed.name,
          KeyConditionExpression: 'feedPk = :p AND feedSk >= :since',
          ExpressionAttributeValues: { ':p': pk, ':since': since },
          Limit: limit + 1 - items.length,
          ExclusiveStartKey: start,
        }),
      );
      items.push(...((out.Items as Item[] | undefined) ?? []));
      start = out.LastEvaluatedKey as Item | undefined;
    } while (start && items.length <= limit);
    // The index may lag a moment behind the table: keep only what is still failed or skipped.
    const current = await this.fetchItems(items.slice(0, limit), true);
    return {
      items: current.filter((i) => i.status === 'failed' || i.status === 'skipped').map(toDelivery),
      more: items.length > limit,
    };
  }
}
