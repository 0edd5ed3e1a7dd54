import { randomBytes } from 'node:crypto';

const CROCKFORD = '0123456789abcdefghjkmnpqrstvwxyz';

/**
 * A sortable, unguessable id: `<prefix>_` + 10 chars of millisecond time + 16 random chars
 * (Crockford base32, ULID layout). Time-ordered ids keep lists and logs in creation order.
 * An event written to shard `shard` > 0 of its app's partitions (table-layout.ts) carries the
 * shard as one more character, so that its key follows from its id alone, whatever the app's
 * shard count is later; an event of shard 0 (every event of an app with one shard) has the plain
 * shape.
 */
export function newId(prefix: string, now: number = Date.now(), shard = 0): string {
  let time = '';
  let t = now;
  for (let i = 0; i < 10; i++) {
    time = CROCKFORD[t % 32] + time;
    t = Math.floor(t / 32);
  }
  const rnd = randomBytes(10);
  let bits = 0;
  let value = 0;
  let random = '';
  for (const byte of rnd) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      random += CROCKFORD[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (!Number.isInteger(shard) || shard < 0 || shard >= CROCKFORD.length) throw new RangeError(`bad shard ${shard}`);
  return `${prefix}_${time}${random}${shard > 0 ? CROCKFORD[shard] : ''}`;
}

const GENERATED = /^[a-z]+_([0-9a-hjkmnp-tv-z]{10})[0-9a-hjkmnp-tv-z]{16}([1-9a-hjkmnp-tv-z])?$/;

/** Shards an id can name: one base32 character. */
export const MAX_ID_SHARDS = CROCKFORD.length;

/**
 * The shard written in an id `newId` made (0 for the plain shape), or undefined for any other id.
 * Like the time, a hint for an id a client chose: readers check.
 */
export function shardOfId(id: string): number | undefined {
  const m = GENERATED.exec(id);
  if (!m) return undefined;
  return m[2] === undefined ? 0 : CROCKFORD.indexOf(m[2]);
}

/**
 * The creation time (epoch ms) written in an id `newId` made, or undefined for any other id.
 * A client may choose an id of the same shape: readers treat the time as a hint and check.
 */
export function timeOfId(id: string): number | undefined {
  const m = GENERATED.exec(id);
  if (!m) return undefined;
  let t = 0;
  for (const c of m[1]!) t = t * 32 + CROCKFORD.indexOf(c);
  return t <= 8.64e15 ? t : undefined;
}

/** Ids a client may choose for an event: safe in a header, a URL segment and a table key. */
export const EVENT_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/;
