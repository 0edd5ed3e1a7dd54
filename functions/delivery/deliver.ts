/**
 * One delivery attempt, from a queue message to a recorded outcome, in four steps:
 *   prepare  what to send and to whom (the event from the message, the endpoint from a short
 *            cache), and whether this receive may send at all (dedupe; a lease unless nothing
 *            else can hold the delivery);
 *   attempt  sign and send the webhook, and classify what came back;
 *   decide   succeeded, retry at a time, or failed (pure: the retry policy);
 *   apply    record it: the attempt, the endpoint's health, the outcome (conditional, so a
 *            duplicate never records twice), then the retry or the dead letter.
 *
 * The table is the truth: an outcome is written before the message that follows from it is
 * sent, and every unfinished delivery is either waiting on the open index or stood for by its
 * event, which housekeeping reads back once it is late: before its first outcome, and while a
 * retry soon after the event waits (lifecycle.ts, RETRY_RECONCILE_AFTER_S).
 */
import { randomUUID } from 'node:crypto';
import type { EndpointHealth } from '../endpoints/endpoint-health';
import {
  deadLetterMessage,
  deliveryAsSent,
  freshDelivery,
  isDeadLetterRedrive,
  isFinished,
  keyOfMessage,
  orderOf,
  previousFailureAt,
  restarted,
  Status,
  nextAttemptMessage,
  redriveMessage,
  type DeadLetterQueue,
  type DeliveryKey,
  type DeliveryMessage,
  type DeliveryScheduler,
  type DeliveryStatus,
  type Lifecycle,
} from './lifecycle';
import type { Attempt, Delivery, DeliveryOrder, Endpoint, StoredEvent } from '../shared/model';
import { classify, type Classified } from '../webhook/outcome';
import { parseRetryAfter, type RetryPolicy } from './retry-policy';
import { sendWebhook, type AccessTokens, type WebhookSender } from '../webhook/webhook';
import type { Admission, FlowGate, FlowSignal, WaitReason } from '../flow/gate';
import type { StoredThrottle, ThrottleStore } from '../flow/throttle';
import { PARKED_DUE_AT } from '../ordering/ordering';

export interface DeliveryUpdate {
  status: DeliveryStatus;
  eventType: string;
  attempts: number;
  lastStatusCode: number | null;
  lastAttemptAt: string;
  nextAttemptAt: string | null;
  /** The successful attempt's details (it has no attempt record of its own). */
  success?: { durationMs: number; responseExcerpt: string | null };
  /** A test event's delivery (send-example): the endpoint's log marks it. */
  test?: true;
  /** A strict endpoint's delivery: its record keeps its key, for housekeeping and replays. */
  order?: DeliveryOrder;
  /**
   * When housekeeping should look again (on the open index); null once finished, and while a
   * retry soon after its event waits (the trailing reconcile reads it back).
   */
  dueAt: string | null;
}

/** A wait flow control imposed (no attempt made): the status stays, or ends failed past the retry window. */
export interface ParkUpdate {
  status: DeliveryStatus;
  eventType: string;
  nextAttemptAt: string | null;
  /** When housekeeping should look again (on the open index); null once failed. */
  dueAt: string | null;
  /** Why it failed when no attempt says so (the event status shows it). */
  reason?: string;
}

/**
 * How an outcome write proves it is the one that may record: the lease it took, or (a receive
 * that took none) that the delivery is still where the message found it: `attempt - 1` attempts
 * made, still active, and no one holding a live lease.
 */
export type FinishGuard = { leaseToken: string } | { unleased: { attempt: number; now: string } };

/** What the worker reads of the events (the event store). */
export interface DeliveryEvents {
  /** The event, strongly consistent (for messages that do not carry its accept time). */
  getEvent(appId: string, eventId: string): Promise<StoredEvent | null>;
  /**
   * The event by its accept time (which v2 messages carry), in shard `shard` when the message
   * names it (an id the producer chose): one read.
   */
  getEventAt(appId: string, eventId: string, eventAt: string, shard?: number): Promise<StoredEvent | null>;
}

