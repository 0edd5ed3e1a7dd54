/**
 * An endpoint's delivery log, read where the delivery path already writes it: each delivery's
 * record lives in its endpoint's partition, sorted by its event's time (table-layout.ts), so the
 * log is one Query newest first, and the statistics are the same Query aggregated. Nothing here
 * writes; no index entry is added to a delivery.
 */
import { QueryCommand, type QueryCommandInput } from '@aws-sdk/lib-dynamodb';
import type { EndpointLogFilter, EndpointLogStore, LoggedDelivery } from './endpoint-log';
import { Status } from '../delivery/lifecycle';
import { bySk, toDelivery } from '../delivery/dynamo-delivery-store';
import { decodeCursor, encodeCursor, type DynamoTable, type Item } from '../shared/dynamo-table';
import { deliveriesPk, deliveryShardOf, keys } from '../shared/table-layout';

/** Queries one page reads at most while it looks for matches of a filter. */
const MAX_QUERIES_PER_PAGE = 10;

function toLogged(i: Item): LoggedDelivery {
  const d = toDelivery(i);
  return {
    eventId: d.eventId,
    eventType: d.eventType ?? '',
    status: d.status,
    attempts: d.attempts,
    lastStatusCode: d.lastStatusCode ?? null,
    lastAttemptAt: d.lastAttemptAt ?? null,
    nextAttemptAt: d.status === Status.retrying ? (d.nextAttemptAt ?? null) : null,
    createdAt: d.createdAt,
    durationMs: d.status === Status.succeeded ? (d.success?.durationMs ?? null) : null,
    ...(i.test === true ? { test: true as const } : {}),
  };
}

export class DynamoEndpointLogStore implements EndpointLogStore {
  constructor(private readonly t: DynamoTable) {}

  /**
   * The Query of the endpoint's partition (`shard` of it) over the window, with the filter's
   * conditions; strictly older than `before` (a sort key) when given.
   */
  private query(
    appId: string,
    endpointId: string,
    f: EndpointLogFilter,
    shard = 0,
    before?: string,
  ): Omit<QueryCommandInput, 'TableName'> {
    // One event's delivery lives in its event's shard; a window reads the shard asked for.
    const pk = deliveriesPk(appId, endpointId, f.event ? (f.event.shard ?? deliveryShardOf(f.event.id)) : shard);
    const names: Record<string, string> = {};
    const to = `${f.until}~`;
    const values: Item = f.event
      ? { ':pk': pk, ':sk': `${f.event.at}#${f.event.id}` }
      : { ':pk': pk, ':from': f.since, ':to': before !== undefined && before < to ? before : to };
    const conditions: string[] = [];
    if (f.status !== undefined) {
      names['#s'] = 'status';
      values[':status'] = f.status;
      conditions.push('#s = :status');
    }
    if (f.eventType !== undefined) {
      values[':type'] = f.eventType;
      conditions.push('eventType = :type');
    }
    return {
      // sk is `<event time>#<event id>`: '~' sorts after '#', so `until` itself is included.
      KeyConditionExpression: f.event ? 'pk = :pk AND sk = :sk' : 'pk = :pk AND sk BETWEEN :from AND :to',
      ...(conditions.length > 0 ? { FilterExpression: conditions.join(' AND ') } : {}),
      ...(Object.keys(names).length > 0 ? { ExpressionAttributeNames: names } : {}),
      ExpressionAttributeValues: values,
      ScanIndexForward: false,
    };
  }

