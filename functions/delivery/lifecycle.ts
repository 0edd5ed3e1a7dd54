/**
 * The life of a delivery, in one place: its states, the message it travels in, its due times,
 * and when it may be attempted without a lease or restarted.
 *
 *   (no record) --first attempt--> succeeded | retrying | failed | skipped
 *   retrying --attempt--> succeeded | retrying | failed
 *   pending (re-driven, restarted) --attempt--> as above
 *   succeeded | failed | skipped --resend, recover, DLQ redrive--> pending
 *
 * A first attempt has no record of its own until it has a result: the event stands for its
 * pending deliveries (housekeeping reconciles events against their outcomes once they are late),
 * so the happy path writes the event once and the outcome once. Likewise a retry the scheduler
 * carries soon after its event is on no index: housekeeping reads it back once the event is
 * RETRY_RECONCILE_AFTER_S old, and only a retry still waiting then (its message lost) is re-sent.
 */
import {
  Status,
  type Attempt,
  type Delivery,
  type DeliveryOrder,
  type DeliveryStatus,
  type Endpoint,
  type StoredEvent,
} from '../shared/model';
import { MAX_ID_SHARDS } from '../shared/ids';
import { carriedShard } from '../shared/table-layout';

// The states themselves are declared with the delivery's record (shared/model.ts), which this
// module builds on; the rest of the code names them through here.
export { DELIVERY_STATUSES, Status, type DeliveryStatus } from '../shared/model';

/** States a worker may still attempt. */
export const ACTIVE_STATUSES: readonly DeliveryStatus[] = [Status.pending, Status.retrying];
/** States nothing happens to any more unless someone sends the delivery again. */
export const FINISHED_STATUSES: readonly DeliveryStatus[] = [Status.succeeded, Status.failed, Status.skipped];
/** The states `recover` sends again. */
export const RECOVERABLE_STATUSES: readonly DeliveryStatus[] = [Status.failed, Status.skipped];

export const isFinished = (s: DeliveryStatus) => FINISHED_STATUSES.includes(s);
export const isActive = (s: DeliveryStatus) => ACTIVE_STATUSES.includes(s);

/**
 * Waits up to this long are handed to the scheduler at once; a longer one waits on the open
 * index and housekeeping hands it over this long before it is due. It is SQS's delay limit (900 s,
 * DelaySeconds' maximum, which the SQS scheduler caps at): the scheduler carries any wait it is
 * given, but one beyond its limit costs it extra hops.
 */
export const SCHEDULER_HORIZON_S = 900;

/**
 * How old an event must be before housekeeping's trailing reconcile looks at its deliveries'
 * waiting retries (docs/data-model.md, "Reconciling short retries by reading"). A retry the
 * scheduler carries whose attempt plus a lease falls within this age of its event writes no
 * open-index entry (a put, then a delete at its outcome: two write units per retried delivery):
 * when the reconcile reads it, it is necessarily overdue, its message lost or its worker very
 * late. 20 minutes covers the default schedule's first two waits (5 s, 5 min, jittered) with a
 * 300 s lease when the first attempt was made within ~9 minutes of its event (one the first
 * reconcile re-drove a lease late included). The price: a lost short retry is found ~20 minutes
 * after its event instead of a lease after its due time.
 */
export const RETRY_RECONCILE_AFTER_S = 20 * 60;

/** The event in the message when its data is at most this long: the worker then reads no event. */
export const CARRIED_DATA_MAX_BYTES = 48 * 1024;

