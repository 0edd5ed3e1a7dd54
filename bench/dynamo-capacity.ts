/**
 * DynamoDB capacity accounting for the cost benchmark.
 *
 * The table's own request units come from DynamoDB itself: every request the handlers make is sent
 * with `ReturnConsumedCapacity: 'TOTAL'` and the emulator (dynalite) answers with what it consumed,
 * sized as DynamoDB sizes items (writes per started KB, the larger of the old and the new item for
 * an update; reads per started 4 KB, halved when eventually consistent).
 *
 * Index writes are not reported by dynalite (it returns the table's units only, never a
 * `GlobalSecondaryIndexes` entry), so they are computed here from the item's images before and
 * after each write, by DynamoDB's documented rules for a global secondary index:
 *   - item enters the index (its index keys appear): one write of the new index entry;
 *   - item leaves the index (a key attribute removed, or the item deleted): one write (a delete)
 *     of the old entry;
 *   - an index key changes: two writes, a delete of the old entry and a put of the new one;
 *   - keys unchanged but a projected attribute changes: one write of the new entry.
 * An index entry is what the index projects (topology.table.indexes): keys only, or the whole item.
 *
 * The images come from a shadow of every item the handlers wrote, kept from the writes themselves:
 * a put's item, an update's `ReturnValues: 'ALL_NEW'` (added to each UpdateItem), nothing after a
 * delete. No extra request is made, so the counts and the measured durations are undisturbed.
 */
import { createRequire } from 'node:module';
import { topology } from '../infra/topology';
import { BILLING_CHUNKS } from './prices';

/** An item in DynamoDB's wire form (`{ attr: { S: "..." } }`). */
export type WireItem = Record<string, Record<string, unknown>>;

const require = createRequire(import.meta.url);
// dynalite's own item sizing: the one its table capacity figures use, so table and index units agree.
const dynaliteDb = require('dynalite/db') as { itemSize(item: WireItem): number };

export const itemBytes = (item: WireItem): number => dynaliteDb.itemSize(item);

/** Write request units of one item write: per started KB, at least one. */
export const writeUnits = (item: WireItem | undefined): number =>
  item === undefined ? 1 : Math.max(1, Math.ceil(itemBytes(item) / BILLING_CHUNKS.dynamoWriteBytes));

type IndexSpec = (typeof topology.table.indexes)[keyof typeof topology.table.indexes];

/** The table's indexes as the topology (and so both the CDK stack and the local stack) defines them. */
export const INDEXES = Object.values(topology.table.indexes).map((i: IndexSpec) => ({
  name: i.name,
  pk: i.partitionKey,
  sk: i.sortKey,
  projection: i.projection as 'ALL' | 'KEYS_ONLY',
}));

/** What an index stores of an item: all of it, or its table and index keys only. */
export function indexEntry(item: WireItem, index: (typeof INDEXES)[number]): WireItem {
  if (index.projection === 'ALL') return item;
  const entry: WireItem = {};
  for (const attr of [topology.table.partitionKey, topology.table.sortKey, index.pk, index.sk]) {
    const v = item[attr];
    if (v !== undefined) entry[attr] = v;
  }
  return entry;
}

const str = (item: WireItem | undefined, attr: string): string | undefined => {
  const v = item?.[attr];
  return v === undefined ? undefined : JSON.stringify(v);
};

/** What one table write did to one index, in write units and in kind. */
export interface IndexWrite {
  index: string;
  kind: 'put' | 'delete' | 'move' | 'update' | 'none';
  units: number;
}

