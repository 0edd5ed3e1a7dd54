import { createHash } from 'node:crypto';

/**
 * A stable shard, 0 to `shards` - 1, of `key`: the first 32 bits of its SHA-1, modulo `shards`.
 * The table's activity and open-index partitions and the work queue's shards all spread by it.
 */
export function hashShard(key: string, shards: number): number {
  if (shards <= 1) return 0;
  return createHash('sha1').update(key).digest().readUInt32BE(0) % shards;
}
