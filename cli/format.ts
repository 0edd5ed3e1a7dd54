/**
 * Reading DLQ messages for people and scripts, and the small parsers and formatters the commands
 * share (durations, ages).
 */
import type { Message } from '@aws-sdk/client-sqs';
import { isDeliveryMessage, type DeliveryMessage } from '../functions/core/lifecycle';

/** One DLQ message as `dlq list` shows it (and prints as a JSON line with --json). */
export interface DlqEntry {
  messageId: string;
  /** `exhausted`: the worker gave up on the delivery (the body has a reason). `poison`: the
   * queue's redrive policy moved it after repeated handler failures, or it is not ours. */
  kind: 'exhausted' | 'poison';
  appId: string | null;
  eventId: string | null;
  endpointId: string | null;
  attempt: number | null;
  reason: string;
  sentAt: string | null;
  ageSeconds: number | null;
  receiveCount: number | null;
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
