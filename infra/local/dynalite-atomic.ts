/**
 * Makes each of dynalite's item writes one atomic LevelDB batch.
 *
 * dynalite (4.0.0) stores an item and each of its index entries under separate LevelDB keys, and
 * writes them one by one: the old index entries are deleted, the new ones put, then the item.
 * A process killed between two of those writes (SIGKILL, a crash, a laptop that dies) reopens
 * with an item and its index disagreeing for good: an item whose open-index entry is gone, or an
 * entry describing a state the item never reached. On DynamoDB an item and its GSI entries never
 * disagree for long; hookrelay relies on that, because housekeeping finds unfinished work through
 * the open index only, so such a crash silently lost deliveries (the SIGKILL fault test found
 * them stuck `pending` after restarts).
 *
 * The fix is at dynalite's own seam: `db.updateIndexes` (called by PutItem, UpdateItem and
 * DeleteItem, with the item's lock held, right before the item's own put or del) now only
 * computes the index writes, and the item write that follows sends them and itself as one batch.
 * LevelDB applies a batch entirely or not at all, also after a crash.
 *
 * This depends on dynalite internals (the `dynalite/db` module, its key prefixes); the crash
 * tests in test/faults pin it.
 */
import { createRequire } from 'node:module';

type Callback = (err?: Error | null) => void;
type BatchOp = { type: 'put'; key: string; value: unknown } | { type: 'del'; key: string };

interface Table {
  TableName: string;
  LocalSecondaryIndexes?: unknown[];
  GlobalSecondaryIndexes?: unknown[];
}

interface IndexAction {
  index: string;
  key: string;
  item?: unknown;
}

interface SubDb {
  put(key: string, value: unknown, cb: Callback): void;
  del(key: string, cb: Callback): void;
}

interface Store {
  db: { batch(ops: BatchOp[], cb: Callback): void };
  getItemDb(name: string): SubDb;
  /** Index writes waiting for their item's write, by `<table>\0<item key>`. A string key, so
   * that dynalite's `recreate()` (which copies a fresh store's keys) carries it along. */
  hookrelayPendingIndexWrites?: Map<string, BatchOp[]>;
}

interface DynaliteDb {
  create(options: unknown): Store;
  updateIndexes(store: Store, table: Table, existing: unknown, item: unknown, cb: Callback): void;
  getIndexActions(
    indexes: unknown[],
    existing: unknown,
    item: unknown,
    table: Table,
  ): { puts: IndexAction[]; deletes: IndexAction[] };
  createKey(item: unknown, table: Table): string;
  hookrelayAtomic?: true;
}

// dynalite's LevelDB key layout (db/index.js, getSubDb): `<sub-db name>~<key>`.
const itemKey = (table: string, key: string) => `item-${table}~${key}`;
const indexKey = (type: 'Local' | 'Global', table: string, index: string, key: string) =>
  `index-${type.toLowerCase()}~${table}~${index}~${key}`;

/** Patches the dynalite module in this process, once; call before creating a dynalite server. */
export function makeDynaliteWritesAtomic(): void {
  const db = createRequire(import.meta.url)('dynalite/db') as DynaliteDb;
  if (db.hookrelayAtomic) return;
  db.hookrelayAtomic = true;

  const { create, updateIndexes } = db;

  db.create = (options) => {
    const store = create(options);
    const pending = new Map<string, BatchOp[]>();
    store.hookrelayPendingIndexWrites = pending;
    const getItemDb = store.getItemDb;
    const wrapped = new WeakMap<SubDb, SubDb>();

    store.getItemDb = (name) => {
      const inner = getItemDb(name);
      let outer = wrapped.get(inner);
      if (!outer) {
        // Everything else (get, streams, the per-key lock) is the inner sub-db's.
        const wrapper = Object.create(inner) as SubDb;
        const write = (key: string, op: BatchOp, plain: () => void, cb: Callback) => {
          const indexOps = pending.get(`${name}\0${key}`);
          if (!indexOps) return plain();
          pending.delete(`${name}\0${key}`);
          store.db.batch([...indexOps, op], cb);
        };
        wrapper.put = (key, value, cb) =>
          write(key, { type: 'put', key: itemKey(name, key), value }, () => inner.put(key, value, cb), cb);
        wrapper.del = (key, cb) => write(key, { type: 'del', key: itemKey(name, key) }, () => inner.del(key, cb), cb);
        wrapped.set(inner, wrapper);
        outer = wrapper;
      }
      return outer;
    };
    return store;
  };

  db.updateIndexes = (store, table, existing, item, cb) => {
    const pending = store.hookrelayPendingIndexWrites;
    if (!pending || (!existing && !item)) return updateIndexes(store, table, existing, item, cb);
    const deletes: BatchOp[] = [];
    const puts: BatchOp[] = [];
    for (const type of ['Local', 'Global'] as const) {
      const actions = db.getIndexActions(table[`${type}SecondaryIndexes`] ?? [], existing, item, table);
      for (const a of actions.deletes)
        deletes.push({ type: 'del', key: indexKey(type, table.TableName, a.index, a.key) });
      for (const a of actions.puts)
        puts.push({ type: 'put', key: indexKey(type, table.TableName, a.index, a.key), value: a.item });
    }
    // Deletes before puts, as dynalite orders them: an entry whose key did not change is rewritten.
    if (deletes.length + puts.length > 0) {
      pending.set(`${table.TableName}\0${db.createKey(item ?? existing, table)}`, [...deletes, ...puts]);
    }
    setImmediate(cb);
  };
}
