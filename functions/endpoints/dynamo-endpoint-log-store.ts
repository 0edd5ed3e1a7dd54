/**
 * An endpoint's delivery log, read where the delivery path already writes it: each delivery's
 * record lives in its endpoint's partition, sorted by its event's time (table-layout.ts), so the
 * log is one Query newest first, and the statistics are the same Query aggregated. Nothing here
 * writes; no index entry is added to a delivery.
 */
import { QueryCommand, type QueryCommandInput } from '@aws-sdk/lib-dynamodb';
import type { EndpointLogFilter, EndpointLogStore, LoggedDelivery } from './endpoint-log';
import { Status } from '../delivery/lifecycle';
import { toDelivery } from '../delivery/dynamo-delivery-store';
import { decodeCursor, encodeCursor, type DynamoTable, type Item } from '../shared/dynamo-table';
import { keys } from '../shared/table-layout';

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

  /** The Query of the endpoint's partition over the window, with the filter's conditions. */
  private query(appId: string, endpointId: string, f: EndpointLogFilter): Omit<QueryCommandInput, 'TableName'> {
    const pk = keys.delivery({ appId, endpointId, eventAt: '', eventId: '' }).pk;
    const names: Record<string, string> = {};
    const values: Item = f.event
      ? { ':pk': pk, ':sk': `${f.event.at}#${f.event.id}` }
      : { ':pk': pk, ':from': f.since, ':to': `${f.until}~` };
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
    const items: LoggedDelivery[] = [];
    for await (const page of this.t.queryPages(this.query(appId, endpointId, filter))) {
      for (const i of page) {
        if (items.length === max) return { items, truncated: true };
        items.push(toLogged(i));
      }
    }
    return { items, truncated: false };
  }
}
