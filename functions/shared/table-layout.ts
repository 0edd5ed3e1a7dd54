/**
 * The table's layout, in one place: key attributes, indexes, shards, and every item's keys.
 * The stack (infra/constructs/store.ts) builds the table from TABLE_LAYOUT; the table's name is
 * the deployment's (HOOKRELAY_TABLE_NAME). See docs/data-model.md.
 *
 * | item        | pk                         | sk                        | index keys                          |
 * |-------------|----------------------------|---------------------------|-------------------------------------|
 * | app         | APP#<appId>                | #APP                      | open: APPS / <appId> (the app list) |
 * | endpoint    | APP#<appId>                | EP#<endpointId>           |                                     |
 * | event       | EVENTS#<appId>[#<shard>]   | <ts>#<eventId>            |                                     |
 * | chosen id   | IDEM#<appId>#<eventId>     | #IDEM                     |                                     |
 * | activity    | ACTIVE#<n>                 | <minute>#<appId>#<shard>  |                                     |
 * | attempt     | EVT#<appId>#<eventId>      | TRY#<endpointId>#<nnnn>   |                                     |
 * | delivery    | DLV#<appId>#<endpointId>   | <eventTs>#<eventId>       | open: OPEN#<n> / <dueAt>#pk#sk,     |
 * |             | [#<shard>]                 |                           |                                     |
 * |             |                            |                           | while late or waiting               |
 * | checkpoints | HK#reconcile               | #CHECKPOINT, #RETRIES,    |                                     |
 * |             |                            | #ACTIVITY                 |                                     |
 * | held key    | HELD#<appId>#<endpointId>  | K#<orderingKey>, #        |                                     |
 *
 * An app's events live in its event partitions sorted by accept time (one, `EVENTS#<appId>`,
 * unless the app's `eventShards` is raised; shard n > 0 is `EVENTS#<appId>#<n>`): merged in
 * accept order they are the catch-up feed, and housekeeping reconciles them, with no index entry
 * to write. An id hookrelay generated carries its accept time and its shard, so the event's key
 * is computable from the id alone; an id the producer chose does not, and gets a small record of
 * its own (the "chosen id") that makes it unique and says when and where its event was stored.
 *
 * An activity marker says "this app wrote events to this shard in this minute": written before
 * the first such event a container stores in a minute (so at most once per app, shard, minute and
 * container), it is how housekeeping finds the events of its window without walking every app.
 *
 * A delivery's record lives in its endpoint's partition, sorted by its event's time: an
 * endpoint's deliveries, newest first, are one Query on the table (no index entry to write),
 * and the record of (event, endpoint) has a key computable from the event alone. In an app with
 * several event shards, an endpoint's records are spread the same way (each in its event's
 * shard: the one a generated id names, or, for an id the producer chose, the one the delivery's
 * message and key carry), so one busy endpoint is not held to one partition's ~1,000 writes a
 * second either, whoever chose the ids; its readers merge the app's shards.
 */
import { hashShard } from './hash-shard';
import { feedPosition } from './model';
import { shardOfId } from './ids';

export const TABLE_LAYOUT = {
  partitionKey: 'pk',
  sortKey: 'sk',
  /** Epoch seconds after which DynamoDB TTL may delete an item (events, deliveries, attempts). */
  ttlAttribute: 'expiresAt',
  /**
   * One index, projecting keys only: an entry then costs one write unit whatever the item's
   * size, and updates to other attributes (a delivery's status) do not rewrite it. Readers fetch
   * the items they find with one BatchGetItem.
   */
  indexes: {
    /**
     * Sparse: deliveries that are late or waiting (by due time, sharded), and the list of apps
     * (one `APPS` partition), which housekeeping walks to reconcile events.
     */
    open: { name: 'open', partitionKey: 'openPk', sortKey: 'openSk', projection: 'KEYS_ONLY' },
  },
  /**
   * Shards of the open index's due-time partitions, so that its writes spread: each takes ~1,000
   * writes/s. Only retries and late work write it (a first-try success never does), so 32
   * shards carry a retry rate of ~16,000 a second. Housekeeping reads every shard once a run.
   * Changing it moves where items are written: a data migration, not a setting.
   */
  openShards: 32,
  /**
   * Partitions of the activity markers (ACTIVE#<n>), by app and shard: housekeeping reads each
   * once per reconcile step. Each takes ~1,000 marker writes a second, and a marker is written at
   * most once per app, shard, minute and container: 16 carry ~960,000 such a minute.
   */
  activityShards: 16,
} as const;