export function indexWrites(before: WireItem | undefined, after: WireItem | undefined): IndexWrite[] {
  return INDEXES.map((index) => {
    const { name, pk, sk } = index;
    const was = before !== undefined && str(before, pk) !== undefined && str(before, sk) !== undefined;
    const is = after !== undefined && str(after, pk) !== undefined && str(after, sk) !== undefined;
    if (!was && !is) return { index: name, kind: 'none', units: 0 };
    const old = was ? indexEntry(before, index) : undefined;
    const now = is ? indexEntry(after, index) : undefined;
    if (old && !now) return { index: name, kind: 'delete', units: writeUnits(old) };
    if (!old && now) return { index: name, kind: 'put', units: writeUnits(now) };
    if (str(before, pk) !== str(after, pk) || str(before, sk) !== str(after, sk)) {
      return { index: name, kind: 'move', units: writeUnits(old) + writeUnits(now) };
    }
    // Keys unchanged: the index is written only if a projected attribute changed.
    if (JSON.stringify(sorted(old)) === JSON.stringify(sorted(now))) return { index: name, kind: 'none', units: 0 };
    return { index: name, kind: 'update', units: writeUnits(now) };
  });
}

function sorted(item: WireItem | undefined): Array<[string, unknown]> {
  return Object.entries(item ?? {}).sort(([a], [b]) => a.localeCompare(b));
}

/** The item kind, from its sort key (see functions/shared/dynamo-table.ts). */
export function kindOf(key: WireItem | undefined): string {
  const sk = (key?.sk?.S as string | undefined) ?? '';
  const pk = (key?.pk?.S as string | undefined) ?? '';
  if (pk.startsWith('DLV#')) return 'delivery';
  if (pk.startsWith('EVENTS#')) return 'event';
  if (pk.startsWith('IDEM#')) return 'chosen id';
  if (pk.startsWith('ACTIVE#')) return 'activity marker';
  if (pk.startsWith('HK#')) return 'checkpoint';
  if (sk === '#APP') return 'app';
  if (sk === '#KEY') return 'api key';
  if (sk.startsWith('DLV#')) return 'delivery';
  if (sk.startsWith('TRY#')) return 'attempt';
  if (sk.startsWith('EP#')) return 'endpoint';
  if (sk.startsWith('KEY#')) return 'app key';
  return 'item';
}

/**
 * A readable name for an UpdateItem, from its expression. The names follow the adapters' methods
 * (the dynamo-* adapters under functions/); an expression not listed here is shown as it is written.
 */
export function updateName(input: { UpdateExpression?: string; ConditionExpression?: string }): string {
  const u = input.UpdateExpression ?? '';
  const c = input.ConditionExpression ?? '';
  if (u.includes('fannedOut')) return 'mark fanned out';
  if (u.includes('leaseToken = :tok')) return 'claim (lease)';
  if (c.includes('leaseToken = :tok')) return 'finish (result)';
  if (u.startsWith('SET #s = :s, attempts = :a')) return 'outcome (no lease: creates the record)';
  if (u.includes('failingSince')) return 'endpoint health';
  if (u.includes('#u = :u')) return 'reconcile checkpoint';
  if (u.includes(':skipped')) return 'skip';
  if (u.includes('enabled = :f')) return 'disable endpoint';
  if (u.includes('openSk = :to')) return 'housekeeping reschedule';
  if (c.includes('attribute_not_exists(openPk)')) return 'open a waiting retry (trailing reconcile)';
  if (u.includes('retryBase')) return 'restart (resend)';
  return u.length > 48 ? `${u.slice(0, 45)}...` : u;
}

/** Shadow images of the items written, by key. */
export class ItemShadow {
  private readonly items = new Map<string, WireItem>();

  private static id(key: WireItem): string {
    return `${JSON.stringify(key.pk)}\u0000${JSON.stringify(key.sk)}`;
  }

  get(key: WireItem): WireItem | undefined {
    return this.items.get(ItemShadow.id(key));
  }

  set(item: WireItem): void {
    this.items.set(ItemShadow.id(item), item);
  }

  delete(key: WireItem): void {
    this.items.delete(ItemShadow.id(key));
  }

  /** Every item whose key the predicate accepts (for storage estimates). */
  filter(predicate: (item: WireItem) => boolean): WireItem[] {
    return [...this.items.values()].filter(predicate);
  }
}
