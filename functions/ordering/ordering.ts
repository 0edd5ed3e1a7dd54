/**
 * Ordered delivery (docs/ordering.md): what an ordering key is, how a strict delivery is named
 * in its FIFO lane, and the held keys (a key whose head has failed an attempt and waits).
 *
 * A strict endpoint receives the events that share an `orderingKey` one at a time, in accept
 * order. The order lives in an SQS FIFO queue, one message group per (endpoint, key); the table
 * says whether a delivery is finished and when it may be attempted (ordered-delivery.ts).
 */
import { createHash } from 'node:crypto';
import type { DeliveryKey, DeliveryMessage } from '../delivery/lifecycle';

/** An ordering key: 1-128 characters of `[A-Za-z0-9._:/-]` (the contract's). */
export const ORDERING_KEY_PATTERN = /^[A-Za-z0-9._:/-]{1,128}$/;

export const ORDERING_MODES = ['none', 'strict'] as const;
export type OrderingMode = (typeof ORDERING_MODES)[number];

/**
 * The open-index due time of an unfinished strict delivery's record. Scheduled housekeeping runs
 * never reach it (its FIFO message holds its place and SQS keeps it); a recover pass, which takes
 * every open item, does, and sends the key's deliveries again in accept order.
 */
export const PARKED_DUE_AT = '9000-01-01T00:00:00.000Z';

/** SQS's limit on a MessageGroupId. */
const GROUP_ID_MAX = 128;

/**
 * The FIFO message group of a strict delivery: one per (endpoint, key); events without a key
 * share their endpoint's. A key's characters are all allowed in a group id; a pair too long for
 * SQS's 128 characters uses the key's hash (`#` is not an ordering-key character, so the two
 * forms never meet).
 */
export function messageGroupOf(endpointId: string, key: string | undefined): string {
  if (key === undefined) return endpointId;
  const plain = `${endpointId}/${key}`;
  if (plain.length <= GROUP_ID_MAX) return plain;
  return `${endpointId}/#${createHash('sha256').update(key).digest('base64url')}`;
}

/**
 * The FIFO deduplication id of a message: one per (delivery, attempt cycle's attempt). SQS drops a
 * second send within 5 minutes, so a re-send that may duplicate one already queued (a replayed
 * request, a reconcile) costs nothing and does not take a second place in the line.
 */
export function deduplicationIdOf(m: Pick<DeliveryMessage, 'appId' | 'eventId' | 'endpointId' | 'attempt'>): string {
  return createHash('sha256').update(`${m.appId}\n${m.eventId}\n${m.endpointId}\n${m.attempt}`).digest('hex');
}

/** A key whose head failed an attempt and waits for the next: what holds it, and since when. */
export interface HeldKey {
  appId: string;
  endpointId: string;
  /** Absent: the endpoint's sequence of events without a key. */
  orderingKey?: string | undefined;
  /** The head: the delivery of this event holds the key. */
  eventId: string;
  eventAt: string;
  /** The head's event's shard, when its id does not name it (DeliveryKey.shard). */
  shard?: number;
  attempts: number;
  nextAttemptAt: string;
  lastError: string | null;
  /** When its first failed attempt was made (set once). */
  since?: string | undefined;
  /** The head's current receive, which the skip route makes visible again at once. */
  receiptHandle?: string | undefined;
}

/** Where held keys are kept (the table: one small item per held key). */
export interface HeldKeyStore {
  /** Records (or refreshes) the key's head after a failed attempt. */
  put(h: HeldKey): Promise<void>;
  /** Keeps the head's newest receipt handle (a wait longer than one hold). */
  touch(key: DeliveryKey, orderingKey: string | undefined, receiptHandle: string): Promise<void>;
  /** The key moved on: its head finished. */
  clear(key: DeliveryKey, orderingKey: string | undefined): Promise<void>;
  get(appId: string, endpointId: string, orderingKey: string | undefined): Promise<HeldKey | null>;
  /** An endpoint's held keys, oldest key first by head, up to `limit`. */
  list(appId: string, endpointId: string, limit: number): Promise<HeldKey[]>;
}
