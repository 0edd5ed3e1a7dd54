/**
 * The table's shape: its key attributes, its indexes and the open-index shard count. The data
 * layout is the code's (keys are built to it), so it lives here and the stack (infra/constructs/
 * store.ts) builds the table from it; the table's name is the deployment's (HOOKRELAY_TABLE_NAME).
 */
export const TABLE_LAYOUT = {
  partitionKey: 'pk',
  sortKey: 'sk',
  /** Epoch seconds after which DynamoDB TTL may delete an item (events, attempts). */
  ttlAttribute: 'expiresAt',
  /**
   * Both indexes project keys only: an index entry then costs one write unit whatever the
   * item's size, and updates to other attributes (a delivery's status, an event's fan-out flag)
   * do not rewrite it. Readers fetch the items they find with one BatchGetItem.
   */
  indexes: {
    /** Catch-up feed (an app's events, oldest first) and an endpoint's failed deliveries. */
    feed: { name: 'feed', partitionKey: 'feedPk', sortKey: 'feedSk', projection: 'KEYS_ONLY' },
    /** Sparse index of work that is not finished yet, by due time, swept by housekeeping. */
    open: { name: 'open', partitionKey: 'openPk', sortKey: 'openSk', projection: 'KEYS_ONLY' },
  },
  /**
   * Shards of the open-deliveries index, so that its writes spread over partitions: each takes
   * ~1,000 writes/s and a delivery writes its entry twice, so 32 shards carry ~16,000
   * deliveries/s (docs/performance.md). Housekeeping reads every shard once a run. Changing it
   * moves where items are written: a data migration, not a setting.
   */
  openShards: 32,
} as const;
