/**
 * Housekeeping's store: its reads of the deliveries (what the reconciles read back over an
 * endpoint's partition, and the open index of work that is late or waiting), its conditional moves
 * on that index, and its checkpoints of how far it has read events back. One class, one port
 * (HousekeepingStore in housekeeping.ts).
 */
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { Delivery } from '../shared/model';
import type { DynamoTable, Item } from '../shared/dynamo-table';
import {
  dueAtOf,
  keys,
  openKeys,
  openShardPks,
  parseDeliveryKey,
  TABLE_LAYOUT,
  deliveriesPk,
  type Key,
} from '../shared/table-layout';
import { deliveryKeyOf, toDelivery } from './dynamo-delivery-store';
import type { HousekeepingStore, OpenItem, RedriveOptions } from './housekeeping';
import { Status } from './lifecycle';

export class DynamoHousekeepingStore implements HousekeepingStore {
  constructor(private readonly t: DynamoTable) {}

  // ---- what the reconciles read back ----------------------------------------------------------

  /**
   * The events, accepted in [from, to], whose delivery to this endpoint has a record: one query
   * of the endpoint's partition, keys only (a read unit covers ~13 records, not one).
   */
  async recordedBetween(appId: string, endpointId: string, from: string, to: string, shard = 0): Promise<Set<string>> {
    const ids = new Set<string>();
    for await (const page of this.t.queryPages({
      KeyConditionExpression: 'pk = :pk AND sk BETWEEN :lo AND :hi',
      ExpressionAttributeValues: {
        ':pk': deliveriesPk(appId, endpointId, shard),
        ':lo': from,
        ':hi': `${to}#\uffff`,
      },
      ProjectionExpression: 'pk, sk',
    })) {
      for (const i of page) ids.add(parseDeliveryKey({ pk: String(i.pk), sk: String(i.sk) }).eventId);
    }
    return ids;
  }

  /**
   * This endpoint's deliveries of events accepted in [from, to] that wait for a retry with no
   * open-index entry (the scheduler carries them): one query of the endpoint's partition,
   * eventually consistent, whole items (the filter runs after the read: what the span holds is
   * what is billed, as for recordedBetween).
   */
  async waitingRetriesBetween(
    appId: string,
    endpointId: string,
    from: string,
    to: string,
    shard = 0,
  ): Promise<Delivery[]> {
    const items = await this.t.queryAll({
      KeyConditionExpression: 'pk = :pk AND sk BETWEEN :lo AND :hi',
      FilterExpression: '#s = :retrying AND attribute_not_exists(openPk)',
      ExpressionAttributeNames: { '#s': 'status' },
      ExpressionAttributeValues: {
        ':pk': deliveriesPk(appId, endpointId, shard),
        ':lo': from,
        ':hi': `${to}#\uffff`,
        ':retrying': Status.retrying,
      },
    });
    return items.map(toDelivery);
  }

  // ---- the open index -----------------------------------------------------------------------

  async listDue(cutoff: string, limit: number): Promise<OpenItem[]> {
    const perShard = await Promise.all(
      openShardPks().map(async (p) => {
        const refs: Item[] = [];
        for await (const page of this.t.queryPages({
          IndexName: TABLE_LAYOUT.indexes.open.name,
          KeyConditionExpression: 'openPk = :p AND openSk < :cut',
          ExpressionAttributeValues: { ':p': p, ':cut': cutoff },
          Limit: limit,
        })) {
          refs.push(...page);
          if (refs.length >= limit) break;
        }
        return refs;
      }),
    );
    const refs = perShard.flat();
    refs.sort((a, b) => String(a.openSk).localeCompare(String(b.openSk)));
    // Strongly consistent: the item's current due time is what rescheduleDue will compare with.
    const items = await this.t.batchGet(refs.slice(0, limit) as Key[], true);
    return items
      .filter((i) => i.kind === 'delivery' && typeof i.openSk === 'string' && i.openSk < cutoff)
      .map((i): OpenItem => ({ dueAt: dueAtOf(String(i.openSk)), delivery: toDelivery(i) }));
  }

