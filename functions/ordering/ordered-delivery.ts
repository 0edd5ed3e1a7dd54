/**
 * One message of the ordered lane (a strict endpoint's FIFO queue), from receive to a verdict:
 * release it (the delivery is finished: SQS may delete it and the key moves on) or hold it for a
 * time (its message group, which is the key, stays blocked meanwhile).
 *
 * The message is the delivery's place in its key's line; the table says whether it is finished
 * and when it may be attempted. So, unlike the standard lanes, a receive always reads the
 * delivery's record (strongly consistent: one read unit, no write), the same message serves every
 * attempt of its delivery (the retry waits by holding, not by a new message), and no lease is
 * taken: only this lane attempts a strict delivery, and SQS hands out one message of a group at a
 * time, so nothing else can hold it (docs/ordering.md, "Why no lease").
 */
import {
  deadLetterMessage,
  freshDelivery,
  isDeadLetterRedrive,
  isFinished,
  keyOfMessage,
  restarted,
  Status,
  type DeadLetterQueue,
  type DeliveryKey,
  type DeliveryMessage,
} from '../delivery/lifecycle';
import {
  flowSignal,
  type DeliveryEvents,
  type DeliveryObserver,
  type DeliveryStore,
  type EndpointSource,
} from '../delivery/deliver';
import type { FlowSignal } from '../flow/gate';
import type { Attempt, Delivery, Endpoint, StoredEvent } from '../shared/model';
import type { EndpointHealth } from '../endpoints/endpoint-health';
import { classify } from '../webhook/outcome';
import { parseRetryAfter, type RetryPolicy } from '../delivery/retry-policy';
import { sendWebhook, type AccessTokens, type WebhookSender } from '../webhook/webhook';
import { PARKED_DUE_AT, type HeldKeyStore } from './ordering';

/** What to do with the message. */
export type LaneVerdict = { release: true; outcome: string } | { release: false; holdMs: number; outcome: string };

/** A receive of one message: its receipt handle (kept for the skip route) and when it came. */
export interface LaneReceive {
  receiptHandle: string;
  receivedAtMs: number;
}

/**
 * The flow-control gate, as the ordered lane uses it (functions/flow, lane `ordered`): may this
 * endpoint be sent to now (after `sleepMs`, a token due within the second), or must the head
 * wait; and what an attempt's answer says about the endpoint.
 */
export interface OrderedLaneGate {
  admit(
    endpoint: Endpoint,
    nowMs: number,
  ): { go: true; sleepMs?: number } | { go: false; waitMs: number; reason: string };
  observe(endpoint: Endpoint, signal: FlowSignal, nowMs: number): Promise<void> | void;
}

export interface OrderedDeliveryDeps {
  events: DeliveryEvents;
  store: DeliveryStore;
  held: HeldKeyStore;
  endpoints: EndpointSource;
  health: EndpointHealth;
  sender: WebhookSender;
  tokens?: AccessTokens;
  deadLetters: DeadLetterQueue;
  policy: RetryPolicy;
  timeoutMs: number;
  userAgent: string;
  gate?: OrderedLaneGate;
  now?: () => Date;
  observer?: DeliveryObserver;
}

/** SQS keeps a received message invisible for at most 12 hours from its receive. */
export const MAX_HOLD_MS = 12 * 3600 * 1000;
/** Kept free of the 12 hours: a hold is asked for a moment after the receive. */
const HOLD_MARGIN_MS = 60_000;