  async listEndpointDeliveries(
    appId: string,
    endpointId: string,
    filter: EndpointLogFilter,
    limit: number,
    cursor?: string,
  ): Promise<{ items: LoggedDelivery[]; nextCursor: string | null }> {
    // One event's delivery is one key: no shard to merge.
    const shards = filter.event ? 1 : await this.t.appEventShards(appId);
    if (shards > 1) return this.listMerged(appId, endpointId, filter, limit, shards, cursor);
    const input = this.query(appId, endpointId, filter);
    const pk = String((input.ExpressionAttributeValues as Item)[':pk']);
    let start = decodeCursor(cursor, pk, '');
    const items: LoggedDelivery[] = [];
    // A filter is applied after `Limit` items are read: ask for what is still missing, so that a
    // page never holds more than `limit`, and stop after a few reads so that one call stays cheap.
    for (let n = 0; n < MAX_QUERIES_PER_PAGE && items.length < limit; n++) {
      const out = await this.t.db.send(
        new QueryCommand({ ...input, TableName: this.t.name, Limit: limit - items.length, ExclusiveStartKey: start }),
      );
      items.push(...((out.Items as Item[] | undefined) ?? []).map(toLogged));
      start = out.LastEvaluatedKey as Item | undefined;
      if (!start) break;
    }
    return { items, nextCursor: encodeCursor(start) };
  }

  /**
   * The log of an endpoint of an app with several event shards: each of its partitions read
   * newest first, merged. The cursor has the same shape as one partition's (shard 0's key at the
   * last position shown), so a cursor stays valid when the app's shard count is raised.
   */
  private async listMerged(
    appId: string,
    endpointId: string,
    filter: EndpointLogFilter,
    limit: number,
    shards: number,
    cursor?: string,
  ): Promise<{ items: LoggedDelivery[]; nextCursor: string | null }> {
    const pk0 = deliveriesPk(appId, endpointId, 0);
    const before = decodeCursor(cursor, pk0, '')?.sk as string | undefined;
    const read = await Promise.all(
      Array.from({ length: shards }, async (_, shard) => {
        const input = this.query(appId, endpointId, filter, shard, before);
        const items: Item[] = [];
        let start: Item | undefined;
        for (let n = 0; n < MAX_QUERIES_PER_PAGE && items.length < limit; n++) {
          const out = await this.t.db.send(
            new QueryCommand({ ...input, TableName: this.t.name, Limit: limit, ExclusiveStartKey: start }),
          );
          items.push(...((out.Items as Item[] | undefined) ?? []).filter((i) => i.sk !== before));
          start = out.LastEvaluatedKey as Item | undefined;
          if (!start) break;
        }
        // Where this partition's reading stopped, when it has more: nothing older may be shown yet.
        return { items, frontier: start ? String(start.sk) : undefined };
      }),
    );
    const frontiers = read.flatMap((r) => (r.frontier === undefined ? [] : [r.frontier]));
    const floor = frontiers.length > 0 ? frontiers.reduce((a, b) => (a > b ? a : b)) : undefined;
    const shown = read
      .flatMap((r) => r.items)
      .sort((a, b) => bySk(b, a))
      .filter((i) => floor === undefined || String(i.sk) >= floor)
      .slice(0, limit);
    const last = shown.length === limit ? String(shown.at(-1)!.sk) : floor;
    return { items: shown.map(toLogged), nextCursor: last === undefined ? null : encodeCursor({ pk: pk0, sk: last }) };
  }

  async latestErrors(
    appId: string,
    endpointId: string,
    deliveries: readonly Pick<LoggedDelivery, 'eventId' | 'attempts'>[],
  ): Promise<Map<string, string | null>> {
    if (deliveries.length === 0) return new Map();
    const found = await this.t.batchGet(
      deliveries.map((d) => keys.attempt(appId, d.eventId, endpointId, d.attempts)),
      false,
    );
    return new Map(found.map((i) => [String(i.eventId), (i.error as string | null | undefined) ?? null]));
  }

  async scanEndpointDeliveries(appId: string, endpointId: string, filter: EndpointLogFilter, max: number) {
    const shards = await this.t.appEventShards(appId);
    const read = await Promise.all(
      Array.from({ length: shards }, async (_, shard) => {
        const items: Item[] = [];
        for await (const page of this.t.queryPages(this.query(appId, endpointId, filter, shard))) {
          for (const i of page) {
            if (items.length === max) return { items, truncated: true };
            items.push(i);
          }
        }
        return { items, truncated: false };
      }),
    );
    const items = read.flatMap((r) => r.items).sort((a, b) => bySk(b, a));
    return {
      items: items.slice(0, max).map(toLogged),
      truncated: items.length > max || read.some((r) => r.truncated),
    };
  }
}