export type Key = { pk: string; sk: string };

export const keys = {
  apiKey: (hash: string): Key => ({ pk: `KEY#${hash}`, sk: '#KEY' }),
  appKey: (appId: string, keyId: string): Key => ({ pk: `APP#${appId}`, sk: `KEY#${keyId}` }),
  app: (appId: string): Key => ({ pk: `APP#${appId}`, sk: '#APP' }),
  endpoint: (appId: string, endpointId: string): Key => ({ pk: `APP#${appId}`, sk: `EP#${endpointId}` }),
  /** An event, in its app's partition (shard) at its accept time (its place in the feed). */
  event: (appId: string, eventId: string, timestamp: string, shard = 0): Key => ({
    pk: eventsPk(appId, shard),
    sk: feedPosition({ timestamp, id: eventId }),
  }),
  /** "App `appId` stored events in shard `shard` in the minute of `timestamp`." */
  activity: (appId: string, shard: number, timestamp: string): Key => ({
    pk: activityPk(appId, shard),
    sk: `${minuteOf(timestamp)}#${appId}#${shard}`,
  }),
  /** An id the producer chose: unique per app, and where its event is (`timestamp`, `shard`). */
  chosenId: (appId: string, eventId: string): Key => ({ pk: `IDEM#${appId}#${eventId}`, sk: '#IDEM' }),
  /** The partition of an event's failed attempts. */
  attemptsPk: (appId: string, eventId: string) => `EVT#${appId}#${eventId}`,
  attempt: (appId: string, eventId: string, endpointId: string, n: number): Key => ({
    pk: `EVT#${appId}#${eventId}`,
    sk: `TRY#${endpointId}#${String(n).padStart(4, '0')}`,
  }),
  /**
   * A delivery, in its endpoint's partition at its event's time: the partition of its event's
   * shard, which `shard` names when the event's id does not (see carriedShard).
   */
  delivery: (k: { appId: string; endpointId: string; eventAt: string; eventId: string; shard?: number }): Key => ({
    pk: deliveriesPk(k.appId, k.endpointId, k.shard ?? deliveryShardOf(k.eventId)),
    sk: `${k.eventAt}#${k.eventId}`,
  }),
  /**
   * A strict endpoint's held key: its head failed an attempt and waits (functions/ordering). The
   * events without a key are `#`, which no key can be (`#` is not an ordering-key character).
   */
  heldKey: (appId: string, endpointId: string, orderingKey: string | undefined): Key => ({
    pk: `HELD#${appId}#${endpointId}`,
    sk: orderingKey === undefined ? '#' : `K#${orderingKey}`,
  }),
  /** Where housekeeping keeps how far it has reconciled events against their deliveries. */
  reconcileCheckpoint: (): Key => ({ pk: 'HK#reconcile', sk: '#CHECKPOINT' }),
  /** Beside them: since when every stored event has an activity marker. */
  activitySince: (): Key => ({ pk: 'HK#reconcile', sk: '#ACTIVITY' }),
  /** Beside it: how far the trailing reconcile has read events' waiting retries. */
  retryReconcileCheckpoint: (): Key => ({ pk: 'HK#reconcile', sk: '#RETRIES' }),
};

/** Sort-key prefixes within a partition. */
export const SK = { app: '#APP', endpoint: 'EP#', appKey: 'KEY#', attempt: 'TRY#' } as const;

/** An app partition's items that fan-out needs ('#APP' < 'EP#...' < 'KEY#...'): below this. */
export const APP_PARTITION_BEFORE_KEYS = 'F';

