/**
 * The table's layout, in one place: key attributes, indexes, shards, and every item's keys.
 * The stack (infra/constructs/store.ts) builds the table from TABLE_LAYOUT; the table's name is
 * the deployment's (HOOKRELAY_TABLE_NAME). See docs/data-model.md.
 *
 * | item        | pk                         | sk                        | index keys                          |
 * |-------------|----------------------------|---------------------------|-------------------------------------|
 * | app         | APP#<appId>                | #APP                      | open: APPS / <appId> (the app list) |
 * | endpoint    | APP#<appId>                | EP#<endpointId>           |                                     |
 * | event       | EVENTS#<appId>             | <ts>#<eventId>            |                                     |
 * | chosen id   | IDEM#<appId>#<eventId>     | #IDEM                     |                                     |
 * | attempt     | EVT#<appId>#<eventId>      | TRY#<endpointId>#<nnnn>   |                                     |
 * | delivery    | DLV#<appId>#<endpointId>   | <eventTs>#<eventId>       | open: OPEN#<n> / <dueAt>#pk#sk,     |
 * |             |                            |                           | while late or waiting               |
 * | checkpoints | HK#reconcile               | #CHECKPOINT, #RETRIES     |                                     |
 *
 * An app's events live in one partition sorted by accept time: that partition is the catch-up
 * feed and what housekeeping reconciles, with no index entry to write. An id hookrelay generated
 * carries its accept time, so the event's key is computable from the id alone; an id the
 * producer chose does not, and gets a small record of its own (the "chosen id") that makes it
 * unique and says when its event was accepted.
 *
 * A delivery's record lives in its endpoint's partition, sorted by its event's time: an
 * endpoint's deliveries, newest first, are one Query on the table (no index entry to write),
 * and the record of (event, endpoint) has a key computable from the event alone.
 */
import { createHash } from 'node:crypto';
import { feedPosition } from '../delivery/queries';

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
} as const;

export type Key = { pk: string; sk: string };

export const keys = {
  apiKey: (hash: string): Key => ({ pk: `KEY#${hash}`, sk: '#KEY' }),
  appKey: (appId: string, keyId: string): Key => ({ pk: `APP#${appId}`, sk: `KEY#${keyId}` }),
  app: (appId: string): Key => ({ pk: `APP#${appId}`, sk: '#APP' }),
  endpoint: (appId: string, endpointId: string): Key => ({ pk: `APP#${appId}`, sk: `EP#${endpointId}` }),
  /** An event, in its app's partition at its accept time (its place in the feed). */
  event: (appId: string, eventId: string, timestamp: string): Key => ({
    pk: `EVENTS#${appId}`,
    sk: feedPosition({ timestamp, id: eventId }),
  }),
  /** An id the producer chose: unique per app, and where its event is (`timestamp`). */
  chosenId: (appId: string, eventId: string): Key => ({ pk: `IDEM#${appId}#${eventId}`, sk: '#IDEM' }),
  /** The partition of an event's failed attempts. */
  attemptsPk: (appId: string, eventId: string) => `EVT#${appId}#${eventId}`,
  attempt: (appId: string, eventId: string, endpointId: string, n: number): Key => ({
    pk: `EVT#${appId}#${eventId}`,
    sk: `TRY#${endpointId}#${String(n).padStart(4, '0')}`,
  }),
  delivery: (k: { appId: string; endpointId: string; eventAt: string; eventId: string }): Key => ({
    pk: `DLV#${k.appId}#${k.endpointId}`,
    sk: `${k.eventAt}#${k.eventId}`,
  }),
  /** Where housekeeping keeps how far it has reconciled events against their deliveries. */
  reconcileCheckpoint: (): Key => ({ pk: 'HK#reconcile', sk: '#CHECKPOINT' }),
  /** Beside it: how far the trailing reconcile has read events' waiting retries. */
  retryReconcileCheckpoint: (): Key => ({ pk: 'HK#reconcile', sk: '#RETRIES' }),
};

/** Sort-key prefixes within a partition. */
export const SK = { app: '#APP', endpoint: 'EP#', appKey: 'KEY#', attempt: 'TRY#' } as const;

/** An app partition's items that fan-out needs ('#APP' < 'EP#...' < 'KEY#...'): below this. */
export const APP_PARTITION_BEFORE_KEYS = 'F';

/** An app's event partition. */
export const eventsPk = (appId: string) => `EVENTS#${appId}`;

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
  const shard = createHash('sha1').update(key.pk).update(key.sk).digest().readUInt32BE(0) % TABLE_LAYOUT.openShards;
  return { openPk: `OPEN#${shard}`, openSk: `${dueAt}#${key.pk}#${key.sk}` };
}

export const openShardPks = () => Array.from({ length: TABLE_LAYOUT.openShards }, (_, n) => `OPEN#${n}`);

/** The due time at the head of an open-index sort key. */
export const dueAtOf = (openSk: string) => openSk.split('#')[0] ?? '';

/** The ids in a delivery's keys (DLV#<appId>#<endpointId> / <eventTs>#<eventId>). */
export function parseDeliveryKey(key: Key) {
  const [, appId = '', endpointId = ''] = key.pk.split('#');
  const cut = key.sk.indexOf('#');
  return { appId, endpointId, eventAt: key.sk.slice(0, cut), eventId: key.sk.slice(cut + 1) };
}

/** The app in an event's partition key (EVENTS#<appId>). */
export const appOfEventsPk = (pk: string) => pk.slice('EVENTS#'.length);