/** The body of every message on the work, retry and dead-letter queues. */
export interface DeliveryMessage {
  /** Format version. v1 messages (before the event travelled with them) are still read. */
  v: 1 | 2;
  appId: string;
  eventId: string;
  endpointId: string;
  /** The attempt this message asks for (1 = first). */
  attempt: number;
  /** The event's accept time: with the ids, the delivery's key. Absent on v1 messages. */
  eventAt?: string;
  /**
   * The event's shard, when its id does not name it (an id the producer chose, in an app with
   * several event shards): the delivery's record is in that shard's partition. Absent: the shard
   * the id names (0 for a chosen id), which is what every message meant before it was carried.
   */
  shard?: number;
  /**
   * The event, when its data is small enough to travel (see CARRIED_DATA_MAX_BYTES), marked when
   * it is a test event (send-example), so its delivery's record says so too.
   */
  event?: { type: string; dataJson: string; test?: true };
  /**
   * The endpoint's version when the event was accepted: the worker never acts on an older copy
   * (its short per-container cache included). Never the endpoint itself: secrets stay in the table.
   */
  endpointVersion?: number;
  /** Epoch milliseconds before which the attempt must not run (the scheduler may deliver it early). */
  notBefore?: number;
  /** Attempts made before the last send-again (Delivery.retryBase), carried by retries. */
  retryBase?: number;
  /** When the previous attempt (which failed) was made, carried by retries (endpoint health). */
  previousAttemptAt?: string;
  /**
   * Sent by housekeeping, a replay or a redrive rather than by the path that owns the delivery:
   * the worker then takes a lease before it sends, since the original may still be about.
   */
  redriven?: true;
  /** Set on messages the worker moves to the DLQ: why the delivery ended there. */
  reason?: string;
  /**
   * The isolation lane (functions/flow): the message travels on its queue, for an endpoint that
   * is throttled, paused, rate-limited or slow. Absent: the shared lanes (work, retry).
   */
  lane?: 'isolated';
  /**
   * A delivery flow control made wait (no attempt counted): when it was first due (epoch ms).
   * Whether its receive may skip the lease is judged from this, not from the later `notBefore`.
   */
  heldSince?: number;
  /** A rate token reserved for this delivery, due at this time (epoch ms): it sends without another. */
  ticket?: number;
  /** When flow control first made this attempt wait (epoch ms): a paused wait's retry window runs from it. */
  waitingSince?: number;
  /**
   * Set when the delivery is a strict endpoint's: it travels in the ordered lane, in the message
   * group of its endpoint and key (functions/ordering).
   */
  order?: DeliveryOrder;
}

export function isDeliveryMessage(x: unknown): x is DeliveryMessage {
  if (typeof x !== 'object' || x === null) return false;
  const m = x as Record<string, unknown>;
  const event = m.event as Record<string, unknown> | undefined;
  return (
    (m.v === 1 || m.v === 2) &&
    typeof m.appId === 'string' &&
    typeof m.eventId === 'string' &&
    typeof m.endpointId === 'string' &&
    typeof m.attempt === 'number' &&
    Number.isInteger(m.attempt) &&
    m.attempt >= 1 &&
    (m.eventAt === undefined || typeof m.eventAt === 'string') &&
    (m.shard === undefined ||
      (typeof m.shard === 'number' && Number.isInteger(m.shard) && m.shard >= 0 && m.shard < MAX_ID_SHARDS)) &&
    (m.notBefore === undefined || typeof m.notBefore === 'number') &&
    (m.endpointVersion === undefined || typeof m.endpointVersion === 'number') &&
    (m.retryBase === undefined || typeof m.retryBase === 'number') &&
    (m.previousAttemptAt === undefined || typeof m.previousAttemptAt === 'string') &&
    (m.lane === undefined || m.lane === 'isolated') &&
    (m.heldSince === undefined || typeof m.heldSince === 'number') &&
    (m.ticket === undefined || typeof m.ticket === 'number') &&
    (m.waitingSince === undefined || typeof m.waitingSince === 'number') &&
    (m.order === undefined ||
      (typeof m.order === 'object' &&
        m.order !== null &&
        ((m.order as { key?: unknown }).key === undefined ||
          typeof (m.order as { key?: unknown }).key === 'string'))) &&
    (event === undefined ||
      (typeof event.type === 'string' &&
        typeof event.dataJson === 'string' &&
        (event.test === undefined || event.test === true)))
  );
}

/** What identifies one delivery: the event (and its accept time, which orders it) and the endpoint. */
export interface DeliveryKey {
  appId: string;
  eventId: string;
  endpointId: string;
  /** The event's accept time (Delivery.createdAt). */
  eventAt: string;
  /** The event's shard, when its id does not name it (Delivery.shard, table-layout.ts carriedShard). */
  shard?: number;
}

export const keyOf = (d: Pick<Delivery, 'appId' | 'eventId' | 'endpointId' | 'createdAt' | 'shard'>): DeliveryKey => ({
  appId: d.appId,
  eventId: d.eventId,
  endpointId: d.endpointId,
  eventAt: d.createdAt,
  ...(d.shard !== undefined ? { shard: d.shard } : {}),
});

