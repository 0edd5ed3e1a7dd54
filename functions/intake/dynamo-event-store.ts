/**
 * Events: written once at accept time (idempotently), in their app's partition sorted by accept
 * time, with the data compressed when that saves a write unit. That partition is the catch-up
 * feed and what housekeeping reconciles: no index entry is written for either. An event stands
 * for its pending first attempts.
 *
 * Idempotency needs the event found by its id. An id hookrelay generated carries the accept time
 * (ids.ts), so its event's key follows from it: one write. An id the producer chose (`id`, an
 * `Idempotency-Key`, a bus event's) does not: a small "chosen id" record is claimed first,
 * conditionally, and says when its event was accepted; then the event is written: two writes.
 */
import { GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { brotliCompressSync, brotliDecompressSync, constants as zlib } from 'node:zlib';
import { timeOfId } from '../shared/ids';
import type { PutEventResult } from './ingest';
import type { AcceptedEventRef, StoredEvent } from '../shared/model';
import { approximateItemBytes, type DynamoTable, type Item } from '../shared/dynamo-table';
import { appOfEventsPk, eventsPk, keys, parseEventSk } from '../shared/table-layout';

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
  const dataJson =
    i.dataBr instanceof Uint8Array ? brotliDecompressSync(i.dataBr).toString('utf8') : (i.dataJson as string);
  return {
    id: eventId,
    appId: appOfEventsPk(String(i.pk)),
    type: i.eventType as string,
    timestamp,
    dataJson,
    requestHash: i.requestHash as string,
    endpointIds: (i.endpointIds as string[] | undefined) ?? [],
    skippedEndpointIds: (i.skippedEndpointIds as string[] | undefined) ?? [],
    ...(i.test === true ? { test: true } : {}),
  };
}

export class DynamoEventStore {
  constructor(private readonly t: DynamoTable) {}

