/** What a delivery attempt reads and writes: context, lease, attempt, result. */
import { BatchGetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { AttemptContext, DeliveryStore, DeliveryUpdate } from '../../core/deliver';
import type { Attempt, Delivery } from '../../core/model';
import {
  DynamoTable,
  epochSeconds,
  failedKeys,
  keys,
  openKeys,
  toDelivery,
  toEndpoint,
  toEvent,
  type Item,
} from './table';

export class DynamoDeliveryStore extends DynamoTable implements DeliveryStore {
  // ---- delivery attempts --------------------------------------------------------------------

  async loadAttemptContext(appId: string, eventId: string, endpointId: string): Promise<AttemptContext> {
    const wanted = [
      keys.event(appId, eventId),
      keys.delivery(appId, eventId, endpointId),
      keys.endpoint(appId, endpointId),
    ];
    let pending: Item[] = wanted;
    const found: Item[] = [];
    for (let round = 0; pending.length > 0; round++) {
      if (round > 8) throw new Error('DynamoDB kept returning unprocessed keys');
      if (round > 0) await new Promise((r) => setTimeout(r, 25 * 2 ** round));
      const out = await this.db.send(
        new BatchGetCommand({ RequestItems: { [this.table]: { Keys: pending, ConsistentRead: true } } }),
      );
      found.push(...((out.Responses?.[this.table] as Item[] | undefined) ?? []));
      pending = (out.UnprocessedKeys?.[this.table]?.Keys as Item[] | undefined) ?? [];
    }
    const pick = (k: { pk: string; sk: string }) => found.find((i) => i.pk === k.pk && i.sk === k.sk);
    const [ev, dl, ep] = wanted.map(pick);
    return {
      event: ev ? toEvent(ev) : null,
      delivery: dl ? toDelivery(dl) : null,
      endpoint: ep ? toEndpoint(ep) : null,
    };
  }

  async claim(d: Delivery, attempt: number, lease: { token: string; until: string }, now: string): Promise<boolean> {
    // The lease does not move the delivery on the open index (that would cost two index writes):
    // housekeeping leaves a due delivery alone while its lease is live, and re-drives it after.
    return this.conditional(() =>
      this.db.send(
        new UpdateCommand({
          TableName: this.table,
          Key: keys.delivery(d.appId, d.eventId, d.endpointId),
          UpdateExpression: 'SET leaseToken = :tok, leaseUntil = :until',
          ConditionExpression:
            'attempts = :prev AND #s IN (:pending, :retrying) AND (attribute_not_exists(leaseUntil) OR leaseUntil < :now)',
          ExpressionAttributeNames: { '#s': 'status' },
          ExpressionAttributeValues: {
            ':tok': lease.token,
            ':until': lease.until,
            ':prev': attempt - 1,
            ':pending': 'pending',
            ':retrying': 'retrying',
            ':now': now,
          },
        }),
      ),
    );
  }

  async recordAttempt(a: Attempt, retentionDays: number): Promise<void> {
    await this.db.send(
      new PutCommand({
        TableName: this.table,
        Item: {
          ...keys.attempt(a.appId, a.eventId, a.endpointId, a.attempt),
          kind: 'attempt',
          ...a,
          expiresAt: epochSeconds(a.at, retentionDays),
        },
      }),
    );
  }

  async finish(d: Delivery, leaseToken: string, u: DeliveryUpdate): Promise<boolean> {
    const key = keys.delivery(d.appId, d.eventId, d.endpointId);
    const set = ['#s = :s', 'attempts = :a', 'requeues = :zero'];
    const remove = ['leaseToken', 'leaseUntil'];
    const values: Item = { ':s': u.status, ':a': u.attempts, ':zero': 0, ':tok': leaseToken };
    if (u.lastStatusCode !== undefined) {
      set.push('lastStatusCode = :c');
      values[':c'] = u.lastStatusCode;
    }
    if (u.lastAttemptAt !== undefined) {
      set.push('lastAttemptAt = :la');
      values[':la'] = u.lastAttemptAt;
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
    if (u.status === 'failed') {
      const failed = failedKeys(d);
      set.push('feedPk = :fpk', 'feedSk = :fsk');
      Object.assign(values, { ':fpk': failed.feedPk, ':fsk': failed.feedSk });
    }
    if (u.dueAt) {
      const open = openKeys(key, u.dueAt);
      set.push('dueAt = :due', 'openPk = :opk', 'openSk = :osk');
      Object.assign(values, { ':due': u.dueAt, ':opk': open.openPk, ':osk': open.openSk });
    } else {
      remove.push('dueAt', 'openPk', 'openSk');
    }
    return this.conditional(() =>
      this.db.send(
        new UpdateCommand({
          TableName: this.table,
          Key: key,
          UpdateExpression: `SET ${set.join(', ')} REMOVE ${remove.join(', ')}`,
          ConditionExpression: 'leaseToken = :tok',
          ExpressionAttributeNames: { '#s': 'status' },
          ExpressionAttributeValues: values,
        }),
      ),
    );
  }

  async skip(d: Delivery): Promise<void> {
    await this.conditional(() =>
      this.db.send(
        new UpdateCommand({
          TableName: this.table,
          Key: keys.delivery(d.appId, d.eventId, d.endpointId),
          UpdateExpression:
            'SET #s = :skipped, feedPk = :fpk, feedSk = :fsk REMOVE dueAt, openPk, openSk, nextAttemptAt, leaseToken, leaseUntil',
          ConditionExpression: '#s IN (:pending, :retrying)',
          ExpressionAttributeNames: { '#s': 'status' },
          ExpressionAttributeValues: {
            ':skipped': 'skipped',
            ':pending': 'pending',
            ':retrying': 'retrying',
            ':fpk': failedKeys(d).feedPk,
            ':fsk': failedKeys(d).feedSk,
          },
        }),
      ),
    );
  }

  async disableEndpoint(appId: string, endpointId: string, reason: string, at: string): Promise<void> {
    await this.conditional(() =>
      this.db.send(
        new UpdateCommand({
          TableName: this.table,
          Key: keys.endpoint(appId, endpointId),
          UpdateExpression:
            'SET enabled = :f, disabledReason = :r, updatedAt = :at, version = if_not_exists(version, :zero) + :one',
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeValues: { ':f': false, ':r': reason, ':at': at, ':zero': 0, ':one': 1 },
        }),
      ),
    );
  }

  async markEndpointFailing(appId: string, endpointId: string, at: string): Promise<void> {
    await this.conditional(() =>
      this.db.send(
        new UpdateCommand({
          TableName: this.table,
          Key: keys.endpoint(appId, endpointId),
          UpdateExpression: 'SET failingSince = :at',
          ConditionExpression: 'attribute_exists(pk) AND attribute_not_exists(failingSince)',
          ExpressionAttributeValues: { ':at': at },
        }),
      ),
    );
  }

  async markEndpointHealthy(appId: string, endpointId: string): Promise<void> {
    await this.conditional(() =>
      this.db.send(
        new UpdateCommand({
          TableName: this.table,
          Key: keys.endpoint(appId, endpointId),
          UpdateExpression: 'REMOVE failingSince',
          ConditionExpression: 'attribute_exists(failingSince)',
        }),
      ),
    );
  }
}
