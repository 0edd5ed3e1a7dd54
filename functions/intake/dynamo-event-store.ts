/**
 * Events: written once at accept time (idempotently), in one of their app's event partitions
 * (shards) sorted by accept time, with the data compressed when that saves a write unit. Those
 * partitions, merged in accept order, are the catch-up feed and what housekeeping reconciles: no
 * index entry is written for either. An event stands for its pending first attempts.
 *
 * Idempotency needs the event found by its id. An id hookrelay generated carries the accept time
 * and the shard (ids.ts), so its event's key follows from it: one write. An id the producer chose
 * (`id`, an `Idempotency-Key`, a bus event's) does not: a small "chosen id" record is claimed
 * first, conditionally, and says when and where its event was stored; then the event is
 * written: two writes.
 *
 * Housekeeping finds the events of its window by activity markers (table-layout.ts): before the
 * first event a container stores for an app's shard in a minute, it writes that minute's marker.
 * The marker goes first, so no event is ever stored without one: a crash between the two leaves a
 * marker with no event (a query that finds nothing), never the reverse.
 */
import { GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { brotliCompressSync, brotliDecompressSync, constants as zlib } from 'node:zlib';
import { shardOfId, timeOfId } from '../shared/ids';
import type { PutEventResult } from './ingest';
import type { AcceptedEventRef, StoredEvent } from '../shared/model';
import { approximateItemBytes, type DynamoTable, type Item } from '../shared/dynamo-table';
import {
  activityShardPks,
  eventsPk,
  keys,
  minuteOf,
  parseActivitySk,
  parseEventSk,
  parseEventsPk,
} from '../shared/table-layout';

/** DynamoDB bills a write per started kilobyte. */
const WRITE_UNIT_BYTES = 1024;

/**
 * A chosen id whose event is still missing this long after it was claimed belongs to a request
 * that died between its two writes (the api and ingest functions time out after 30 s): the next
 * request with that id takes it over and stores the event. Before then, a request with the same
 * id is told that one is in progress.
 */
export const CHOSEN_ID_ABANDONED_MS = 60_000;

const isoOfMs = (ms: number) => new Date(ms).toISOString();

export function toEvent(i: Item): StoredEvent {
  const { timestamp, eventId } = parseEventSk(String(i.sk));
  const { appId, shard } = parseEventsPk(String(i.pk));
  const dataJson =
    i.dataBr instanceof Uint8Array ? brotliDecompressSync(i.dataBr).toString('utf8') : (i.dataJson as string);
  return {
    id: eventId,
    appId,
    type: i.eventType as string,
    timestamp,
    dataJson,
    requestHash: i.requestHash as string,
    endpointIds: (i.endpointIds as string[] | undefined) ?? [],
    skippedEndpointIds: (i.skippedEndpointIds as string[] | undefined) ?? [],
    ...(i.test === true ? { test: true } : {}),
    ...(typeof i.orderingKey === 'string' ? { orderingKey: i.orderingKey } : {}),
    ...(Array.isArray(i.orderedEndpointIds) ? { orderedEndpointIds: i.orderedEndpointIds as string[] } : {}),
    ...(shard > 0 ? { shard } : {}),
  };
}

/** An app's shard that stored events in a window (from the activity markers). */
export interface ActiveShard {
  appId: string;
  shard: number;
}

export class DynamoEventStore {
  /** The markers this container has written, by minute: `<appId>#<shard>`. */
  private readonly marked = new Map<string, Set<string>>();
  private since: string | undefined;

  constructor(private readonly t: DynamoTable) {}

  /**
   * Makes sure the marker of the event's minute exists, once per app, shard, minute and
   * container: a read (half a read unit, a fifth of a write's price), and a write only when no
   * container has written it yet. A quiet app's events land on a different container each, so
   * without the read most of them would pay a marker write.
   */
  private async markActive(event: Pick<StoredEvent, 'appId' | 'shard' | 'timestamp'>): Promise<void> {
    const minute = minuteOf(event.timestamp);
    const id = `${event.appId}#${event.shard ?? 0}`;
    let seen = this.marked.get(minute);
    if (seen?.has(id)) return;
    const key = keys.activity(event.appId, event.shard ?? 0, event.timestamp);
    // Eventually consistent: a marker it misses (written a moment ago) is written again, harmlessly.
    const found = await this.t.db.send(
      new GetCommand({ TableName: this.t.name, Key: key, ProjectionExpression: 'pk' }),
    );
    if (!found.Item) {
      await this.t.db.send(
        new PutCommand({
          TableName: this.t.name,
          Item: {
            ...key,
            kind: 'activity',
            // As long as the events it points at: a reconcile that lags still finds them.
            expiresAt: this.t.expiresAt(event.timestamp),
          },
        }),
      );
    }
    if (!seen) {
      seen = new Set();
      this.marked.set(minute, seen);
      // Keep the last few minutes only (an event's timestamp is its accept time: now).
      for (const m of this.marked.keys()) if (this.marked.size > 3 && m < minute) this.marked.delete(m);
    }
    seen.add(id);
  }

  /**
   * The stored item: the ids and the accept time live in its key only, and the data is kept as
   * brotli when that brings the item under fewer write units (a realistic 1 KB JSON payload
   * compresses to about half; a tiny one is left as text, where compressing would save nothing).
   */
  eventItem(event: StoredEvent): Item {
    const item: Item = {
      ...keys.event(event.appId, event.id, event.timestamp, event.shard),
      kind: 'event',
      eventType: event.type,
      requestHash: event.requestHash,
      // A test event goes to one endpoint only: the feed leaves it out; the reconcile does not.
      ...(event.test ? { test: true } : {}),
      expiresAt: this.t.expiresAt(event.timestamp),
    };
    if (event.endpointIds.length > 0) item.endpointIds = event.endpointIds;
    if (event.skippedEndpointIds.length > 0) item.skippedEndpointIds = event.skippedEndpointIds;
    if (event.orderingKey !== undefined) item.orderingKey = event.orderingKey;
    if (event.orderedEndpointIds?.length) item.orderedEndpointIds = event.orderedEndpointIds;
    const plain = { ...item, dataJson: event.dataJson };
    const units = (i: Item) => Math.ceil(approximateItemBytes(i) / WRITE_UNIT_BYTES);
    if (Buffer.byteLength(event.dataJson) < 256) return plain;
    // Quality 5: on a realistic 1 KB payload it compresses within a few bytes of quality 9
    // (559 B against 558 B) at a twentieth of the CPU (0.08 ms against 1.6 ms an event), which
    // is Lambda time on AWS and a fifth of the local stack's thread at full load.
    const dataBr = brotliCompressSync(event.dataJson, {
      params: {
        [zlib.BROTLI_PARAM_QUALITY]: 5,
        [zlib.BROTLI_PARAM_MODE]: zlib.BROTLI_MODE_TEXT,
        [zlib.BROTLI_PARAM_SIZE_HINT]: Buffer.byteLength(event.dataJson),
      },
    });
    const compressed = { ...item, dataBr: new Uint8Array(dataBr) };
    return units(compressed) < units(plain) ? compressed : plain;
  }

  private async putEvent(event: StoredEvent, onlyIfAbsent: boolean) {
    await this.markActive(event);
    return this.t.db.send(
      new PutCommand({
        TableName: this.t.name,
        Item: this.eventItem(event),
        ...(onlyIfAbsent ? { ConditionExpression: 'attribute_not_exists(pk)' } : {}),
      }),
    );
  }

  /** Stores a new event; answers the stored one if its id is taken (or a claim still in progress). */
  async putEventIfAbsent(event: StoredEvent): Promise<PutEventResult> {
    const hinted = timeOfId(event.id);
    if (hinted !== undefined && isoOfMs(hinted) === event.timestamp && shardOfId(event.id) === (event.shard ?? 0)) {
      // An id generated for this very event: its key is its own, and one conditional put does.
      if (await this.t.conditional(() => this.putEvent(event, true))) return { created: true };
      return this.existing(event.appId, event.id, event.timestamp, event.shard ?? 0);
    }
    if (hinted !== undefined) {
      // An id of the generated shape sent again (say, the id a 202 answered): its event, if any,
      // is at the id's time and shard.
      const found = await this.readEvent(event.appId, event.id, isoOfMs(hinted), shardOfId(event.id) ?? 0, true);
      if (found) return { created: false, existing: found };
    }
    return this.putWithChosenId(event);
  }

  private async existing(appId: string, eventId: string, timestamp: string, shard: number): Promise<PutEventResult> {
    const existing = await this.readEvent(appId, eventId, timestamp, shard, true);
    if (!existing) throw new Error(`event ${eventId} vanished between a conditional put and a read`);
    return { created: false, existing };
  }

  /**
   * Claims the chosen id (conditionally), then writes the event. A crash between the two leaves a
   * claim with no event: nothing was accepted (no 202 was sent), and the producer's retry finds
   * the claim, waits out CHOSEN_ID_ABANDONED_MS, and takes it over.
   */
  private async putWithChosenId(event: StoredEvent): Promise<PutEventResult> {
    const key = keys.chosenId(event.appId, event.id);
    const claim = {
      ...key,
      kind: 'chosen-id',
      timestamp: event.timestamp,
      ...(event.shard ? { shard: event.shard } : {}),
      requestHash: event.requestHash,
      expiresAt: this.t.expiresAt(event.timestamp),
    };
    const claimed = await this.t.conditional(() =>
      this.t.db.send(
        new PutCommand({ TableName: this.t.name, Item: claim, ConditionExpression: 'attribute_not_exists(pk)' }),
      ),
    );
    if (claimed) {
      // The claim makes this key this request's alone: no condition needed.
      await this.putEvent(event, false);
      return { created: true };
    }
    const held = await this.t.db.send(new GetCommand({ TableName: this.t.name, Key: key, ConsistentRead: true }));
    const at = held.Item?.timestamp as string | undefined;
    if (at === undefined) throw new Error(`the claim of event id ${event.id} vanished between a put and a read`);
    const heldShard = (held.Item!.shard as number | undefined) ?? 0;
    const existing = await this.readEvent(event.appId, event.id, at, heldShard, true);
    if (existing) return { created: false, existing };
    const requestHash = held.Item!.requestHash as string;
    if (requestHash !== event.requestHash || Date.parse(event.timestamp) - Date.parse(at) < CHOSEN_ID_ABANDONED_MS) {
      return { created: false, claimed: { requestHash } };
    }
    // Abandoned by a request that died: take it over at this request's time and shard
    // (conditionally, so two retries never both do), then store the event where the claim now points.
    const took = await this.t.conditional(() =>
      this.t.db.send(
        new UpdateCommand({
          TableName: this.t.name,
          Key: key,
          UpdateExpression: 'SET #t = :now, expiresAt = :exp, #sh = :shard',
          ConditionExpression: '#t = :was',
          ExpressionAttributeNames: { '#t': 'timestamp', '#sh': 'shard' },
          ExpressionAttributeValues: {
            ':now': event.timestamp,
            ':was': at,
            ':exp': this.t.expiresAt(event.timestamp),
            ':shard': event.shard ?? 0,
          },
        }),
      ),
    );
    if (!took) return { created: false, claimed: { requestHash } };
    await this.putEvent(event, false);
    return { created: true };
  }

  /** Where the chosen-id record of `eventId` says its event is, if it has one. */
  private async chosenPlace(appId: string, eventId: string, consistent: boolean) {
    const claim = await this.t.db.send(
      new GetCommand({ TableName: this.t.name, Key: keys.chosenId(appId, eventId), ConsistentRead: consistent }),
    );
    const at = claim.Item?.timestamp as string | undefined;
    return at === undefined ? null : { at, shard: (claim.Item!.shard as number | undefined) ?? 0 };
  }

  /** The event with this id: at the time and shard its id carries, else where its chosen-id record says. */
  async getEvent(appId: string, eventId: string, consistent = true): Promise<StoredEvent | null> {
    const hinted = timeOfId(eventId);
    if (hinted !== undefined) {
      const found = await this.readEvent(appId, eventId, isoOfMs(hinted), shardOfId(eventId) ?? 0, consistent);
      if (found) return found;
    }
    const place = await this.chosenPlace(appId, eventId, consistent);
    return place === null ? null : this.readEvent(appId, eventId, place.at, place.shard, consistent);
  }

  /**
   * The event with this id accepted at `timestamp` (a delivery's messages carry both), in `shard`
   * when given (a message carries the shard of a chosen id's event in shard > 0): one read. An id
   * hookrelay generated names its shard; a chosen one is looked for in shard 0 (where every event
   * of an app with one partition is: one read, as ever), then where its chosen-id record says.
   */
  async getEventAt(
    appId: string,
    eventId: string,
    timestamp: string,
    shard?: number,
    consistent = true,
  ): Promise<StoredEvent | null> {
    if (shard !== undefined) return this.readEvent(appId, eventId, timestamp, shard, consistent);
    const hinted = timeOfId(eventId);
    const generated = hinted !== undefined && isoOfMs(hinted) === timestamp;
    const first = await this.readEvent(
      appId,
      eventId,
      timestamp,
      generated ? (shardOfId(eventId) ?? 0) : 0,
      consistent,
    );
    if (first || generated) return first;
    const place = await this.chosenPlace(appId, eventId, consistent);
    if (place === null || place.at !== timestamp || place.shard === 0) return null;
    return this.readEvent(appId, eventId, timestamp, place.shard, consistent);
  }

  private async readEvent(
    appId: string,
    eventId: string,
    timestamp: string,
    shard: number,
    consistent: boolean,
  ): Promise<StoredEvent | null> {
    const out = await this.t.db.send(
      new GetCommand({
        TableName: this.t.name,
        Key: keys.event(appId, eventId, timestamp, shard),
        ConsistentRead: consistent,
      }),
    );
    return out.Item ? toEvent(out.Item) : null;
  }

  /** The shard of the event with this id accepted at `timestamp`: from its id, else its chosen-id record. */
  private async shardOf(appId: string, eventId: string, timestamp: string): Promise<number> {
    const hinted = timeOfId(eventId);
    if (hinted !== undefined && isoOfMs(hinted) === timestamp) return shardOfId(eventId) ?? 0;
    const place = await this.chosenPlace(appId, eventId, true);
    return place?.at === timestamp ? place.shard : 0;
  }

  /** Adds an endpoint to an event's fan-out (a resend to an endpoint it never went to). */
  async addEndpoint(e: Pick<StoredEvent, 'appId' | 'id' | 'timestamp'>, endpointId: string): Promise<void> {
    const shard = await this.shardOf(e.appId, e.id, e.timestamp);
    await this.t.conditional(() =>
      this.t.db.send(
        new UpdateCommand({
          TableName: this.t.name,
          Key: keys.event(e.appId, e.id, e.timestamp, shard),
          UpdateExpression: 'SET endpointIds = list_append(if_not_exists(endpointIds, :none), :ep)',
          ConditionExpression: 'attribute_exists(pk) AND NOT contains(endpointIds, :id)',
          ExpressionAttributeValues: { ':none': [], ':ep': [endpointId], ':id': endpointId },
        }),
      ),
    );
  }

  /**
   * An app's events in feed order, strictly after `after` and strictly before `before`, from its
   * `shards` partitions merged by position (test events, which went to one endpoint alone, left
   * out). Each partition is read a small page at a time, as the merge needs it, so a page of the
   * feed reads about `limit` events whatever the shard count.
   */
  async listFeed(
    appId: string,
    after: string | undefined,
    before: string,
    limit: number,
    shards = 1,
  ): Promise<StoredEvent[]> {
    const pageSize = Math.ceil(limit / shards) + 1;
    const streams = Array.from({ length: shards }, (_, shard) =>
      this.feedItems(eventsPk(appId, shard), after, before, pageSize),
    );
    try {
      const heads = await Promise.all(streams.map((s) => s.next()));
      const events: StoredEvent[] = [];
      while (events.length < limit) {
        let best = -1;
        for (let i = 0; i < heads.length; i++) {
          const h = heads[i]!;
          if (!h.done && (best < 0 || String(h.value.sk) < String((heads[best] as { value: Item }).value.sk))) best = i;
        }
        if (best < 0) break;
        events.push(toEvent((heads[best] as { value: Item }).value));
        heads[best] = await streams[best]!.next();
      }
      return events;
    } finally {
      await Promise.all(streams.map((s) => s.return(undefined)));
    }
  }

  /** One event partition's items strictly between `after` and `before`, in order, paged lazily. */
  private async *feedItems(pk: string, after: string | undefined, before: string, pageSize: number) {
    // BETWEEN is inclusive: start at `after` itself and drop it.
    for await (const page of this.t.queryPages({
      KeyConditionExpression: after === undefined ? 'pk = :p AND sk < :hi' : 'pk = :p AND sk BETWEEN :lo AND :hi',
      FilterExpression: 'attribute_not_exists(test)',
      ExpressionAttributeValues: { ':p': pk, ':hi': before, ...(after === undefined ? {} : { ':lo': after }) },
      Limit: pageSize,
    })) {
      for (const item of page) if (item.sk !== after && String(item.sk) < before) yield item;
    }
  }

  /**
   * The apps' shards that stored events in [from, to), from the activity markers of its minutes:
   * one Query per marker partition, whatever the number of apps, a page at a time, each app's
   * shard once.
   */
  async *activeIn(from: string, to: string): AsyncGenerator<ActiveShard[]> {
    const seen = new Set<string>();
    for (const pk of activityShardPks()) {
      // DynamoDB refuses an empty string in a key condition: no checkpoint yet means "from the start".
      for await (const page of this.t.queryPages({
        KeyConditionExpression: from === '' ? 'pk = :p AND sk < :hi' : 'pk = :p AND sk BETWEEN :lo AND :hi',
        ProjectionExpression: 'sk',
        ExpressionAttributeValues: { ':p': pk, ':hi': to, ...(from === '' ? {} : { ':lo': minuteOf(from) }) },
      })) {
        const fresh: ActiveShard[] = [];
        for (const item of page) {
          const { appId, shard } = parseActivitySk(String(item.sk));
          const id = `${appId}#${shard}`;
          if (seen.has(id)) continue;
          seen.add(id);
          fresh.push({ appId, shard });
        }
        if (fresh.length > 0) yield fresh;
      }
    }
  }

  /**
   * Since when every event stored has an activity marker: `ifUnset` on the first call ever (the
   * time of an upgrade from a version that wrote none, or '' on a table that never held events
   * without them), remembered in the table.
   */
  async markersSince(ifUnset: string): Promise<string> {
    if (this.since !== undefined) return this.since;
    const key = keys.activitySince();
    await this.t.conditional(() =>
      this.t.db.send(
        new PutCommand({
          TableName: this.t.name,
          Item: { ...key, since: ifUnset },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      ),
    );
    const out = await this.t.db.send(new GetCommand({ TableName: this.t.name, Key: key, ConsistentRead: true }));
    this.since = String(out.Item?.since ?? ifUnset);
    return this.since;
  }

  /**
   * One shard of an app's events accepted in [from, to), oldest first, a page at a time: what the
   * reconcile needs of each (its place, type and fan-out), from one Query of that partition.
   */
  async *acceptedPages(appId: string, shard: number, from: string, to: string): AsyncGenerator<AcceptedEventRef[]> {
    // DynamoDB refuses an empty string in a key condition: no checkpoint yet means "from the start".
    for await (const page of this.t.queryPages({
      KeyConditionExpression: from === '' ? 'pk = :p AND sk < :hi' : 'pk = :p AND sk BETWEEN :lo AND :hi',
      ProjectionExpression: 'sk, eventType, endpointIds, orderingKey, orderedEndpointIds',
      ExpressionAttributeValues: { ':p': eventsPk(appId, shard), ':hi': to, ...(from === '' ? {} : { ':lo': from }) },
    })) {
      const refs = page
        .filter((i) => String(i.sk) < to)
        .map((i): AcceptedEventRef => {
          const { timestamp, eventId } = parseEventSk(String(i.sk));
          return {
            appId,
            id: eventId,
            type: i.eventType as string,
            timestamp,
            endpointIds: (i.endpointIds as string[] | undefined) ?? [],
            ...(typeof i.orderingKey === 'string' ? { orderingKey: i.orderingKey } : {}),
            ...(Array.isArray(i.orderedEndpointIds) ? { orderedEndpointIds: i.orderedEndpointIds as string[] } : {}),
            ...(shard > 0 ? { shard } : {}),
          };
        });
      if (refs.length > 0) yield refs;
    }
  }
}