/** The key of an event's delivery to `endpointId`: in the event's shard (its record's truth). */
export const keyOfEventDelivery = (
  event: Pick<StoredEvent, 'appId' | 'id' | 'timestamp' | 'shard'>,
  endpointId: string,
): DeliveryKey => ({
  appId: event.appId,
  eventId: event.id,
  endpointId,
  eventAt: event.timestamp,
  ...carriedShard(event.id, event.shard),
});

/** The key of the delivery a message asks for, its event accepted at `eventAt`. */
export const keyOfMessage = (m: DeliveryMessage, eventAt: string): DeliveryKey => ({
  appId: m.appId,
  eventId: m.eventId,
  endpointId: m.endpointId,
  eventAt,
  ...(m.shard !== undefined ? { shard: m.shard } : {}),
});

// ---- records ----------------------------------------------------------------------------------

/** A delivery that has made no attempt yet: pending, or skipped when its endpoint is disabled. */
export function freshDelivery(key: DeliveryKey, eventType: string | undefined, skipped = false): Delivery {
  const d: Delivery = {
    appId: key.appId,
    eventId: key.eventId,
    endpointId: key.endpointId,
    status: skipped ? Status.skipped : Status.pending,
    attempts: 0,
    createdAt: key.eventAt,
  };
  if (key.shard !== undefined) d.shard = key.shard;
  if (eventType !== undefined) d.eventType = eventType;
  return d;
}

/**
 * Where a message that takes no lease finds its delivery: the message's own account (attempt
 * `n` means n - 1 made). The outcome write checks that this is still so.
 */
export function deliveryAsSent(m: DeliveryMessage, key: DeliveryKey): Delivery {
  const d = freshDelivery(key, m.event?.type);
  if (m.attempt > 1) Object.assign(d, { status: Status.retrying, attempts: m.attempt - 1 });
  if (m.previousAttemptAt !== undefined) d.lastAttemptAt = m.previousAttemptAt;
  if (m.retryBase) d.retryBase = m.retryBase;
  return d;
}

/** An operator redrove the DLQ: the worker's own dead letter for this very attempt came back. */
export const isDeadLetterRedrive = (m: DeliveryMessage, d: Delivery) =>
  m.reason !== undefined && d.status === Status.failed && d.attempts === m.attempt;

/** A delivery put back to pending for a new cycle of attempts (its schedule counts from here). */
export const restarted = (d: Delivery, dueAt: string): Delivery => ({
  ...d,
  status: Status.pending,
  retryBase: d.attempts,
  dueAt,
});

/** The next attempt's time, as the status view shows it (only while a retry waits). */
export const shownNextAttempt = (d: Delivery) => (d.status === Status.retrying ? (d.nextAttemptAt ?? null) : null);

/** When the delivery's previous attempt failed, if it did (a retry waits on it). */
export const previousFailureAt = (d: Delivery) => (d.status === Status.retrying ? d.lastAttemptAt : undefined);

/** A waiting retry's attempt time, if it has one. */
export const retryDueMs = (d: Delivery) =>
  d.status === Status.retrying && d.nextAttemptAt !== undefined ? Date.parse(d.nextAttemptAt) : undefined;

// ---- messages ---------------------------------------------------------------------------------

/** A strict delivery's place for an event: its key, or the endpoint's events without one. */
export const orderOf = (event: Pick<StoredEvent, 'orderingKey'>): DeliveryOrder =>
  event.orderingKey === undefined ? {} : { key: event.orderingKey };

/** Whether the event's delivery to `endpointId` was strict when the event was accepted. */
export const orderedAtAccept = (event: Pick<StoredEvent, 'orderedEndpointIds'>, endpointId: string) =>
  event.orderedEndpointIds?.includes(endpointId) === true;

/** Deliveries sorted by their events' accept time (then id): the order a key's line keeps. */
export const inAcceptOrder = <D extends Pick<Delivery, 'createdAt' | 'eventId'>>(ds: D[]): D[] =>
  [...ds].sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.eventId.localeCompare(b.eventId));

