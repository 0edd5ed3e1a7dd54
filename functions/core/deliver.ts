/**
 * One delivery attempt, from a queue message to a recorded outcome:
 * load -> dedupe -> claim -> sign and send -> record the attempt -> succeed, retry, or give up.
 *
 * The table is the truth. Every state change is written before the message that follows from it
 * is sent, and every unfinished delivery stays on the open index with the time by which something
 * must have happened to it, so a lost message is found by housekeeping rather than lost.
 */
import { randomUUID } from 'node:crypto';
import { MAX_SQS_DELAY_S } from '../adapters/sqs-queues';
import type { DeliveryMessage } from './messages';
import type { Attempt, Delivery, DeliveryStatus, Endpoint, StoredEvent } from './model';
import { TERMINAL_STATUSES } from './model';
import { classify, type SendResult } from './outcome';
import { parseRetryAfter, type RetryPolicy } from './retry-policy';
import { activeSecrets } from './signing';
import { buildWebhookRequest, type WebhookRequest } from './webhook';

export interface AttemptContext {
  event: StoredEvent | null;
  delivery: Delivery | null;
  endpoint: Endpoint | null;
}

export interface DeliveryUpdate {
  status: DeliveryStatus;
  attempts: number;
  lastStatusCode?: number | null;
  lastAttemptAt?: string;
  nextAttemptAt?: string | null;
  /** The successful attempt's details (it has no attempt record of its own). */
  success?: { durationMs: number; responseExcerpt: string | null };
  /** When housekeeping should look again; null once the delivery is finished. */
  dueAt: string | null;
}

export interface DeliveryStore {
  loadAttemptContext(appId: string, eventId: string, endpointId: string): Promise<AttemptContext>;
  /**
   * Takes the lease on attempt `attempt` (attempts so far must be attempt-1, no live lease);
   * false when another worker has it or it already happened.
   */
  claim(d: Delivery, attempt: number, lease: { token: string; until: string }, now: string): Promise<boolean>;
  recordAttempt(attempt: Attempt, retentionDays: number): Promise<void>;
  /** Applies the attempt's result if the lease is still ours; false when it was lost. */
  finish(d: Delivery, leaseToken: string, update: DeliveryUpdate): Promise<boolean>;
  /** Marks a delivery skipped without an attempt (its endpoint is disabled or deleted). */
  skip(d: Delivery): Promise<void>;
  disableEndpoint(appId: string, endpointId: string, reason: string, at: string): Promise<void>;
  /** Records that the endpoint started failing at `at` (if it was not failing already). */
  markEndpointFailing(appId: string, endpointId: string, at: string): Promise<void>;
  /** Clears the endpoint's failing streak after a success. */
  markEndpointHealthy(appId: string, endpointId: string): Promise<void>;
  /** Puts a finished delivery back to pending for a new attempt cycle; false if it is not finished. */
  restartDelivery(d: Delivery, dueAt: string, now: string): Promise<boolean>;
}

export interface WebhookSender {
  send(request: WebhookRequest, timeoutMs: number): Promise<SendResult>;
}

export interface RetryQueue {
  /** Sends the message back with a delay of at most MAX_SQS_DELAY_S seconds. */
  schedule(message: DeliveryMessage, delayS: number): Promise<void>;
}

export interface DeadLetterQueue {
  send(message: DeliveryMessage): Promise<void>;
}

export interface DeliveryObserver {
  attempted?(a: Attempt, ctx: { event: StoredEvent }): void;
  finished?(status: DeliveryStatus, ctx: { event: StoredEvent; attempts: number; at: Date }): void;
  retried?(delayMs: number): void;
}

export interface DeliverDeps {
  store: DeliveryStore;
  sender: WebhookSender;
  retryQueue: RetryQueue;
  deadLetters: DeadLetterQueue;
  policy: RetryPolicy;
  timeoutMs: number;
  leaseS: number;
  retentionDays: number;
  /** An endpoint failing without a single success for this long is disabled (Svix: 5 days). */
  disableAfterFailingS: number;
  userAgent: string;
  now?: () => Date;
  observer?: DeliveryObserver;
}

