/**
 * Deliveries: each delivery's record (written with its first outcome, or when it is late or sent
 * again) and its failed attempts' records: the store behind the worker's, ingest's, the queries'
 * and replay's ports. Housekeeping's reads and moves on the open index, and its checkpoints, are
 * in dynamo-housekeeping-store.ts.
 * A record lives in its endpoint's partition sorted by its event's time (table-layout.ts), so an
 * endpoint's log is a Query, newest first, and no write per delivery goes to an index.
 */
import { PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { DeliveryUpdate, FinishGuard, ParkUpdate } from './deliver';
import {
  ACTIVE_STATUSES,
  FINISHED_STATUSES,
  RECOVERABLE_STATUSES,
  Status,
  keyOf,
  successAttempt,
  type DeliveryKey,
} from './lifecycle';
import type { Attempt, Delivery, DeliveryOrder } from '../shared/model';
import type { DynamoTable, Item } from '../shared/dynamo-table';
import { deliveriesPk, keys, openKeys, parseDeliveryKey, SK, type Key } from '../shared/table-layout';

/** DynamoDB's order of string sort keys (by code unit, as localeCompare is not). */
export const bySk = (a: Item, b: Item) => (String(a.sk) < String(b.sk) ? -1 : String(a.sk) > String(b.sk) ? 1 : 0);

export function toDelivery(i: Item): Delivery {
  const { appId, endpointId, eventAt, eventId, shard } = parseDeliveryKey({ pk: String(i.pk), sk: String(i.sk) });
  const d: Delivery = {
    appId,
    eventId,
    endpointId,
    status: i.status as Delivery['status'],
    attempts: (i.attempts as number | undefined) ?? 0,
    createdAt: eventAt,
  };
  if (shard !== undefined) d.shard = shard;
  if (typeof i.eventType === 'string') d.eventType = i.eventType;
  if (typeof i.lastStatusCode === 'number') d.lastStatusCode = i.lastStatusCode;
  if (typeof i.lastAttemptAt === 'string') d.lastAttemptAt = i.lastAttemptAt;
  if (typeof i.nextAttemptAt === 'string') d.nextAttemptAt = i.nextAttemptAt;
  if (typeof i.leaseUntil === 'string') d.leaseUntil = i.leaseUntil;
  if (typeof i.dueAt === 'string') d.dueAt = i.dueAt;
  if (typeof i.requeues === 'number') d.requeues = i.requeues;
  if (typeof i.retryBase === 'number') d.retryBase = i.retryBase;
  if (i.success && typeof i.success === 'object') d.success = i.success as NonNullable<Delivery['success']>;
  if (i.ordered === true) d.order = typeof i.orderingKey === 'string' ? { key: i.orderingKey } : {};
  if (typeof i.reason === 'string') d.reason = i.reason;
  return d;
}

export function toAttempt(i: Item): Attempt {
  return {
    appId: i.appId as string,
    eventId: i.eventId as string,
    endpointId: i.endpointId as string,
    attempt: i.attempt as number,
    at: i.at as string,
    statusCode: (i.statusCode as number | null | undefined) ?? null,
    durationMs: i.durationMs as number,
    outcome: i.outcome as Attempt['outcome'],
    error: (i.error as string | null | undefined) ?? null,
    responseExcerpt: (i.responseExcerpt as string | null | undefined) ?? null,
  };
}

export const deliveryKeyOf = (d: Pick<Delivery, 'appId' | 'eventId' | 'endpointId' | 'createdAt' | 'shard'>): Key =>
  keys.delivery(keyOf(d));

/** `:active` and `:finished` lists as expression values, for conditions on the status. */
export const statusValues = (names: Record<string, readonly string[]>) => {
  const values: Item = {};
  const lists: Record<string, string> = {};
  for (const [name, statuses] of Object.entries(names)) {
    lists[name] = statuses.map((s, i) => `:${name}${i}`).join(', ');
    statuses.forEach((s, i) => (values[`:${name}${i}`] = s));
  }
  return { values, lists };
};

/** A strict delivery's record keeps its place: `ordered`, and its key when it has one. */
function orderAttributes(order: DeliveryOrder | undefined): Item {
  if (!order) return {};
  return order.key === undefined ? { ordered: true } : { ordered: true, orderingKey: order.key };
}

export class DynamoDeliveryStore {
  constructor(private readonly t: DynamoTable) {}

  private newRecord(d: Delivery, dueAt?: string): Item {
    const key = deliveryKeyOf(d);
    const item: Item = {
      ...key,
      kind: 'delivery',
      status: d.status,
      attempts: d.attempts,
      expiresAt: this.t.expiresAt(d.createdAt),
    };
    if (d.eventType !== undefined) item.eventType = d.eventType;
    Object.assign(item, orderAttributes(d.order));
    if (dueAt !== undefined) Object.assign(item, { dueAt, ...openKeys(key, dueAt) });
    return item;
  }

  // ---- reads --------------------------------------------------------------------------------

  async getDelivery(k: DeliveryKey): Promise<Delivery | null> {
    const [item] = await this.t.batchGet([keys.delivery(k)], true);
    return item ? toDelivery(item) : null;
  }

  /** The records of these deliveries that have one. */
  async getDeliveries(ks: DeliveryKey[], consistent = false): Promise<Delivery[]> {
    return (await this.t.batchGet(ks.map(keys.delivery), consistent)).map(toDelivery);
  }

  /** An event's failed attempts, by endpoint and number. */
  async attemptsOf(appId: string, eventId: string): Promise<Attempt[]> {
    const items = await this.t.queryAll({
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :try)',
      ExpressionAttributeValues: { ':pk': keys.attemptsPk(appId, eventId), ':try': SK.attempt },
    });
    return items.map(toAttempt);
  }

  /** Failed or skipped deliveries of an endpoint for events since `since`, oldest first. */
  async listFailedSince(appId: string, endpointId: string, since: string, limit: number) {
    const { values, lists } = statusValues({ r: RECOVERABLE_STATUSES });
    // Each of the endpoint's partitions in an app with several event shards (table-layout.ts).
    const shards = await this.t.appEventShards(appId);
    const perShard = await Promise.all(
      Array.from({ length: shards }, async (_, shard) => {
        const items: Item[] = [];
        for await (const page of this.t.queryPages({
          KeyConditionExpression: 'pk = :pk AND sk >= :since',
          FilterExpression: `#s IN (${lists.r})`,
          ExpressionAttributeNames: { '#s': 'status' },
          ExpressionAttributeValues: { ':pk': deliveriesPk(appId, endpointId, shard), ':since': since, ...values },
        })) {
          items.push(...page);
          if (items.length > limit) break;
        }
        return items;
      }),
    );
    // Each partition's first limit + 1 are the only candidates for the merged first limit + 1.
    const items = perShard.flat().sort(bySk);
    return { items: items.slice(0, limit).map(toDelivery), more: items.length > limit };
  }

  // ---- the worker's writes ------------------------------------------------------------------

  async claim(k: DeliveryKey, attempt: number, lease: { token: string; until: string }, now: string): Promise<boolean> {
    // A first attempt may have no record yet: the lease creates it (pending). A record on no
    // index (that one, or a short retry's) goes on the open index due when the lease ends: the
    // reconciles see a record and pass it by, so should this worker die and its message be lost,
    // only the index finds it. A record already on the index keeps its entry.
    const { values, lists } = statusValues({ a: ACTIVE_STATUSES });
    const open = openKeys(keys.delivery(k), lease.until);
    return this.t.conditional(() =>
      this.t.db.send(
        new UpdateCommand({
          TableName: this.t.name,
          Key: keys.delivery(k),
          UpdateExpression:
            'SET leaseToken = :tok, leaseUntil = :until, #s = if_not_exists(#s, :pending), ' +
            'attempts = if_not_exists(attempts, :zero), kind = :kind, expiresAt = if_not_exists(expiresAt, :exp), ' +
            'dueAt = if_not_exists(dueAt, :until), openPk = if_not_exists(openPk, :opk), openSk = if_not_exists(openSk, :osk)',
          ConditionExpression:
            '(attribute_not_exists(pk) AND :prev = :zero) OR (attempts = :prev AND #s IN (' +
            lists.a +
            ') AND (attribute_not_exists(leaseUntil) OR leaseUntil < :now))',
          ExpressionAttributeNames: { '#s': 'status' },
          ExpressionAttributeValues: {
            ':tok': lease.token,
            ':until': lease.until,
            ':pending': Status.pending,
            ':zero': 0,
            ':kind': 'delivery',
            ':exp': this.t.expiresAt(k.eventAt),
            ':prev': attempt - 1,
            ':now': now,
            ':opk': open.openPk,
            ':osk': open.openSk,
            ...values,
          },
        }),
      ),
    );
  }

  async recordAttempt(a: Attempt): Promise<void> {
    await this.t.db.send(
      new PutCommand({
        TableName: this.t.name,
        Item: {
          ...keys.attempt(a.appId, a.eventId, a.endpointId, a.attempt),
          kind: 'attempt',
          ...a,
          expiresAt: this.t.expiresAt(a.at),
        },
      }),
    );
  }

  /**
   * The outcome: one UpdateItem that creates the record of a first attempt or updates it, on the
   * open index while a retry waits, off it once finished.
   */
  async finish(k: DeliveryKey, guard: FinishGuard, u: DeliveryUpdate): Promise<boolean> {
    const key = keys.delivery(k);
    const set = ['#s = :s', 'attempts = :a', 'eventType = :et', 'lastAttemptAt = :la', 'kind = :kind'];
    const remove = ['leaseToken', 'leaseUntil', 'requeues'];
    const values: Item = {
      ':s': u.status,
      ':a': u.attempts,
      ':et': u.eventType,
      ':la': u.lastAttemptAt,
      ':kind': 'delivery',
    };
    set.push('expiresAt = if_not_exists(expiresAt, :exp)');
    values[':exp'] = this.t.expiresAt(k.eventAt);
    if (u.lastStatusCode !== null) {
      set.push('lastStatusCode = :c');
      values[':c'] = u.lastStatusCode;
    } else {
      remove.push('lastStatusCode');
    }
    if (u.test) {
      set.push('test = :test');
      values[':test'] = true;
    }
    for (const [name, value] of Object.entries(orderAttributes(u.order))) {
      set.push(`${name} = :${name}`);
      values[`:${name}`] = value;
    }
    if (u.success) {
      set.push('success = :ok');
      values[':ok'] = u.success;
    }
    if (u.nextAttemptAt) {
      set.push('nextAttemptAt = :na');
      values[':na'] = u.nextAttemptAt;
    } else {
      remove.push('nextAttemptAt');
    }
    if (u.dueAt) {
      const open = openKeys(key, u.dueAt);
      set.push('dueAt = :due', 'openPk = :opk', 'openSk = :osk');
      Object.assign(values, { ':due': u.dueAt, ':opk': open.openPk, ':osk': open.openSk });
    } else {
      remove.push('dueAt', 'openPk', 'openSk');
    }
    return this.guardedUpdate(key, guard, set, remove, values);
  }

  /**
   * The outcome and park writes' one UpdateItem, guarded: by the lease taken, or (no lease) by
   * the delivery still being where the message found it: `attempt - 1` attempts, active, unheld.
   */
  private guardedUpdate(key: Key, guard: FinishGuard, set: string[], remove: string[], values: Item) {
    let condition: string;
    if ('leaseToken' in guard) {
      condition = 'leaseToken = :tok';
      values[':tok'] = guard.leaseToken;
    } else {
      const { values: sv, lists } = statusValues({ act: ACTIVE_STATUSES });
      Object.assign(values, sv, { ':prev': guard.unleased.attempt - 1, ':zero': 0, ':now': guard.unleased.now });
      condition =
        '(attribute_not_exists(pk) AND :prev = :zero) OR (attempts = :prev AND #s IN (' +
        lists.act +
        ') AND (attribute_not_exists(leaseUntil) OR leaseUntil < :now))';
    }
    return this.t.conditional(() =>
      this.t.db.send(
        new UpdateCommand({
          TableName: this.t.name,
          Key: key,
          UpdateExpression: `SET ${set.join(', ')} REMOVE ${remove.join(', ')}`,
          ConditionExpression: condition,
          ExpressionAttributeNames: { '#s': 'status' },
          ExpressionAttributeValues: values,
        }),
      ),
    );
  }

  /**
   * Flow control made the delivery wait without an attempt: its status stays (or, its retry
   * window over, becomes failed), its attempts stay, and it waits on the open index for
   * `dueAt`. Guarded like `finish`; a first attempt gets its record here.
   */
  async park(k: DeliveryKey, guard: FinishGuard, u: ParkUpdate): Promise<boolean> {
    const key = keys.delivery(k);
    const set = [
      '#s = :s',
      'eventType = :et',
      'kind = :kind',
      'attempts = if_not_exists(attempts, :zero)',
      'expiresAt = if_not_exists(expiresAt, :exp)',
    ];
    const remove = ['leaseToken', 'leaseUntil', 'requeues'];
    const values: Item = {
      ':s': u.status,
      ':et': u.eventType,
      ':kind': 'delivery',
      ':zero': 0,
      ':exp': this.t.expiresAt(k.eventAt),
    };
    if (u.nextAttemptAt) {
      set.push('nextAttemptAt = :na');
      values[':na'] = u.nextAttemptAt;
    } else {
      remove.push('nextAttemptAt');
    }
    if (u.reason !== undefined) {
      set.push('reason = :why');
      values[':why'] = u.reason;
    }
    if (u.dueAt) {
      const open = openKeys(key, u.dueAt);
      set.push('dueAt = :due', 'openPk = :opk', 'openSk = :osk');
      Object.assign(values, { ':due': u.dueAt, ':opk': open.openPk, ':osk': open.openSk });
    } else {
      remove.push('dueAt', 'openPk', 'openSk');
    }
    return this.guardedUpdate(key, guard, set, remove, values);
  }

  async skip(k: DeliveryKey, eventType: string, order?: DeliveryOrder): Promise<void> {
    const { values, lists } = statusValues({ a: ACTIVE_STATUSES });
    const ordered = Object.entries(orderAttributes(order));
    await this.t.conditional(() =>
      this.t.db.send(
        new UpdateCommand({
          TableName: this.t.name,
          Key: keys.delivery(k),
          UpdateExpression:
            'SET #s = :skipped, eventType = :et, kind = :kind, attempts = if_not_exists(attempts, :zero), ' +
            `expiresAt = if_not_exists(expiresAt, :exp)${ordered.map(([n]) => `, ${n} = :${n}`).join('')} ` +
            'REMOVE dueAt, openPk, openSk, nextAttemptAt, leaseToken, leaseUntil',
          ConditionExpression: `attribute_not_exists(pk) OR #s IN (${lists.a})`,
          ExpressionAttributeNames: { '#s': 'status' },
          ExpressionAttributeValues: {
            ':skipped': Status.skipped,
            ':et': eventType,
            ':kind': 'delivery',
            ':zero': 0,
            ':exp': this.t.expiresAt(k.eventAt),
            ...Object.fromEntries(ordered.map(([n, v]) => [`:${n}`, v])),
            ...values,
          },
        }),
      ),
    );
  }

  /**
   * The skip route: fails a key's head that waits for its next attempt (retrying, `attempts`
   * made, no live lease), with why; false when it is not so any more.
   */
  async skipHead(k: DeliveryKey, attempts: number, reason: string, now: string): Promise<boolean> {
    return this.t.conditional(() =>
      this.t.db.send(
        new UpdateCommand({
          TableName: this.t.name,
          Key: keys.delivery(k),
          UpdateExpression:
            'SET #s = :failed, reason = :why REMOVE dueAt, openPk, openSk, nextAttemptAt, leaseToken, leaseUntil',
          ConditionExpression:
            '#s = :retrying AND attempts = :n AND (attribute_not_exists(leaseUntil) OR leaseUntil < :now)',
          ExpressionAttributeNames: { '#s': 'status' },
          ExpressionAttributeValues: {
            ':failed': Status.failed,
            ':retrying': Status.retrying,
            ':why': reason,
            ':n': attempts,
            ':now': now,
          },
        }),
      ),
    );
  }

  // ---- records made outside the worker ------------------------------------------------------

  /** Deliveries finished at accept time (endpoints disabled then). */
  async putSkippedDeliveries(deliveries: Delivery[]): Promise<void> {
    await this.t.batchWrite(deliveries.map((d) => ({ PutRequest: { Item: this.newRecord(d) } })));
  }

  /** A pending record on the open index for a delivery that has none; false if it has one. */
  async openPending(d: Delivery, dueAt: string): Promise<boolean> {
    return this.t.conditional(() =>
      this.t.db.send(
        new PutCommand({
          TableName: this.t.name,
          Item: this.newRecord(d, dueAt),
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      ),
    );
  }

  /** Puts a finished (or waiting, unleased) delivery back to pending for a new attempt cycle. */
  async restartDelivery(d: Delivery, dueAt: string, now: string): Promise<boolean> {
    const key = deliveryKeyOf(d);
    const open = openKeys(key, dueAt);
    // The success kept on the delivery becomes an attempt record before the delivery moves on.
    for (const a of successAttempt(d)) await this.recordAttempt(a);
    const { values, lists } = statusValues({ f: FINISHED_STATUSES });
    return this.t.conditional(() =>
      this.t.db.send(
        new UpdateCommand({
          TableName: this.t.name,
          Key: key,
          UpdateExpression:
            'SET #s = :pending, retryBase = attempts, requeues = :zero, dueAt = :due, openPk = :opk, openSk = :osk ' +
            'REMOVE nextAttemptAt, leaseToken, leaseUntil, success, reason',
          ConditionExpression:
            `attempts = :attempts AND (#s IN (${lists.f}) OR ` +
            '(#s = :retrying AND (attribute_not_exists(leaseUntil) OR leaseUntil < :now)))',
          ExpressionAttributeNames: { '#s': 'status' },
          ExpressionAttributeValues: {
            ':pending': Status.pending,
            ':retrying': Status.retrying,
            ':zero': 0,
            ':attempts': d.attempts,
            ':due': dueAt,
            ':opk': open.openPk,
            ':osk': open.openSk,
            ':now': now,
            ...values,
          },
        }),
      ),
    );
  }
}