/** The first attempt, sent at accept time, with the event in it when it is small enough. */
export function firstAttemptMessage(
  event: StoredEvent,
  endpoint: Pick<Endpoint, 'id' | 'version' | 'ordering' | 'rateLimit' | 'throttle'>,
): DeliveryMessage {
  const m: DeliveryMessage = {
    v: 2,
    appId: event.appId,
    eventId: event.id,
    endpointId: endpoint.id,
    attempt: 1,
    eventAt: event.timestamp,
    ...carriedShard(event.id, event.shard),
    endpointVersion: endpoint.version,
  };
  // An endpoint flow control holds apart starts on the isolation lane (no hop through the shared one).
  if (endpoint.ordering === 'strict') m.order = orderOf(event);
  else if (endpoint.rateLimit || endpoint.throttle) m.lane = 'isolated';
  if (Buffer.byteLength(event.dataJson) <= CARRIED_DATA_MAX_BYTES) {
    m.event = { type: event.type, dataJson: event.dataJson, ...(event.test ? { test: true as const } : {}) };
  }
  return m;
}

/** The next attempt of a delivery whose attempt `attempt - 1` failed, due at `dueMs`. */
export function nextAttemptMessage(
  current: DeliveryMessage,
  d: Pick<Delivery, 'createdAt' | 'retryBase'>,
  attempt: number,
  dueMs: number,
  failedAt: string,
): DeliveryMessage {
  const { reason: _reason, redriven: _redriven, retryBase: _retryBase, ...rest } = withoutWait(current);
  const m: DeliveryMessage = {
    ...rest,
    v: 2,
    attempt,
    eventAt: d.createdAt,
    notBefore: dueMs,
    previousAttemptAt: failedAt,
  };
  if (d.retryBase) m.retryBase = d.retryBase;
  return m;
}

/** The message housekeeping, a replay or a DLQ redrive sends for a delivery's next attempt. */
export function redriveMessage(d: Delivery, notBefore?: number): DeliveryMessage {
  const m: DeliveryMessage = {
    v: 2,
    appId: d.appId,
    eventId: d.eventId,
    endpointId: d.endpointId,
    attempt: d.attempts + 1,
    eventAt: d.createdAt,
    redriven: true,
  };
  if (d.shard !== undefined) m.shard = d.shard;
  if (notBefore !== undefined) m.notBefore = notBefore;
  if (d.order) m.order = d.order;
  return m;
}

/** The message moved to the DLQ when a delivery ends failed. */
export function deadLetterMessage(current: DeliveryMessage, attempt: number, reason: string): DeliveryMessage {
  const { event: _event, notBefore: _notBefore, redriven: _redriven, ...rest } = withoutWait(current);
  return { ...rest, attempt, reason };
}

/** A message without what a flow-control wait put on it: the next attempt's waits start afresh. */
function withoutWait(m: DeliveryMessage): DeliveryMessage {
  const { heldSince: _heldSince, ticket: _ticket, lane: _lane, waitingSince: _waitingSince, ...rest } = m;
  return rest;
}

// ---- due times --------------------------------------------------------------------------------

const iso = (ms: number) => new Date(ms).toISOString();

export interface LifecycleTimes {
  /** How long a worker holds an attempt; also how late work may be before housekeeping acts. */
  leaseS: number;
}