  /**
   * The stored item: the ids and the accept time live in its key only, and the data is kept as
   * brotli when that brings the item under fewer write units (a realistic 1 KB JSON payload
   * compresses to about half; a tiny one is left as text, where compressing would save nothing).
   */
  eventItem(event: StoredEvent): Item {
    const item: Item = {
      ...keys.event(event.appId, event.id, event.timestamp),
      kind: 'event',
      eventType: event.type,
      requestHash: event.requestHash,
      // A test event goes to one endpoint only: the feed leaves it out; the reconcile does not.
      ...(event.test ? { test: true } : {}),
      expiresAt: this.t.expiresAt(event.timestamp),
    };
    if (event.endpointIds.length > 0) item.endpointIds = event.endpointIds;
    if (event.skippedEndpointIds.length > 0) item.skippedEndpointIds = event.skippedEndpointIds;
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

  private putEvent(event: StoredEvent, onlyIfAbsent: boolean) {
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
    if (hinted !== undefined && isoOfMs(hinted) === event.timestamp) {
      // An id generated for this very event: its key is its own, and one conditional put does.
      if (await this.t.conditional(() => this.putEvent(event, true))) return { created: true };
      return this.existing(event.appId, event.id, event.timestamp);
    }
    if (hinted !== undefined) {
      // An id of the generated shape sent again (say, the id a 202 answered): its event, if any,
      // is at the id's time.
      const found = await this.getEventAt(event.appId, event.id, isoOfMs(hinted), true);
      if (found) return { created: false, existing: found };
    }
    return this.putWithChosenId(event);
  }

  private async existing(appId: string, eventId: string, timestamp: string): Promise<PutEventResult> {
    const existing = await this.getEventAt(appId, eventId, timestamp, true);
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
    const existing = await this.getEventAt(event.appId, event.id, at, true);
    if (existing) return { created: false, existing };
    const requestHash = held.Item!.requestHash as string;
    if (requestHash !== event.requestHash || Date.parse(event.timestamp) - Date.parse(at) < CHOSEN_ID_ABANDONED_MS) {
      return { created: false, claimed: { requestHash } };
    }
    // Abandoned by a request that died: take it over at this request's time (conditionally, so
    // two retries never both do), then store the event where the claim now points.
    const took = await this.t.conditional(() =>
      this.t.db.send(
        new UpdateCommand({
          TableName: this.t.name,
          Key: key,
          UpdateExpression: 'SET #t = :now, expiresAt = :exp',
          ConditionExpression: '#t = :was',
          ExpressionAttributeNames: { '#t': 'timestamp' },
          ExpressionAttributeValues: {
            ':now': event.timestamp,
            ':was': at,
            ':exp': this.t.expiresAt(event.timestamp),
          },
        }),
      ),
    );
    if (!took) return { created: false, claimed: { requestHash } };
    await this.putEvent(event, false);
    return { created: true };
  }

  /** The event with this id: at the time its id carries, else where its chosen-id record says. */
  async getEvent(appId: string, eventId: string, consistent = true): Promise<StoredEvent | null> {
    const hinted = timeOfId(eventId);
    if (hinted !== undefined) {
      const found = await this.getEventAt(appId, eventId, isoOfMs(hinted), consistent);
      if (found) return found;
    }
    const claim = await this.t.db.send(
      new GetCommand({ TableName: this.t.name, Key: keys.chosenId(appId, eventId), ConsistentRead: consistent }),
    );
    const at = claim.Item?.timestamp as string | undefined;
    return at === undefined ? null : this.getEventAt(appId, eventId, at, consistent);
  }

  /** The event with this id accepted at `timestamp` (a delivery's messages carry both). */
  async getEventAt(appId: string, eventId: string, timestamp: string, consistent = true): Promise<StoredEvent | null> {
    const out = await this.t.db.send(
      new GetCommand({
        TableName: this.t.name,
        Key: keys.event(appId, eventId, timestamp),
        ConsistentRead: consistent,
      }),
    );
    return out.Item ? toEvent(out.Item) : null;
  }

  /** Adds an endpoint to an event's fan-out (a resend to an endpoint it never went to). */
  async addEndpoint(e: Pick<StoredEvent, 'appId' | 'id' | 'timestamp'>, endpointId: string): Promise<void> {
    await this.t.conditional(() =>
      this.t.db.send(
        new UpdateCommand({
          TableName: this.t.name,
          Key: keys.event(e.appId, e.id, e.timestamp),
          UpdateExpression: 'SET endpointIds = list_append(if_not_exists(endpointIds, :none), :ep)',
          ConditionExpression: 'attribute_exists(pk) AND NOT contains(endpointIds, :id)',
          ExpressionAttributeValues: { ':none': [], ':ep': [endpointId], ':id': endpointId },
        }),
      ),
    );
  }

  /**
   * An app's events in feed order, strictly after `after` and strictly before `before`: one
   * Query of its partition (test events, which went to one endpoint alone, left out).
   */
  async listFeed(appId: string, after: string | undefined, before: string, limit: number): Promise<StoredEvent[]> {
    const events: StoredEvent[] = [];
    // BETWEEN is inclusive: start at `after` itself and drop it, so the page holds `limit` new events.
    for await (const page of this.t.queryPages({
      KeyConditionExpression: after === undefined ? 'pk = :p AND sk < :hi' : 'pk = :p AND sk BETWEEN :lo AND :hi',
      FilterExpression: 'attribute_not_exists(test)',
      ExpressionAttributeValues: {
        ':p': eventsPk(appId),
        ':hi': before,
        ...(after === undefined ? {} : { ':lo': after }),
      },
      Limit: after === undefined ? limit : limit + 1,
    })) {
      events.push(...page.filter((i) => i.sk !== after).map(toEvent));
      if (events.length >= limit) break;
    }
    return events.slice(0, limit);
  }

  /**
   * An app's events accepted in [from, to), oldest first, a page at a time: what the reconcile
   * needs of each (its place, type and fan-out), from one Query of the app's partition.
   */
  async *acceptedPages(appId: string, from: string, to: string): AsyncGenerator<AcceptedEventRef[]> {
    // DynamoDB refuses an empty string in a key condition: no checkpoint yet means "from the start".
    for await (const page of this.t.queryPages({
      KeyConditionExpression: from === '' ? 'pk = :p AND sk < :hi' : 'pk = :p AND sk BETWEEN :lo AND :hi',
      ProjectionExpression: 'sk, eventType, endpointIds',
      ExpressionAttributeValues: { ':p': eventsPk(appId), ':hi': to, ...(from === '' ? {} : { ':lo': from }) },
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
          };
        });
      if (refs.length > 0) yield refs;
    }
  }
}