export function createOrderedDelivery(deps: OrderedDeliveryDeps) {
  const now = deps.now ?? (() => new Date());
  const { store } = deps;

  const hold = (r: LaneReceive, untilMs: number, at: Date, outcome: string): LaneVerdict => {
    const left = MAX_HOLD_MS - HOLD_MARGIN_MS - (at.getTime() - r.receivedAtMs);
    return { release: false, holdMs: Math.max(0, Math.min(untilMs - at.getTime(), left)), outcome };
  };

  async function eventOf(m: DeliveryMessage): Promise<StoredEvent | null> {
    if (m.event && m.eventAt !== undefined) {
      return {
        id: m.eventId,
        appId: m.appId,
        type: m.event.type,
        timestamp: m.eventAt,
        dataJson: m.event.dataJson,
        requestHash: '',
        endpointIds: [m.endpointId],
        skippedEndpointIds: [],
        ...(m.order?.key !== undefined ? { orderingKey: m.order.key } : {}),
        ...(m.event.test ? { test: true } : {}),
        ...(m.shard ? { shard: m.shard } : {}),
      };
    }
    return m.eventAt === undefined
      ? deps.events.getEvent(m.appId, m.eventId)
      : deps.events.getEventAt(m.appId, m.eventId, m.eventAt, m.shard);
  }

  /** A receive's delivery, ready to attempt, or the verdict when it is not to be attempted now. */
  interface Ready {
    message: DeliveryMessage;
    r: LaneReceive;
    start: Date;
    event: StoredEvent;
    key: DeliveryKey;
    order: { key: string | undefined };
    endpoint: Endpoint;
    delivery: Delivery;
  }

  /** Reads the delivery and its endpoint, and says whether it is finished, waiting or to be skipped. */
  async function load(message: DeliveryMessage, r: LaneReceive): Promise<Ready | LaneVerdict> {
    const start = now();
    const event = await eventOf(message);
    if (!event) return { release: true, outcome: 'missing' };
    const key = keyOfMessage(message, event.timestamp);
    const order = { key: event.orderingKey ?? message.order?.key };
    // A first attempt takes the endpoint from the short cache when it is at least as new as the
    // version its event saw; a retry reads it afresh (a PATCH applies from the next attempt).
    const [stored, cached] = await Promise.all([
      store.getDelivery(key),
      deps.endpoints.endpointForDelivery(message.appId, message.endpointId, message.endpointVersion),
    ]);
    const endpoint =
      stored && stored.attempts > 0
        ? await deps.endpoints.endpointForDelivery(message.appId, message.endpointId, 'latest')
        : cached;
    let delivery: Delivery = stored ?? { ...freshDelivery(key, event.type), order };
    if (isDeadLetterRedrive(message, delivery)) {
      // An operator redrove the DLQ into this lane: the failed delivery starts a new cycle here.
      if (!(await store.restartDelivery(delivery, PARKED_DUE_AT, start.toISOString()))) {
        return { release: true, outcome: 'duplicate' };
      }
      delivery = restarted(delivery, PARKED_DUE_AT);
    }
    if (isFinished(delivery.status)) return { release: true, outcome: 'duplicate' };
    if (delivery.leaseUntil !== undefined && delivery.leaseUntil > start.toISOString()) {
      return hold(r, Date.parse(delivery.leaseUntil), start, 'leased');
    }
    const dueMs =
      delivery.status === Status.retrying && delivery.nextAttemptAt ? Date.parse(delivery.nextAttemptAt) : 0;
    if (dueMs - start.getTime() > 1000) {
      // A retry waiting longer than one hold could last (SQS's 12 hours): hold again. Keep the
      // new receipt handle where the skip route finds it.
      await deps.held.touch(key, order.key, r.receiptHandle);
      return hold(r, dueMs, start, 'waiting');
    }
    if (!endpoint || !endpoint.enabled) {
      await store.skip(key, event.type, order);
      if (delivery.status === Status.retrying) await deps.held.clear(key, order.key);
      deps.observer?.finished?.(Status.skipped, { event, attempts: delivery.attempts, at: start });
      return { release: true, outcome: Status.skipped };
    }
    return { message, r, start, event, key, order, endpoint, delivery };
  }

  /** One attempt, unleased, recorded when it failed, and told to the endpoint's health and the gate. */
  async function attempt(p: Ready) {
    const { event, endpoint, delivery } = p;
    const attemptNo = delivery.attempts + 1;
    const at = now();
    const result = await sendWebhook(
      { sender: deps.sender, tokens: deps.tokens, userAgent: deps.userAgent, timeoutMs: deps.timeoutMs },
      endpoint,
      event,
      at,
    );
    const verdict = classify(result);
    const done = now();
    const tried: Attempt = {
      appId: event.appId,
      eventId: event.id,
      endpointId: endpoint.id,
      attempt: attemptNo,
      at: at.toISOString(),
      statusCode: verdict.statusCode,
      durationMs: result.durationMs,
      outcome: verdict.outcome,
      error: verdict.error,
      responseExcerpt: result.kind === 'response' ? result.bodyExcerpt : null,
    };
    if (verdict.outcome !== 'succeeded') await store.recordAttempt(tried);
    deps.observer?.attempted?.(tried, { event });
    const previousFailure = delivery.status === Status.retrying ? delivery.lastAttemptAt : undefined;
    await deps.health.track(endpoint, verdict.outcome, done, previousFailure);
    const retryAfterS = parseRetryAfter(verdict.retryAfterHeader, done);
    const timedOut = result.kind === 'timeout';
    await deps.gate?.observe(
      endpoint,
      flowSignal(verdict, result.durationMs, timedOut, done, attemptNo === 1),
      done.getTime(),
    );
    return { attemptNo, at, done, tried, verdict, retryAfterS };
  }

  /** The attempt's outcome written, and what it means for the key: released, or held until its retry. */
  async function apply(p: Ready, a: Awaited<ReturnType<typeof attempt>>): Promise<LaneVerdict> {
    const { key, order, event, delivery, r } = p;
    const { attemptNo, at, done, tried, verdict, retryAfterS } = a;
    const guard = { unleased: { attempt: attemptNo, now: at.toISOString() } };
    const base = {
      eventType: event.type,
      attempts: attemptNo,
      lastStatusCode: verdict.statusCode,
      lastAttemptAt: tried.at,
      order,
      ...(event.test ? { test: true as const } : {}),
    };
    const wasHeld = delivery.status === Status.retrying;
    const lost = async (): Promise<LaneVerdict> => {
      // The record moved under us (the skip route failed it, say): the table decides again.
      const current = await store.getDelivery(key);
      if (!current || isFinished(current.status)) return { release: true, outcome: 'lease_lost' };
      return hold(r, done.getTime() + 30_000, done, 'contended');
    };

    if (verdict.outcome === 'succeeded') {
      const success = { durationMs: tried.durationMs, responseExcerpt: tried.responseExcerpt };
      const update = { ...base, status: Status.succeeded, success, nextAttemptAt: null, dueAt: null };
      if (!(await store.finish(key, guard, update))) return lost();
      if (wasHeld) await deps.held.clear(key, order.key);
      deps.observer?.finished?.(Status.succeeded, { event, attempts: attemptNo, at: done });
      return { release: true, outcome: Status.succeeded };
    }
    let giveUp: string | undefined;
    let retryAtMs = 0;
    if (verdict.outcome === 'retryable') {
      const d = deps.policy.afterFailure(attemptNo - (delivery.retryBase ?? 0), retryAfterS);
      if (d.retry) retryAtMs = done.getTime() + d.delayMs;
      else giveUp = `exhausted after ${attemptNo} attempts; last: ${verdict.error ?? 'unknown'}`;
    } else {
      giveUp = verdict.error ?? verdict.outcome;
    }
    if (giveUp !== undefined) {
      // As the standard lanes do: the dead letter first, then the outcome; the key moves on.
      await deps.deadLetters.send(deadLetterMessage({ ...p.message, order }, attemptNo, giveUp));
      const update = { ...base, status: Status.failed, nextAttemptAt: null, dueAt: null };
      if (!(await store.finish(key, guard, update))) return lost();
      if (wasHeld) await deps.held.clear(key, order.key);
      deps.observer?.finished?.(Status.failed, { event, attempts: attemptNo, at: done });
      return { release: true, outcome: Status.failed };
    }
    // A retry: the head holds its key until then. Its record is parked on the open index (a
    // recover pass finds it; scheduled runs leave it to this message).
    const nextAttemptAt = new Date(retryAtMs).toISOString();
    const update = { ...base, status: Status.retrying, nextAttemptAt, dueAt: PARKED_DUE_AT };
    if (!(await store.finish(key, guard, update))) return lost();
    await deps.held.put({
      appId: key.appId,
      endpointId: key.endpointId,
      orderingKey: order.key,
      eventId: key.eventId,
      eventAt: key.eventAt,
      ...(key.shard !== undefined ? { shard: key.shard } : {}),
      attempts: attemptNo,
      nextAttemptAt,
      lastError: verdict.error,
      since: delivery.status === Status.retrying ? undefined : tried.at,
      receiptHandle: r.receiptHandle,
    });
    deps.observer?.retried?.(retryAtMs - done.getTime());
    return hold(r, retryAtMs, done, Status.retrying);
  }

  return {
    /** Load, ask the gate, attempt, apply: as deliver.ts's prepare, attempt, decide and apply. */
    async handle(message: DeliveryMessage, r: LaneReceive): Promise<LaneVerdict> {
      const ready = await load(message, r);
      if ('release' in ready) return ready;
      const admission = deps.gate?.admit(ready.endpoint, ready.start.getTime());
      if (admission && !admission.go)
        return hold(r, ready.start.getTime() + admission.waitMs, ready.start, `paced: ${admission.reason}`);
      if (admission?.sleepMs) await new Promise((resolve) => setTimeout(resolve, admission.sleepMs));
      return apply(ready, await attempt(ready));
    },
  };
}

export type OrderedDelivery = ReturnType<typeof createOrderedDelivery>;
