/** In-memory fakes of the core's ports, for unit tests of the use cases. */
import type { AttemptContext, DeliveryStore, DeliveryUpdate, WebhookSender } from '../../functions/core/deliver';
import type { HousekeepingStore, OpenItem } from '../../functions/core/housekeeping';
import type { DeliveryMessage } from '../../functions/core/messages';
import type { Attempt, Delivery, Endpoint, StoredEvent } from '../../functions/core/model';
import type { SendResult } from '../../functions/core/outcome';
import type { WebhookRequest } from '../../functions/core/webhook';

export class FakeDeliveryStore implements DeliveryStore, HousekeepingStore {
  events = new Map<string, StoredEvent>();
  deliveries = new Map<string, Delivery & { leaseToken?: string }>();
  endpoints = new Map<string, Endpoint>();
  attempts: Attempt[] = [];
  disabled: { endpointId: string; reason: string }[] = [];

  static key(...parts: string[]) {
    return parts.join('/');
  }

  async loadAttemptContext(appId: string, eventId: string, endpointId: string): Promise<AttemptContext> {
    const k = FakeDeliveryStore.key;
    return {
      event: this.events.get(k(appId, eventId)) ?? null,
      delivery: structuredClone(this.deliveries.get(k(appId, eventId, endpointId)) ?? null),
      endpoint: this.endpoints.get(k(appId, endpointId)) ?? null,
    };
  }

  async claim(d: Delivery, attempt: number, lease: { token: string; until: string }, now: string) {
    const cur = this.deliveries.get(FakeDeliveryStore.key(d.appId, d.eventId, d.endpointId));
    if (!cur || cur.attempts !== attempt - 1 || !['pending', 'retrying'].includes(cur.status)) return false;
    if (cur.leaseUntil !== undefined && cur.leaseUntil >= now) return false;
    cur.leaseToken = lease.token;
    cur.leaseUntil = lease.until;
    return true;
  }

  async listDue(cutoff: string, limit: number): Promise<OpenItem[]> {
    return [...this.deliveries.values()]
      .filter((d) => d.dueAt !== undefined && d.dueAt < cutoff)
      .sort((a, b) => a.dueAt!.localeCompare(b.dueAt!))
      .slice(0, limit)
      .map((d) => ({ dueAt: d.dueAt!, delivery: structuredClone(d) }));
  }

  async rescheduleDue(item: OpenItem, toDueAt: string, opts: { clearLease?: boolean; planned?: boolean } = {}) {
    const d = item.delivery;
    const cur = this.deliveries.get(FakeDeliveryStore.key(d.appId, d.eventId, d.endpointId)) as
      (Delivery & { requeues?: number }) | undefined;
    if (!cur || cur.dueAt !== item.dueAt) return false;
    cur.dueAt = toDueAt;
    if (!opts.planned) cur.requeues = (cur.requeues ?? 0) + 1;
    if (opts.clearLease) delete cur.leaseUntil;
    return true;
  }

  async recordAttempt(a: Attempt) {
    this.attempts.push(a);
  }

  async finish(d: Delivery, token: string, u: DeliveryUpdate) {
    const cur = this.deliveries.get(FakeDeliveryStore.key(d.appId, d.eventId, d.endpointId));
    if (!cur || cur.leaseToken !== token) return false;
    cur.status = u.status;
    cur.attempts = u.attempts;
    if (u.lastStatusCode !== undefined && u.lastStatusCode !== null) cur.lastStatusCode = u.lastStatusCode;
    if (u.lastAttemptAt !== undefined) cur.lastAttemptAt = u.lastAttemptAt;
    if (u.success) cur.success = u.success;
    if (u.nextAttemptAt) cur.nextAttemptAt = u.nextAttemptAt;
    else delete cur.nextAttemptAt;
    if (u.dueAt) cur.dueAt = u.dueAt;
    else delete cur.dueAt;
    delete cur.leaseToken;
    delete cur.leaseUntil;
    return true;
  }

  async skip(d: Delivery) {
    const cur = this.deliveries.get(FakeDeliveryStore.key(d.appId, d.eventId, d.endpointId));
    if (cur && ['pending', 'retrying'].includes(cur.status)) {
      cur.status = 'skipped';
      delete cur.dueAt;
    }
  }

  async restartDelivery(d: Delivery, dueAt: string) {
    const cur = this.deliveries.get(FakeDeliveryStore.key(d.appId, d.eventId, d.endpointId));
    if (!cur || cur.attempts !== d.attempts || !['succeeded', 'failed', 'skipped'].includes(cur.status)) return false;
    Object.assign(cur, { status: 'pending', retryBase: cur.attempts, dueAt });
    delete cur.nextAttemptAt;
    return true;
  }

  async markEndpointFailing(appId: string, endpointId: string, at: string) {
    const ep = this.endpoints.get(FakeDeliveryStore.key(appId, endpointId));
    if (ep && ep.failingSince === undefined) ep.failingSince = at;
  }

  async markEndpointHealthy(appId: string, endpointId: string) {
    const ep = this.endpoints.get(FakeDeliveryStore.key(appId, endpointId));
    if (ep) delete ep.failingSince;
  }

  async disableEndpoint(appId: string, endpointId: string, reason: string) {
    const ep = this.endpoints.get(FakeDeliveryStore.key(appId, endpointId));
    if (ep) {
      ep.enabled = false;
      ep.disabledReason = reason;
    }
    this.disabled.push({ endpointId, reason });
  }
}

/** A sender that answers from a script, one result per call (the last one repeats). */
export class ScriptedSender implements WebhookSender {
  requests: WebhookRequest[] = [];
  constructor(private readonly script: SendResult[]) {}

  async send(req: WebhookRequest): Promise<SendResult> {
    this.requests.push(req);
    return this.script[Math.min(this.requests.length - 1, this.script.length - 1)]!;
  }
}

export const status = (statusCode: number, headers: Record<string, string> = {}): SendResult => ({
  kind: 'response',
  statusCode,
  headers,
  bodyExcerpt: 'ok',
  durationMs: 3,
});

export class RecordingQueue {
  sent: { message: DeliveryMessage; delayS: number }[] = [];
  async schedule(message: DeliveryMessage, delayS: number) {
    this.sent.push({ message, delayS });
  }
  async send(message: DeliveryMessage) {
    this.sent.push({ message, delayS: 0 });
  }
  async enqueue(messages: DeliveryMessage[]) {
    for (const message of messages) this.sent.push({ message, delayS: 0 });
  }
}