/** What the worker reads and writes of the deliveries' records (the delivery store). */
export interface DeliveryStore {
  /** The delivery's record, strongly consistent; null when it has none yet. */
  getDelivery(key: DeliveryKey): Promise<Delivery | null>;
  /**
   * Takes the lease on attempt `attempt` (creating the record of a first attempt that has none);
   * false when another worker holds it or the attempt already happened.
   */
  claim(key: DeliveryKey, attempt: number, lease: { token: string; until: string }, now: string): Promise<boolean>;
  recordAttempt(attempt: Attempt): Promise<void>;
  /** Writes the attempt's outcome if the guard holds; false otherwise (nothing written). */
  finish(key: DeliveryKey, guard: FinishGuard, update: DeliveryUpdate): Promise<boolean>;
  /**
   * Records a wait flow control imposed (no attempt counted), or the failure of a delivery whose
   * retry window ended while it waited, if the guard holds; false otherwise (nothing written).
   */
  park(key: DeliveryKey, guard: FinishGuard, update: ParkUpdate): Promise<boolean>;
  /** Records the delivery skipped without an attempt (its endpoint is disabled or deleted). */
  skip(key: DeliveryKey, eventType: string, order?: DeliveryOrder): Promise<void>;
  /** Puts a finished (or waiting, unleased) delivery back to pending; false if it may not restart. */
  restartDelivery(d: Delivery, dueAt: string, now: string): Promise<boolean>;
}

export interface EndpointSource {
  /**
   * The endpoint, no older than `minVersion` when given (a short per-container cache may answer);
   * `'latest'` reads it afresh, consistently, past the cache.
   */
  endpointForDelivery(appId: string, endpointId: string, minVersion?: number | 'latest'): Promise<Endpoint | null>;
}

export interface DeliveryObserver {
  attempted?(a: Attempt, ctx: { event: StoredEvent }): void;
  /** Flow control made a delivery wait (no attempt counted), or moved it to the isolation lane. */
  deferred?(reason: WaitReason | 'slow', waitMs: number): void;
  /** Flow control changed an endpoint's state (written on its record); null: back to normal. */
  throttleChanged?(endpoint: Endpoint, throttle: StoredThrottle | null): void;
  /** Writing a state change failed (the gate here still knows it; other containers learn later). */
  flowError?(err: unknown): void;
  finished?(status: DeliveryStatus, ctx: { event: StoredEvent; attempts: number; at: Date }): void;
  retried?(delayMs: number): void;
}

export interface DeliverDeps {
  events: DeliveryEvents;
  store: DeliveryStore;
  endpoints: EndpointSource;
  health: EndpointHealth;
  sender: WebhookSender;
  /** OAuth2 client-credentials tokens, for endpoints whose auth needs them. */
  tokens?: AccessTokens;
  scheduler: DeliveryScheduler;
  deadLetters: DeadLetterQueue;
  policy: RetryPolicy;
  life: Lifecycle;
  timeoutMs: number;
  userAgent: string;
  now?: () => Date;
  observer?: DeliveryObserver;
  /**
   * Flow control (functions/flow): this container's gate and where its state changes are
   * written. Without it every attempt goes at once, as before.
   */
  flow?: { gate: FlowGate; throttles: ThrottleStore };
  /** Waits a reserved rate token's last fraction of a second (injectable for tests). */
  sleep?: (ms: number) => Promise<void>;
}

/** Why a message produced no attempt, or what the attempt led to; for logs and tests. */
export type DeliverOutcome =
  | 'hopped'
  /** Flow control made it wait, or moved it to the isolation lane: no attempt made or counted. */
  | 'deferred'
  /** A strict endpoint's delivery, handed to its key's line (the ordered lane). */
  | 'forwarded'
  | 'missing'
  | 'duplicate'
  | 'contended'
  | 'lease_lost'
  | typeof Status.skipped
  | typeof Status.succeeded
  | typeof Status.retrying
  | typeof Status.failed;

/** Everything an attempt needs, once prepare has decided it may go ahead. */
interface Prepared {
  message: DeliveryMessage;
  event: StoredEvent;
  endpoint: Endpoint;
  delivery: Delivery;
  key: DeliveryKey;
  attemptNo: number;
  guard: FinishGuard;
  at: Date;
  /** The gate's go-ahead (its timeout budget, a probe), when flow control is on. */
  admission?: Extract<Admission, { go: true }>;
}

interface Tried {
  attempt: Attempt;
  verdict: Classified;
  done: Date;
  /** Unanswered within the attempt's timeout. */
  timedOut: boolean;
}

/**
 * How close to the end of its owner's half-lease a message-only wait may end: beyond it, the
 * wait is written on the delivery (DeliveryStore.park) so housekeeping does not take it for lost.
 */
