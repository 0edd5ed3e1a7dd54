/**
 * Events from the bus: each message of the ingest queue is one EventBridge event, as the rule
 * put it there (`detail-type` = event type, `detail` = `{appId, data, id?, orderingKey?}`). Each ends in one
 * of three places, never nowhere:
 *
 * - ingested, like a POST of the same event (the event id is `detail.id`, else `evb_` + the
 *   EventBridge event id, so a redelivery is idempotent);
 * - refused for good (bad JSON, a detail that fails validation, an unknown app, oversized
 *   data, an id reused with another body: any DomainError), and then sent to the ingest DLQ at
 *   once with its reason, never retried;
 * - failed for now (anything else: the table throttled or unreachable, a queue call failing),
 *   and then retried later with a growing delay, until the policy's last attempt, which
 *   dead-letters it with the last error.
 *
 * The classification is by type (DomainError and its subclasses), never by message text.
 */
import * as z from 'zod/mini';
import { DomainError, IdInUseError, MalformedJsonError } from '../shared/errors';
import type { IngestRequest, IngestResult } from './ingest';
import { parseOrThrow } from '../api/schemas';

/** The part of an EventBridge event the intake reads; the rest travels untouched. */
const busEventSchema = z.object({
  id: z.string({ error: 'must be a string' }).check(z.minLength(1, 'must not be empty')),
  source: z.string({ error: 'must be a string' }),
  'detail-type': z.string({ error: 'must be a string' }),
  detail: z.object(
    {
      appId: z.string({ error: 'is required and must be a string' }).check(z.minLength(1, 'must not be empty')),
      data: z.unknown(),
      id: z.optional(z.unknown()),
      /** Checked by the ingest, like a POST's. */
      orderingKey: z.optional(z.unknown()),
    },
    { error: 'must be an object' },
  ),
});

export type BusEvent = z.infer<typeof busEventSchema>;

/** What identifies a bus event for an operator, as far as its body could be read. */
export interface BusEventIdentity {
  eventBridgeId: string | null;
  source: string | null;
  detailType: string | null;
  appId: string | null;
}

/** A message refused or out of retries, as it goes to the ingest DLQ: its body is unchanged. */
export interface DeadLetteredEvent {
  /** The message body as it arrived (the EventBridge event), so a redrive re-ingests it. */
  body: string;
  /** The error's code (`validation_failed`, `not_found`, ...) or `retries_exhausted`. */
  code: string;
  /** Why, in words an operator can act on. */
  reason: string;
  /** How many times the ingest queue delivered the message. */
  receives: number;
}

export interface IngestDeadLetterQueue {
  send(message: DeadLetteredEvent): Promise<void>;
}

export interface IngestRetryPolicy {
  /** Seconds before the first retry; each further one waits twice as long as the previous. */
  firstDelayS: number;
  /** No wait is longer than this. */
  maxDelayS: number;
  /** The receive on which a message still failing is dead-lettered instead. */
  attempts: number;
}

export interface BusIntakeDeps {
  ingest(req: IngestRequest): Promise<IngestResult>;
  deadLetters: IngestDeadLetterQueue;
  retry: IngestRetryPolicy;
  onDeadLettered?: (message: DeadLetteredEvent) => void;
}

export type IntakeOutcome =
  | { outcome: 'ingested'; result: IngestResult }
  | { outcome: 'dead-lettered'; code: string; reason: string }
  /** Leave the message in the queue, hidden for `delayS`; `error` is what failed. */
  | { outcome: 'retry'; delayS: number; error: unknown };

/** The wait before the retry that follows receive number `receives` (1 for the first). */
export function retryDelayS(policy: IngestRetryPolicy, receives: number): number {
  const exponent = Math.max(0, receives - 1);
  return Math.min(policy.maxDelayS, policy.firstDelayS * 2 ** Math.min(exponent, 30));
}

/** Seconds from a message's first receive to the receive that dead-letters it. */
export function retryHorizonS(policy: IngestRetryPolicy): number {
  let total = 0;
  for (let n = 1; n < policy.attempts; n++) total += retryDelayS(policy, n);
  return total;
}

/** The body as a bus event; a MalformedJsonError or ValidationError naming what is wrong. */
export function parseBusEvent(body: string): BusEvent {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    throw new MalformedJsonError('the message body is not JSON');
  }
  return parseOrThrow(busEventSchema, json, 'EventBridge event');
}

/** Whatever of the event's identity can be read, for listings; never throws. */
export function busEventIdentity(body: string | undefined): BusEventIdentity {
  let json: unknown;
  try {
    json = body === undefined ? undefined : JSON.parse(body);
  } catch {
    json = undefined;
  }
  const o = (typeof json === 'object' && json !== null ? json : {}) as Record<string, unknown>;
  const detail = (typeof o.detail === 'object' && o.detail !== null ? o.detail : {}) as Record<string, unknown>;
  const str = (v: unknown) => (typeof v === 'string' ? v : null);
  return {
    eventBridgeId: str(o.id),
    source: str(o.source),
    detailType: str(o['detail-type']),
    appId: str(detail.appId),
  };
}

/** The event's id in hookrelay: the producer's `detail.id`, else one derived from EventBridge's. */
export function eventIdOf(event: Pick<BusEvent, 'id' | 'detail'>): unknown {
  return event.detail.id ?? `evb_${event.id}`;
}

/** "what failed (path: why; ...)" from a domain error. */
export function reasonOf(err: DomainError): string {
  const details = err.details?.map((d) => `${d.path}: ${d.message}`).join('; ');
  return details ? `${err.message} (${details})` : err.message;
}

function describe(err: unknown): string {
  if (err instanceof Error) return err.name && err.name !== 'Error' ? `${err.name}: ${err.message}` : err.message;
  return String(err);
}

export function createBusIntake(deps: BusIntakeDeps) {
  async function deadLetter(body: string, code: string, reason: string, receives: number): Promise<IntakeOutcome> {
    const message = { body, code, reason, receives };
    await deps.deadLetters.send(message);
    deps.onDeadLettered?.(message);
    return { outcome: 'dead-lettered', code, reason };
  }

  return {
    /**
     * Ingests one message of the ingest queue, received for the `receives`-th time. A failure
     * to dead-letter is thrown (the message then stays in the queue and comes back).
     */
    async handle(message: { body: string; receives: number }): Promise<IntakeOutcome> {
      const receives = Math.max(1, message.receives);
      try {
        const event = parseBusEvent(message.body);
        const result = await deps.ingest({
          appId: event.detail.appId,
          body: {
            type: event['detail-type'],
            data: event.detail.data,
            id: eventIdOf(event),
            ...(event.detail.orderingKey === undefined ? {} : { orderingKey: event.detail.orderingKey }),
          },
        });
        return { outcome: 'ingested', result };
      } catch (err) {
        // A refusal is final, except an id in use by another ingest of the same event right now.
        if (err instanceof DomainError && !(err instanceof IdInUseError)) {
          return deadLetter(message.body, err.code, reasonOf(err), receives);
        }
        if (receives >= deps.retry.attempts) {
          const reason = `still failing after ${receives} attempts over ${Math.round(retryHorizonS(deps.retry) / 3600)} h; last: ${describe(err)}`;
          return deadLetter(message.body, 'retries_exhausted', reason, receives);
        }
        return { outcome: 'retry', delayS: retryDelayS(deps.retry, receives), error: err };
      }
    },
  };
}

export type BusIntake = ReturnType<typeof createBusIntake>;
