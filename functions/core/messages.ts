/**
 * The body of every message on the work, retry and dead-letter queues. Small on purpose: the
 * table holds the event and the delivery; a message only says which delivery to attempt next.
 */
export interface DeliveryMessage {
  /** Message format version, so that older messages in flight stay readable after a deploy. */
  v: 1;
  appId: string;
  eventId: string;
  endpointId: string;
  /** The attempt this message asks for (1 = first). */
  attempt: number;
  /**
   * Epoch milliseconds before which the attempt must not run. Waits longer than SQS's 900 s
   * delay are carried by re-sending the message with the remaining delay (a hop).
   */
  notBefore?: number;
  /** Set on messages moved to the DLQ by the worker: why the delivery ended there. */
  reason?: string;
}

export function isDeliveryMessage(x: unknown): x is DeliveryMessage {
  if (typeof x !== 'object' || x === null) return false;
  const m = x as Record<string, unknown>;
  return (
    m.v === 1 &&
    typeof m.appId === 'string' &&
    typeof m.eventId === 'string' &&
    typeof m.endpointId === 'string' &&
    typeof m.attempt === 'number' &&
    Number.isInteger(m.attempt) &&
    m.attempt >= 1 &&
    (m.notBefore === undefined || typeof m.notBefore === 'number')
  );
}