const OWNERSHIP_MARGIN_MS = 10_000;

/** What an attempt's classified result says to flow control. */
export function flowSignal(
  verdict: Classified,
  durationMs: number,
  timedOut: boolean,
  done: Date,
  firstAttempt = false,
): FlowSignal {
  switch (verdict.outcome) {
    case 'succeeded':
      return { kind: 'success', durationMs };
    case 'retryable':
      if (verdict.statusCode === 429 || verdict.statusCode === 503) {
        const retryAfterS = parseRetryAfter(verdict.retryAfterHeader, done);
        return {
          kind: 'congested',
          statusCode: verdict.statusCode,
          durationMs,
          ...(retryAfterS === undefined ? {} : { retryAfterS }),
        };
      }
      return { kind: 'failed', error: verdict.error ?? 'failed', timeout: timedOut, durationMs, firstAttempt };
    default:
      return { kind: 'neutral' };
  }
}

/** What an attempt leads to: done, another attempt at a time, or giving up. */
type Decision =
  { kind: 'done' } | { kind: 'retry'; dueMs: number; delayMs: number } | { kind: 'give_up'; reason: string };

/** The event a message carries, or null when the worker has to read it. */
function carriedEvent(m: DeliveryMessage): StoredEvent | null {
  if (!m.event || m.eventAt === undefined) return null;
  return {
    id: m.eventId,
    appId: m.appId,
    type: m.event.type,
    timestamp: m.eventAt,
    dataJson: m.event.dataJson,
    requestHash: '',
    endpointIds: [m.endpointId],
    skippedEndpointIds: [],
    ...(m.event.test ? { test: true } : {}),
    ...(m.shard ? { shard: m.shard } : {}),
  };
}

