/**
 * Reading DLQ messages for people and scripts, and the small parsers and formatters the commands
 * share (durations, ages).
 */
import type { Message } from '@aws-sdk/client-sqs';
import { INGEST_DLQ_ATTRIBUTES } from '../functions/intake/sqs-ingest-queues';
import { busEventIdentity } from '../functions/intake/bus-intake';
import { isDeliveryMessage, type DeliveryMessage } from '../functions/delivery/lifecycle';

/** One DLQ message as `dlq list` shows it (and prints as a JSON line with --json). */
export interface DlqEntry {
  messageId: string;
  /**
   * `exhausted`: the worker gave up on the delivery (the body has a reason). `poison`: the
   * delivery queues' redrive policy moved it after repeated handler failures, or it is not ours.
   * `ingest`: an event put on the bus that could not be ingested (in the ingest DLQ).
   */
  kind: 'exhausted' | 'poison' | 'ingest';
  appId: string | null;
  eventId: string | null;
  endpointId: string | null;
  attempt: number | null;
  reason: string;
  sentAt: string | null;
  ageSeconds: number | null;
  receiveCount: number | null;
}

/** A failed ingest: the delivery fields, plus what identifies the EventBridge event and why it failed. */
export interface IngestDlqEntry extends DlqEntry {
  kind: 'ingest';
  /** The EventBridge event id (PutEvents answered it as the entry's EventId). */
  eventBridgeEventId: string | null;
  source: string | null;
  detailType: string | null;
  /** `validation_failed`, `not_found`, `malformed_json`, `conflict`, `retries_exhausted`, `undeliverable`, `crashed`. */
  code: string;
}

export function parseBody(body: string | undefined): { message: DeliveryMessage | null; json: unknown } {
  if (body === undefined) return { message: null, json: undefined };
  try {
    const json: unknown = JSON.parse(body);
    return { message: isDeliveryMessage(json) ? json : null, json };
  } catch {
    return { message: null, json: undefined };
  }
}

export function dlqEntry(m: Message, now = Date.now()): DlqEntry {
  const { message } = parseBody(m.Body);
  const attrs = m.Attributes ?? {};
  const sent = attrs.SentTimestamp ? Number(attrs.SentTimestamp) : NaN;
  const source = attrs.DeadLetterQueueSourceArn?.split(':').pop();
  const byPolicy = `moved here by the redrive policy${source ? ` of ${source}` : ''} after repeated handler failures`;
  let reason: string;
  if (message?.reason !== undefined) reason = message.reason;
  else if (message) reason = byPolicy;
  else reason = `not a delivery message (${byPolicy})`;
  return {
    messageId: m.MessageId ?? '',
    kind: message?.reason !== undefined ? 'exhausted' : 'poison',
    appId: message?.appId ?? null,
    eventId: message?.eventId ?? null,
    endpointId: message?.endpointId ?? null,
    attempt: message?.attempt ?? null,
    reason,
    sentAt: Number.isFinite(sent) ? new Date(sent).toISOString() : null,
    ageSeconds: Number.isFinite(sent) ? Math.max(0, Math.round((now - sent) / 1000)) : null,
    receiveCount: attrs.ApproximateReceiveCount ? Number(attrs.ApproximateReceiveCount) : null,
  };
}

function sentAndAge(m: Message, now: number) {
  const attrs = m.Attributes ?? {};
  const sent = attrs.SentTimestamp ? Number(attrs.SentTimestamp) : NaN;
  return {
    sentAt: Number.isFinite(sent) ? new Date(sent).toISOString() : null,
    ageSeconds: Number.isFinite(sent) ? Math.max(0, Math.round((now - sent) / 1000)) : null,
    receiveCount: attrs.ApproximateReceiveCount ? Number(attrs.ApproximateReceiveCount) : null,
  };
}

/**
 * One message of the ingest DLQ. Its body is the EventBridge event; why it is there comes from
 * the message attributes the ingest function set, else from those EventBridge sets on events it
 * could not put on the ingest queue (ERROR_CODE, ERROR_MESSAGE), else from the redrive policy.
 */
export function ingestDlqEntry(m: Message, now = Date.now()): IngestDlqEntry {
  const id = busEventIdentity(m.Body);
  const attr = (name: string) => m.MessageAttributes?.[name]?.StringValue;
  const A = INGEST_DLQ_ATTRIBUTES;
  let code: string;
  let reason: string;
  const source = m.Attributes?.DeadLetterQueueSourceArn?.split(':').pop();
  if (attr(A.reason) !== undefined) {
    code = attr(A.code) ?? 'unknown';
    reason = attr(A.reason) ?? '';
  } else if (attr('ERROR_CODE') !== undefined || attr('ERROR_MESSAGE') !== undefined) {
    code = 'undeliverable';
    reason = `EventBridge could not put it on the ingest queue: ${[attr('ERROR_CODE'), attr('ERROR_MESSAGE')].filter(Boolean).join(': ')}`;
  } else {
    code = 'crashed';
    reason = `moved here by the redrive policy${source ? ` of ${source}` : ''}: the ingest function failed or timed out on it repeatedly`;
  }
  let detailId: unknown;
  try {
    detailId = (JSON.parse(m.Body ?? '') as { detail?: { id?: unknown } }).detail?.id;
  } catch {
    detailId = undefined;
  }
  const receives = Number(attr(A.receives));
  return {
    messageId: m.MessageId ?? '',
    kind: 'ingest',
    appId: id.appId,
    eventId: typeof detailId === 'string' ? detailId : id.eventBridgeId ? `evb_${id.eventBridgeId}` : null,
    endpointId: null,
    attempt: Number.isInteger(receives) && receives > 0 ? receives : null,
    reason,
    ...sentAndAge(m, now),
    eventBridgeEventId: id.eventBridgeId,
    source: id.source,
    detailType: id.detailType,
    code,
  };
}

/** 42s, 5m 3s, 2h 5m, 3d 4h. */
export function formatAge(seconds: number | null): string {
  if (seconds === null) return '-';
  if (seconds < 60) return `${seconds}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m ${seconds % 60}s`;
  if (seconds < 86_400) return `${Math.floor(seconds / 3600)}h ${Math.floor((seconds % 3600) / 60)}m`;
  return `${Math.floor(seconds / 86_400)}d ${Math.floor((seconds % 86_400) / 3600)}h`;
}

/** "500ms", "1s", "2.5s", "1m", or a bare number of seconds, to milliseconds; undefined if unreadable. */
export function parseDuration(text: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(text);
  if (!m) return undefined;
  const n = Number(m[1]);
  const unit = m[2] ?? 's';
  const factor = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[unit] ?? 1000;
  return Math.round(n * factor);
}