  async rescheduleDue(item: OpenItem, toDueAt: string, opts: RedriveOptions = {}): Promise<boolean> {
    const key = deliveryKeyOf(item.delivery);
    return this.moveOnIndex(key, ['dueAt = :due', 'openSk = :to'], 'openSk = :from', opts, {
      ':due': toDueAt,
      ':to': openKeys(key, toDueAt).openSk,
      ':from': openKeys(key, item.dueAt).openSk,
    });
  }

  /**
   * Puts a retry that waits with no open-index entry on it, due at `dueAt`, if it still waits as
   * it was read: retrying, the same attempts, on no index.
   */
  async openWaitingRetry(d: Delivery, dueAt: string, opts: RedriveOptions = {}): Promise<boolean> {
    const key = deliveryKeyOf(d);
    const open = openKeys(key, dueAt);
    return this.moveOnIndex(
      key,
      ['dueAt = :due', 'openPk = :opk', 'openSk = :osk'],
      '#s = :retrying AND attempts = :attempts AND attribute_not_exists(openPk)',
      opts,
      {
        ':due': dueAt,
        ':opk': open.openPk,
        ':osk': open.openSk,
        ':retrying': Status.retrying,
        ':attempts': d.attempts,
      },
      { '#s': 'status' },
    );
  }

  /**
   * Housekeeping's conditional move of an item on the open index: `set` (its due time and keys),
   * counting a re-drive unless it is the `planned` send of a future attempt, and dropping a dead
   * worker's lease when `clearLease`; false if `condition` failed (someone moved it first).
   */
  private moveOnIndex(
    key: Key,
    set: string[],
    condition: string,
    opts: RedriveOptions,
    values: Item,
    names?: Record<string, string>,
  ): Promise<boolean> {
    const parts = opts.planned ? set : [...set, 'requeues = if_not_exists(requeues, :zero) + :one'];
    const remove = opts.clearLease ? ' REMOVE leaseToken, leaseUntil' : '';
    return this.t.conditional(() =>
      this.t.db.send(
        new UpdateCommand({
          TableName: this.t.name,
          Key: key,
          UpdateExpression: `SET ${parts.join(', ')}${remove}`,
          ConditionExpression: condition,
          ...(names ? { ExpressionAttributeNames: names } : {}),
          ExpressionAttributeValues: { ...values, ...(opts.planned ? {} : { ':zero': 0, ':one': 1 }) },
        }),
      ),
    );
  }

  // ---- housekeeping's checkpoints -----------------------------------------------------------

  /** Up to when events have been reconciled against their first attempts' outcomes. */
  reconciledUntil(): Promise<string | null> {
    return this.checkpoint(keys.reconcileCheckpoint());
  }
  setReconciledUntil(until: string): Promise<void> {
    return this.moveCheckpoint(keys.reconcileCheckpoint(), until);
  }
  /** Up to when events' waiting retries have been read back (the trailing reconcile). */
  retriesReconciledUntil(): Promise<string | null> {
    return this.checkpoint(keys.retryReconcileCheckpoint());
  }
  setRetriesReconciledUntil(until: string): Promise<void> {
    return this.moveCheckpoint(keys.retryReconcileCheckpoint(), until);
  }

  private async checkpoint(key: Key): Promise<string | null> {
    const [item] = await this.t.batchGet([key], true);
    return typeof item?.until === 'string' ? item.until : null;
  }

  private async moveCheckpoint(key: Key, until: string): Promise<void> {
    // Only forward: a slow run never moves the checkpoint back over a later one's.
    await this.t.conditional(() =>
      this.t.db.send(
        new UpdateCommand({
          TableName: this.t.name,
          Key: key,
          UpdateExpression: 'SET #u = :u',
          ConditionExpression: 'attribute_not_exists(#u) OR #u < :u',
          ExpressionAttributeNames: { '#u': 'until' },
          ExpressionAttributeValues: { ':u': until },
        }),
      ),
    );
  }
}