export function createDeliverService(deps: DeliverDeps) {
  const now = deps.now ?? (() => new Date());
  const { store, life } = deps;

  const readEvent = (m: DeliveryMessage) =>
    m.eventAt === undefined
      ? deps.events.getEvent(m.appId, m.eventId)
      : deps.events.getEventAt(m.appId, m.eventId, m.eventAt, m.shard);

  async function prepare(
    incoming: DeliveryMessage,
    receiveCount: number,
    start: Date,
  ): Promise<Prepared | DeliverOutcome> {
    let message = incoming;
    const event = carriedEvent(message) ?? (await readEvent(message));
    if (!event) return 'missing';
    // The message says where the record is: an older one without `shard` meant the id's.
    const key = keyOfMessage(message, event.timestamp);
    // A retry reads the endpoint afresh: a PATCH (a fixed secret, another scheme or auth) takes
    // effect from the next attempt, not after the cache expires. First attempts, by far the most,
    // take the cache when it is at least as new as the version their event saw.
    const endpointP = deps.endpoints.endpointForDelivery(
      message.appId,
      message.endpointId,
      message.attempt > 1 ? 'latest' : message.endpointVersion,
    );

    let delivery: Delivery;
    let unleased = life.mayAttemptWithoutLease(message, receiveCount, start);
    if (unleased) {
      delivery = deliveryAsSent(message, key);
    } else {
      const stored = await store.getDelivery(key);
      // A first attempt has no record until its outcome (its event stands for it).
      if (!stored && message.attempt !== 1) return 'missing';
      delivery = stored ?? freshDelivery(key, event.type);
      // Only the worker's own dead-letter messages carry a reason: one coming back means an
      // operator redrove the DLQ, which asks for the failed delivery to be tried again.
      if (isDeadLetterRedrive(message, delivery)) {
        // A strict delivery's record waits parked: its message in the ordered lane holds its place.
        const dueAt = delivery.order ? PARKED_DUE_AT : life.redrivenDueAt(start);
        if (!(await store.restartDelivery(delivery, dueAt, start.toISOString()))) return 'duplicate';
        delivery = restarted(delivery, dueAt);
        message = { ...redriveMessage(delivery), endpointVersion: message.endpointVersion };
        unleased = false;
      }
      if (isFinished(delivery.status) || delivery.attempts >= message.attempt) return 'duplicate';
    }

    const endpoint = await endpointP;
    if (!endpoint || !endpoint.enabled) {
      await store.skip(key, event.type);
      deps.observer?.finished?.(Status.skipped, { event, attempts: delivery.attempts, at: start });
      return Status.skipped;
    }
    if (endpoint.ordering === 'strict') {
      // Its key's line is the ordered lane (a DLQ redrive, a message from before the endpoint
      // turned strict): it goes there, at the end of the line, rather than past it here.
      const order =
        message.order ?? delivery.order ?? orderOf(message.event ? ((await readEvent(message)) ?? {}) : event);
      await deps.scheduler.now([{ ...message, order }]);
      return 'forwarded';
    }

    const attemptNo = delivery.attempts + 1;
    // Flow control: may this endpoint be sent to now, on this lane? If not, the delivery waits
    // (or moves to the isolation lane) before any lease: no attempt is made or counted.
    let admission: Prepared['admission'];
    if (deps.flow) {
      const a = deps.flow.gate.admit(endpoint, message.lane === 'isolated' ? 'isolated' : 'shared', start.getTime(), {
        ticketAtMs: message.ticket,
      });
      if (!a.go) {
        const waitGuard: FinishGuard = { unleased: { attempt: attemptNo, now: start.toISOString() } };
        return wait({ message, event, delivery, key }, a, waitGuard, start);
      }
      admission = a;
    }
    let guard: FinishGuard;
    if (unleased) {
      guard = { unleased: { attempt: attemptNo, now: start.toISOString() } };
    } else {
      const lease = { token: randomUUID(), until: life.leaseUntil(start) };
      if (!(await store.claim(key, attemptNo, lease, start.toISOString()))) return 'contended';
      guard = { leaseToken: lease.token };
    }
    return { message, event, endpoint, delivery, key, attemptNo, guard, at: now(), admission };
  }

  /**
   * When a delivery waiting on a paused endpoint fails: what was left of its retry window when
   * it first had to wait (its next attempt then due), counted from then.
   */
  function windowEndMs(message: DeliveryMessage, delivery: Delivery, nowMs: number): number {
    const made = delivery.attempts - (delivery.retryBase ?? 0);
    return (message.waitingSince ?? nowMs) + deps.policy.windowLeftMs(Math.max(0, made));
  }

  /**
   * Makes a delivery wait for flow control, unattempted: the same message (same attempt number)
   * goes to the isolation lane, due when the gate said. A wait its message alone may carry (one
   * ending inside the half-lease in which no one else acts on the delivery) writes nothing; a
   * longer one is written on the delivery first, so housekeeping sees it waiting, not lost. A
   * delivery of a paused endpoint whose retry window ends first is failed (dead letter).
   */
  async function wait(
    p: Pick<Prepared, 'message' | 'event' | 'delivery' | 'key'>,
    a: { waitMs: number; reason: WaitReason | 'slow'; ticketAtMs?: number },
    guard: FinishGuard,
    start: Date,
  ): Promise<DeliverOutcome> {
    const { message, event, delivery, key } = p;
    const nowMs = start.getTime();
    const windowEnd = windowEndMs(message, delivery, nowMs);
    if (a.reason === 'paused' && nowMs >= windowEnd) {
      const reason = `the retry window ended while the endpoint was paused, after ${delivery.attempts} attempts`;
      await deps.deadLetters.send(deadLetterMessage(message, delivery.attempts, reason));
      const failed = { status: Status.failed, eventType: event.type, nextAttemptAt: null, dueAt: null, reason };
      if (!(await store.park(key, guard, failed))) return 'duplicate';
      deps.observer?.finished?.(Status.failed, { event, attempts: delivery.attempts, at: start });
      return Status.failed;
    }
    // A paused endpoint's delivery comes back when its window ends, at the latest, to be failed then.
    const wakeMs = nowMs + (a.reason === 'paused' ? Math.min(a.waitMs, Math.max(0, windowEnd - nowMs)) : a.waitMs);
    let heldSince = message.heldSince ?? message.notBefore ?? Date.parse(key.eventAt);
    if (wakeMs > heldSince + life.leaseMs / 2 - OWNERSHIP_MARGIN_MS) {
      const waiting = {
        status: delivery.status,
        eventType: event.type,
        nextAttemptAt: new Date(wakeMs).toISOString(),
        dueAt: new Date(wakeMs + life.leaseMs).toISOString(),
      };
      if (!(await store.park(key, guard, waiting))) return 'duplicate';
      // The record now says when it is due: its owner's clock starts again there.
      heldSince = wakeMs;
    } else if ('leaseToken' in guard) {
      // A cut attempt held a lease: hand the delivery back, due now on the isolation lane.
      const waiting = {
        status: delivery.status,
        eventType: event.type,
        nextAttemptAt: new Date(wakeMs).toISOString(),
        dueAt: new Date(wakeMs + life.leaseMs).toISOString(),
      };
      if (!(await store.park(key, guard, waiting))) return 'lease_lost';
    }
    const { ticket: _ticket, ...rest } = message;
    const moved: DeliveryMessage = {
      ...rest,
      lane: 'isolated',
      heldSince,
      notBefore: wakeMs,
      waitingSince: message.waitingSince ?? nowMs,
    };
    // A reserved token is due at an exact time, and SQS delays are whole seconds (rounded up):
    // the message comes back up to a second early and the worker waits for the token's time,
    // so deliveries paced at the rate are sent at the rate, not bunched at each second.
    let at = wakeMs;
    if (a.ticketAtMs !== undefined) {
      moved.ticket = a.ticketAtMs;
      at = Math.max(nowMs, a.ticketAtMs - 1000);
    }
    await deps.scheduler.at(moved, new Date(at));
    deps.observer?.deferred?.(a.reason, wakeMs - nowMs);
    return 'deferred';
  }

  /** Tells the gate what the attempt's answer said, and writes a state change it returns. */
  async function observeFlow(p: Prepared, signal: FlowSignal, at: Date): Promise<void> {
    if (!deps.flow) return;
    const change = deps.flow.gate.observe(p.endpoint, signal, at.getTime());
    if (!change) return;
    try {
      await deps.flow.throttles.saveThrottle(p.endpoint.appId, p.endpoint.id, change.throttle);
      deps.observer?.throttleChanged?.(p.endpoint, change.throttle);
    } catch (err) {
      deps.observer?.flowError?.(err);
    }
  }

  async function attempt(p: Prepared): Promise<Tried> {
    // A reserved rate token due within the second: wait for it (the isolation lane's batch only).
    if (p.admission?.sleepMs) {
      await (deps.sleep ?? ((ms: number) => new Promise((r) => setTimeout(r, ms))))(p.admission.sleepMs);
      p.at = now();
    }
    // On a shared lane the attempt has the lane's budget, not the whole timeout.
    const timeoutMs = Math.min(deps.timeoutMs, p.admission?.budgetMs ?? Infinity);
    // The endpoint's signature scheme, custom headers and auth (an OAuth2 token fetched or reused).
    const result = await sendWebhook(
      { sender: deps.sender, tokens: deps.tokens, userAgent: deps.userAgent, timeoutMs },
      p.endpoint,
      p.event,
      p.at,
    );
    const verdict = classify(result);
    const attempt: Attempt = {
      appId: p.event.appId,
      eventId: p.event.id,
      endpointId: p.endpoint.id,
      attempt: p.attemptNo,
      at: p.at.toISOString(),
      statusCode: verdict.statusCode,
      durationMs: result.durationMs,
      outcome: verdict.outcome,
      error: verdict.error,
      responseExcerpt: result.kind === 'response' ? result.bodyExcerpt : null,
    };
    return { attempt, verdict, done: now(), timedOut: result.kind === 'timeout' };
  }

  /**
   * An attempt cut at the shared lane's budget: not counted (no attempt record), the endpoint
   * marked slow, and the delivery moved to the isolation lane, where it gets the whole timeout.
   * The receiver may have taken the cut request: that is a duplicate at-least-once allows
   * (docs/flow-control.md).
   */
  async function cut(p: Prepared, t: Tried): Promise<DeliverOutcome> {
    await observeFlow(p, { kind: 'cut', durationMs: t.attempt.durationMs }, t.done);
    return wait(p, { waitMs: 0, reason: 'slow' }, p.guard, t.done);
  }

  function decide(p: Prepared, t: Tried): Decision {
    const { verdict, done } = t;
    if (verdict.outcome === 'succeeded') return { kind: 'done' };
    if (verdict.outcome === 'retryable') {
      // A send-again restarts the schedule: count attempts from the last one.
      const d = deps.policy.afterFailure(
        p.attemptNo - (p.delivery.retryBase ?? 0),
        parseRetryAfter(verdict.retryAfterHeader, done),
      );
      if (d.retry) return { kind: 'retry', dueMs: done.getTime() + d.delayMs, delayMs: d.delayMs };
      return {
        kind: 'give_up',
        reason: `exhausted after ${p.attemptNo} attempts; last: ${verdict.error ?? 'unknown'}`,
      };
    }
    return { kind: 'give_up', reason: verdict.error ?? verdict.outcome };
  }

  async function apply(p: Prepared, t: Tried, decision: Decision): Promise<DeliverOutcome> {
    const { attempt, verdict, done } = t;
    // A failed attempt gets its own record; a successful one is kept on the delivery's outcome.
    if (verdict.outcome !== 'succeeded') await store.recordAttempt(attempt);
    deps.observer?.attempted?.(attempt, { event: p.event });
    await deps.health.track(p.endpoint, verdict.outcome, done, previousFailureAt(p.delivery));
    const firstAttempt = p.attemptNo - (p.delivery.retryBase ?? 0) === 1;
    await observeFlow(p, flowSignal(verdict, attempt.durationMs, t.timedOut, done, firstAttempt), done);

    const base = {
      eventType: p.event.type,
      attempts: p.attemptNo,
      lastStatusCode: verdict.statusCode,
      lastAttemptAt: attempt.at,
      ...(p.event.test ? { test: true as const } : {}),
    };
    const lost: DeliverOutcome = 'leaseToken' in p.guard ? 'lease_lost' : 'duplicate';
    switch (decision.kind) {
      case 'done': {
        const success = { durationMs: attempt.durationMs, responseExcerpt: attempt.responseExcerpt };
        const update = { ...base, status: Status.succeeded, success, nextAttemptAt: null, dueAt: null };
        if (!(await store.finish(p.key, p.guard, update))) return lost;
        deps.observer?.finished?.(Status.succeeded, { event: p.event, attempts: p.attemptNo, at: done });
        return Status.succeeded;
      }
      case 'retry': {
        // A retry soon after its event is on no index (dueAt null; a record that was on it, a
        // re-driven one, leaves it): housekeeping's trailing reconcile reads it back instead.
        const wait = life.retryWait(done, decision.dueMs, p.key.eventAt);
        const update = {
          ...base,
          status: Status.retrying,
          nextAttemptAt: new Date(decision.dueMs).toISOString(),
          dueAt: wait.dueAt,
        };
        if (!(await store.finish(p.key, p.guard, update))) return lost;
        if (wait.scheduleNow) {
          const next = nextAttemptMessage(p.message, p.delivery, p.attemptNo + 1, decision.dueMs, attempt.at);
          // An endpoint flow control holds apart retries on the isolation lane.
          if (deps.flow?.gate.laneFor(p.endpoint, done.getTime()) === 'isolated') next.lane = 'isolated';
          await deps.scheduler.at(next, new Date(decision.dueMs));
        }
        deps.observer?.retried?.(decision.delayMs);
        return Status.retrying;
      }
      case 'give_up': {
        // Dead-letter first: if the table write then fails, the message is retried and at worst
        // the DLQ holds a duplicate; the other order could lose the DLQ copy on a transient error.
        await deps.deadLetters.send(deadLetterMessage(p.message, p.attemptNo, decision.reason));
        const update = { ...base, status: Status.failed, nextAttemptAt: null, dueAt: null };
        if (!(await store.finish(p.key, p.guard, update))) return lost;
        deps.observer?.finished?.(Status.failed, { event: p.event, attempts: p.attemptNo, at: done });
        return Status.failed;
      }
    }
  }

  return {
    /**
     * Handles one queue message (`receiveCount`: SQS's ApproximateReceiveCount). Resolves when
     * the message can be deleted; throws on an infrastructure error so that the queue retries it.
     */
    async handle(message: DeliveryMessage, receiveCount = 1): Promise<DeliverOutcome> {
      const start = now();
      if (message.notBefore !== undefined && message.notBefore - start.getTime() > 1000) {
        await deps.scheduler.at(message, new Date(message.notBefore));
        return 'hopped';
      }
      const prepared = await prepare(message, receiveCount, start);
      if (typeof prepared === 'string') return prepared;
      const tried = await attempt(prepared);
      if (
        tried.timedOut &&
        prepared.admission?.budgetMs !== undefined &&
        prepared.admission.budgetMs < deps.timeoutMs
      ) {
        return cut(prepared, tried);
      }
      return apply(prepared, tried, decide(prepared, tried));
    },
  };
}

export type DeliverService = ReturnType<typeof createDeliverService>;
