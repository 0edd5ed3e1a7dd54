/**
 * The work queue's shards (docs/flow-control.md "Shards"): an app's first attempts all go to one
 * shard, chosen by a stable hash of its id, and each shard has event source slots of its own. An
 * endpoint that hangs can then hold only its own shard's slots while the flow gate learns it is
 * slow; the apps of every other shard are not delayed at all. An app's deliveries of one event
 * share a shard, so a fan-out is still sent ten messages a request.
 */
import { hashShard } from '../shared/hash-shard';

/** The shard, 0 to `shards` - 1, whose queue carries `appId`'s first attempts. */
export const workShardOf = (appId: string, shards: number): number => hashShard(appId, shards);
