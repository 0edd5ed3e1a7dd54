/** The open index: what is overdue, and moving it forward exactly once. */
import { QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { HousekeepingStore, OpenItem } from '../../core/housekeeping';
import { DynamoTable, T, keys, openKeys, toDelivery, type Item } from './table';

export class DynamoHousekeepingStore extends DynamoTable implements HousekeepingStore {
  // ---- housekeeping -------------------------------------------------------------------------

  async listDue(cutoff: string, limit: number): Promise<OpenItem[]> {
    const perShard = await Promise.all(
      Array.from({ length: T.openShards }, (_, shard) =>
        this.db.send(
          new QueryCommand({
            TableName: this.table,
            IndexName: T.indexes.open.name,
            KeyConditionExpression: 'openPk = :p AND openSk < :cut',
            ExpressionAttributeValues: { ':p': `OPEN#${shard}`, ':cut': cutoff },
            Limit: limit,
          }),
        ),
      ),
    );
    const refs = perShard.flatMap((out) => (out.Items as Item[] | undefined) ?? []);
    refs.sort((a, b) => String(a.openSk).localeCompare(String(b.openSk)));
    // Strongly consistent: the item's current due time is what rescheduleDue will compare with.
    const items = await this.fetchItems(refs.slice(0, limit), true);
    return items
      .filter((i) => typeof i.openSk === 'string' && i.openSk < cutoff)
      .filter((i) => i.kind === 'delivery')
      .map((i): OpenItem => ({ dueAt: String(i.openSk).split('#')[0] ?? '', delivery: toDelivery(i) }));
  }

  async rescheduleDue(
    item: OpenItem,
    toDueAt: string,
    opts: { clearLease?: boolean; planned?: boolean } = {},
  ): Promise<boolean> {
    const key = keys.delivery(item.delivery.appId, item.delivery.eventId, item.delivery.endpointId);
    const from = openKeys(key, item.dueAt);
    const to = openKeys(key, toDueAt);
    const set = ['dueAt = :due', 'openSk = :to'];
    if (!opts.planned) set.push('requeues = if_not_exists(requeues, :zero) + :one');
    const remove = opts.clearLease ? ' REMOVE leaseToken, leaseUntil' : '';
    return this.conditional(() =>
      this.db.send(
        new UpdateCommand({
          TableName: this.table,
          Key: key,
          UpdateExpression: `SET ${set.join(', ')}${remove}`,
          ConditionExpression: 'openSk = :from',
          ExpressionAttributeValues: {
            ':due': toDueAt,
            ':to': to.openSk,
            ':from': from.openSk,
            ...(!opts.planned ? { ':zero': 0, ':one': 1 } : {}),
          },
        }),
      ),
    );
  }
}