/** Why a message produced no attempt, or what the attempt led to; for logs and tests. */
export type DeliverOutcome =
  'hopped' | 'missing' | 'duplicate' | 'contended' | 'skipped' | 'succeeded' | 'retrying' | 'failed' | 'lease_lost';

const iso = (ms: number) => new Date(ms).toISOString();

export function createDeliverService(deps: DeliverDeps) {
  const now = deps.now ?? (() => new Date());

  /**
   * Endpoint health: a success clears the failing streak; the first failure starts it; a streak
   * older than `disableAfterFailingS` disables the endpoint. Writes only when the state changes.
   */
  async function trackHealth(endpoint: Endpoint, outcome: Attempt['outcome'], at: Date): Promise<void> {
    if (outcome === 'succeeded') {
      if (endpoint.failingSince !== undefined) await deps.store.markEndpointHealthy(endpoint.appId, endpoint.id);
      return;
    }
    if (outcome !== 'retryable') return;
    if (endpoint.failingSince === undefined) {
      await deps.store.markEndpointFailing(endpoint.appId, endpoint.id, at.toISOString());
      return;
    }
    const failingForS = (at.getTime() - Date.parse(endpoint.failingSince)) / 1000;
    if (failingForS >= deps.disableAfterFailingS) {
      const days = Math.round((failingForS / 86_400) * 10) / 10;
      await deps.store.disableEndpoint(
        endpoint.appId,
        endpoint.id,
        `every attempt failed for ${days} days (since ${endpoint.failingSince})`,
        at.toISOString(),
      );
    }
  }

  return {
    /**
     * Handles one queue message. Resolves when the message can be deleted; throws on an
     * infrastructure error so that the message is retried by the queue (a batch item failure).
     */
    async handle(incoming: DeliveryMessage): Promise<DeliverOutcome> {
      let message = incoming;
      const start = now();
      // A wait longer than SQS allows travels as hops of at most 900 s.
      if (message.notBefore !== undefined && message.notBefore - start.getTime() > 1000) {
        const remainingS = Math.ceil((message.notBefore - start.getTime()) / 1000);
        await deps.retryQueue.schedule(message, Math.min(MAX_SQS_DELAY_S, remainingS));
        return 'hopped';
      }

      const loaded = await deps.store.loadAttemptContext(message.appId, message.eventId, message.endpointId);
      const { event, endpoint } = loaded;
      let delivery = loaded.delivery;
      if (!event || !delivery) return 'missing';

      // Only the worker's own dead-letter messages carry a reason: one coming back means an
      // operator redrove the DLQ, which asks for the failed delivery to be tried again.
      if (message.reason !== undefined && delivery.status === 'failed' && delivery.attempts === message.attempt) {
        const dueAt = iso(start.getTime() + deps.leaseS * 1000);
        if (!(await deps.store.restartDelivery(delivery, dueAt, start.toISOString()))) return 'duplicate';
        delivery = { ...delivery, status: 'pending', retryBase: delivery.attempts, dueAt };
        message = {
          v: 1,
          appId: message.appId,
          eventId: message.eventId,
          endpointId: message.endpointId,
          attempt: delivery.attempts + 1,
        };
      }
      if (TERMINAL_STATUSES.has(delivery.status) || delivery.attempts >= message.attempt) return 'duplicate';

      if (!endpoint || !endpoint.enabled) {
        await deps.store.skip(delivery);
        deps.observer?.finished?.('skipped', { event, attempts: delivery.attempts, at: start });
        return 'skipped';
      }

      const attemptNo = delivery.attempts + 1;
      const lease = { token: randomUUID(), until: iso(start.getTime() + deps.leaseS * 1000) };
      if (!(await deps.store.claim(delivery, attemptNo, lease, start.toISOString()))) return 'contended';

      const at = now();
      const secrets = activeSecrets(endpoint.secrets, at).map((s) => s.key);
      const request = buildWebhookRequest({
        url: endpoint.url,
        eventId: event.id,
        type: event.type,
        timestamp: event.timestamp,
        dataJson: event.dataJson,
        secretKeys: secrets,
        at,
        userAgent: deps.userAgent,
      });
      const result = await deps.sender.send(request, deps.timeoutMs);
      const verdict = classify(result);
      const done = now();

      const attempt: Attempt = {
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
      // A failed attempt gets its own record; a successful one is kept on the delivery by finish().
      if (verdict.outcome !== 'succeeded') await deps.store.recordAttempt(attempt, deps.retentionDays);
      deps.observer?.attempted?.(attempt, { event });

      const base = { attempts: attemptNo, lastStatusCode: verdict.statusCode, lastAttemptAt: at.toISOString() };

      await trackHealth(endpoint, verdict.outcome, done);

      if (verdict.outcome === 'succeeded') {
        const success = { durationMs: attempt.durationMs, responseExcerpt: attempt.responseExcerpt };
        if (
          !(await deps.store.finish(delivery, lease.token, {
            ...base,
            status: 'succeeded',
            success,
            nextAttemptAt: null,
            dueAt: null,
          }))
        ) {
          return 'lease_lost';
        }
        deps.observer?.finished?.('succeeded', { event, attempts: attemptNo, at: done });
        return 'succeeded';
      }

      if (verdict.outcome === 'gone') {
        await deps.store.disableEndpoint(
          endpoint.appId,
          endpoint.id,
          'the endpoint answered 410 Gone',
          done.toISOString(),
        );
      }

      const decision =
        verdict.outcome === 'retryable'
          ? // A resend restarts the schedule: count attempts from the last resend.
            deps.policy.afterFailure(
              attemptNo - (delivery.retryBase ?? 0),
              parseRetryAfter(verdict.retryAfterHeader, done),
            )
          : ({ retry: false } as const);

      if (decision.retry) {
        const dueMs = done.getTime() + decision.delayMs;
        const next: DeliveryMessage = { ...message, attempt: attemptNo + 1, notBefore: dueMs };
        delete next.reason;
        // A wait SQS can carry is sent now with its delay; a longer one waits on the open index
        // and housekeeping sends it, with the exact remaining delay, 15 minutes before it is due.
        const viaQueue = decision.delayMs <= MAX_SQS_DELAY_S * 1000;
        const update: DeliveryUpdate = {
          ...base,
          status: 'retrying',
          nextAttemptAt: iso(dueMs),
          // Via the queue: if its message is lost, housekeeping finds it one lease after it was due.
          dueAt: iso(viaQueue ? dueMs + deps.leaseS * 1000 : dueMs - MAX_SQS_DELAY_S * 1000),
        };
        if (!(await deps.store.finish(delivery, lease.token, update))) return 'lease_lost';
        if (viaQueue) await deps.retryQueue.schedule(next, Math.ceil(decision.delayMs / 1000));
        deps.observer?.retried?.(decision.delayMs);
        return 'retrying';
      }

      const reason =
        verdict.outcome === 'retryable'
          ? `exhausted after ${attemptNo} attempts; last: ${verdict.error ?? 'unknown'}`
          : (verdict.error ?? verdict.outcome);
      // Dead-letter first: if the table write then fails, the message is retried and at worst the
      // DLQ holds a duplicate; the other order could lose the DLQ copy on a transient error.
      await deps.deadLetters.send({ ...message, attempt: attemptNo, reason });
      if (
        !(await deps.store.finish(delivery, lease.token, {
          ...base,
          status: 'failed',
          nextAttemptAt: null,
          dueAt: null,
        }))
      ) {
        return 'lease_lost';
      }
      deps.observer?.finished?.('failed', { event, attempts: attemptNo, at: done });
      return 'failed';
    },
  };
}

export type DeliverService = ReturnType<typeof createDeliverService>;