export function lifecycle({ leaseS }: LifecycleTimes) {
  const leaseMs = leaseS * 1000;
  return {
    leaseMs,
    leaseUntil: (now: Date) => iso(now.getTime() + leaseMs),

    /**
     * A first attempt that has no outcome this long after its event was accepted is late:
     * housekeeping gives it a record on the open index and sends it again.
     */
    firstAttemptLateBefore: (now: Date) => iso(now.getTime() - leaseMs),

    /** When housekeeping looks again at work it (re)sends now: one lease from now. */
    redrivenDueAt: (now: Date) => iso(now.getTime() + leaseMs),

    /**
     * When housekeeping looks again at a future attempt (due at `dueMs`) it has just handed to the
     * scheduler: one lease after it, in case that message is lost.
     */
    plannedDueAt: (dueMs: number) => iso(dueMs + leaseMs),

    /**
     * How a retry due at `dueMs`, of an event accepted at `eventAt`, waits. Within the scheduler's
     * horizon it is handed to the scheduler now, and, should the message be lost, either
     * - found by the trailing reconcile (`dueAt` null: no open-index entry), when its attempt plus
     *   a lease comes before the reconcile reads the event (RETRY_RECONCILE_AFTER_S after it), so
     *   that what the reconcile finds is overdue by construction; or
     * - due on the open index one lease after its attempt (a retry long after its event: a later
     *   one, or one after a resend or redrive).
     * Beyond the horizon it waits only on the open index, due one horizon before the attempt, when
     * housekeeping hands it to the scheduler.
     */
    retryWait(now: Date, dueMs: number, eventAt: string): { scheduleNow: boolean; dueAt: string | null } {
      const scheduleNow = dueMs - now.getTime() <= SCHEDULER_HORIZON_S * 1000;
      if (!scheduleNow) return { scheduleNow, dueAt: iso(dueMs - SCHEDULER_HORIZON_S * 1000) };
      const reconciledByReading = dueMs + leaseMs <= Date.parse(eventAt) + RETRY_RECONCILE_AFTER_S * 1000;
      return { scheduleNow, dueAt: reconciledByReading ? null : iso(dueMs + leaseMs) };
    },

    /**
     * The events whose waiting retries housekeeping's trailing reconcile may read now: those
     * accepted before this (every retry without an open-index entry among them is overdue).
     */
    retriesReconciledBefore: (now: Date) => iso(now.getTime() - RETRY_RECONCILE_AFTER_S * 1000),

    /** Whether housekeeping should hand a waiting retry to the scheduler now (it is within the horizon). */
    withinHorizon: (now: Date, dueMs: number) => dueMs - now.getTime() <= SCHEDULER_HORIZON_S * 1000,

    /**
     * Whether this receive of a message may attempt without taking a lease first. Only the path
     * that owns a delivery sends its messages (ingest the first attempt, the worker its retries),
     * and housekeeping touches it only once it is a lease late, so on the first receive of such a
     * message, well inside that lease, nothing else can hold it. The rest (a receive after a
     * worker died, a re-driven message, a late one) leases. What remains is SQS delivering one
     * message twice at once, and a crash between the POST and the outcome write: see
     * docs/data-model.md, "Duplicate POSTs".
     */
    mayAttemptWithoutLease(m: DeliveryMessage, receiveCount: number, now: Date): boolean {
      if (m.redriven || m.reason !== undefined || receiveCount !== 1 || m.eventAt === undefined) return false;
      // A delivery flow control deferred is owned as from when it was first due.
      const dueMs = m.heldSince ?? m.notBefore ?? Date.parse(m.eventAt);
      // Inside the first half of the lease: a worker's attempt (its function times out well
      // before) ends long before housekeeping may act at the lease's end.
      return now.getTime() - dueMs < leaseMs / 2;
    },
  };
}

export type Lifecycle = ReturnType<typeof lifecycle>;

/**
 * Whether a send-again (resend, recover, DLQ redrive) may restart a delivery: it is finished, or
 * it waits for a retry with no live lease.
 */
export function mayRestart(d: Pick<Delivery, 'status' | 'leaseUntil'>, now: Date): boolean {
  if (isFinished(d.status)) return true;
  return d.status === Status.retrying && (d.leaseUntil === undefined || d.leaseUntil < now.toISOString());
}

// ---- the ports every use case sends through -----------------------------------------------------

/**
 * Where attempts are sent: `now` for attempts to run at once (the work queue), `at` for one at a
 * later time (the retry queue). The adapter carries any wait: one longer than its own limit
 * arrives early, with `notBefore` set, and the worker hands it back for the rest.
 */
export interface DeliveryScheduler {
  now(messages: DeliveryMessage[]): Promise<void>;
  at(message: DeliveryMessage, at: Date): Promise<void>;
}

export interface DeadLetterQueue {
  send(message: DeliveryMessage): Promise<void>;
}

/** A delivery's successful attempt, which is kept on the delivery rather than as a record. */
export function successAttempt(d: Delivery): Attempt[] {
  if (d.status !== Status.succeeded || !d.success || d.lastAttemptAt === undefined) return [];
  return [
    {
      appId: d.appId,
      eventId: d.eventId,
      endpointId: d.endpointId,
      attempt: d.attempts,
      at: d.lastAttemptAt,
      statusCode: d.lastStatusCode ?? null,
      durationMs: d.success.durationMs,
      outcome: 'succeeded',
      error: null,
      responseExcerpt: d.success.responseExcerpt,
    },
  ];
}