/** An app's event partition (shard 0 keeps the name an app with one partition has always had). */
export const eventsPk = (appId: string, shard = 0) => (shard === 0 ? `EVENTS#${appId}` : `EVENTS#${appId}#${shard}`);

/** The minute of an ISO time (`YYYY-MM-DDTHH:MM`), which sorts before every ISO time within it. */
export const minuteOf = (iso: string) => iso.slice(0, 16);

/** The activity partition of an app's shard: spread by a hash, so a busy minute spreads too. */
export function activityPk(appId: string, shard: number) {
  return `ACTIVE#${hashShard(`${appId}#${shard}`, TABLE_LAYOUT.activityShards)}`;
}
export const activityShardPks = () => Array.from({ length: TABLE_LAYOUT.activityShards }, (_, n) => `ACTIVE#${n}`);

/** The app and shard an activity marker names. */
export function parseActivitySk(sk: string) {
  const [, appId = '', shard = '0'] = sk.split('#');
  return { appId, shard: Number(shard) };
}

/** The accept time and id in an event's sort key (ISO times and event ids hold no '#'). */
export function parseEventSk(sk: string) {
  const cut = sk.indexOf('#');
  return { timestamp: sk.slice(0, cut), eventId: sk.slice(cut + 1) };
}

/** The app list, on the open index (apps are few and rarely created: one index entry each). */
export const APP_LIST_PK = 'APPS';
export const appListKeys = (appId: string) => ({ openPk: APP_LIST_PK, openSk: appId });

/** The open-index keys of an item due at `dueAt`: a shard from its key, sorted by due time. */
export function openKeys(key: Key, dueAt: string) {
  const shard = hashShard(key.pk + key.sk, TABLE_LAYOUT.openShards);
  return { openPk: `OPEN#${shard}`, openSk: `${dueAt}#${key.pk}#${key.sk}` };
}

export const openShardPks = () => Array.from({ length: TABLE_LAYOUT.openShards }, (_, n) => `OPEN#${n}`);

/** The due time at the head of an open-index sort key. */
export const dueAtOf = (openSk: string) => openSk.split('#')[0] ?? '';

/**
 * The shard of a delivery's partition as its event's id names it: the shard of every id
 * hookrelay generated (its event's), else 0. An id the producer chose names no shard, yet its
 * event may be in any: its deliveries' keys, records and messages then carry the event's shard
 * (carriedShard), and a message without one (sent before they did) means this.
 */
export const deliveryShardOf = (eventId: string) => shardOfId(eventId) ?? 0;

/**
 * What a delivery's key and message carry of its partition: nothing when the event's id names
 * the event's shard (every generated id, and a chosen id in shard 0), else `{ shard }`. The
 * records of one event's deliveries are in its event's shard, so a hot endpoint's spread over
 * the app's shards whoever chose the ids.
 */
export const carriedShard = (eventId: string, eventShard = 0): { shard?: number } =>
  eventShard === deliveryShardOf(eventId) ? {} : { shard: eventShard };

/** An endpoint's delivery partition (shard 0 keeps the name an unsharded app has always had). */
export const deliveriesPk = (appId: string, endpointId: string, shard = 0) =>
  shard === 0 ? `DLV#${appId}#${endpointId}` : `DLV#${appId}#${endpointId}#${shard}`;

/**
 * The ids in a delivery's keys (DLV#<appId>#<endpointId>[#<shard>] / <eventTs>#<eventId>), and
 * its shard when its event's id does not name it (carriedShard).
 */
export function parseDeliveryKey(key: Key) {
  const [, appId = '', endpointId = '', shard = '0'] = key.pk.split('#');
  const cut = key.sk.indexOf('#');
  const eventId = key.sk.slice(cut + 1);
  return { appId, endpointId, eventAt: key.sk.slice(0, cut), eventId, ...carriedShard(eventId, Number(shard)) };
}

/** The app and shard in an event's partition key (EVENTS#<appId>[#<shard>]). */
export function parseEventsPk(pk: string) {
  const [, appId = '', shard = '0'] = pk.split('#');
  return { appId, shard: Number(shard) };
}
