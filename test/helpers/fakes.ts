/**
 * In-memory fakes of the core's ports. The stores are in-memory versions of the DynamoDB stores
 * (apps and endpoints, events, deliveries, housekeeping's), each implementing the same ports the
 * real one does, and checked by the same contract test
 * (test/integration/store-contract.int.test.ts), so that they cannot drift.
 */
import type {
  DeliveryEvents,
  DeliveryStore,
  DeliveryUpdate,
  EndpointSource,
  FinishGuard,
  ParkUpdate,
} from '../../functions/delivery/deliver';
import type { EndpointHealthStore } from '../../functions/endpoints/endpoint-health';
import type {
  HousekeepingApps,
  HousekeepingDeliveries,
  HousekeepingEvents,
  HousekeepingStore,
  OpenItem,
} from '../../functions/delivery/housekeeping';
import type { ReplayDeliveries, ReplayEvents } from '../../functions/delivery/replay';
import type { IngestApps, IngestDeliveries, IngestEvents, PutEventResult } from '../../functions/intake/ingest';
import {
  freshDelivery,
  isActive,
  isFinished,
  RECOVERABLE_STATUSES,
  Status,
  successAttempt,
  type DeliveryKey,
  type DeliveryMessage,
} from '../../functions/delivery/lifecycle';
import type { App, Attempt, Delivery, Endpoint, StoredEvent } from '../../functions/shared/model';
import type { SendResult } from '../../functions/webhook/outcome';
import { deliveryShardOf } from '../../functions/shared/table-layout';
import type { WebhookRequest, WebhookSender } from '../../functions/webhook/webhook';

/** A delivery's partition, as the table's key names it: a record looked for in another is not found. */
const shardOfKey = (k: { eventId: string; shard?: number }) => k.shard ?? deliveryShardOf(k.eventId);
const dkey = (k: DeliveryKey) => `${k.appId}/${k.endpointId}#${shardOfKey(k)}/${k.eventAt}/${k.eventId}`;
const recordKey = (d: Delivery) =>
  dkey({ appId: d.appId, endpointId: d.endpointId, eventAt: d.createdAt, eventId: d.eventId, shard: d.shard });

type Stored = Delivery & { leaseToken?: string };

export class InMemoryApps implements IngestApps, HousekeepingApps, EndpointSource, EndpointHealthStore {
  apps = new Map<string, App>();
  endpoints = new Map<string, Endpoint>();
  disabled: { endpointId: string; reason: string }[] = [];

  putApp(app: App) {
    this.apps.set(app.id, structuredClone(app));
  }
  putEndpoint(e: Endpoint) {
    this.endpoints.set(`${e.appId}/${e.id}`, structuredClone(e));
  }
  endpoint(appId: string, endpointId: string) {
    return this.endpoints.get(`${appId}/${endpointId}`);
  }

  async getAppWithEndpoints(appId: string) {
    const app = this.apps.get(appId);
    if (!app) return null;
    const endpoints = [...this.endpoints.values()].filter((e) => e.appId === appId).map((e) => structuredClone(e));
    return { app: structuredClone(app), endpoints };
  }

  async getApp(appId: string) {
    const app = this.apps.get(appId);
    return app ? structuredClone(app) : null;
  }

  async *appIdPages() {
    yield [...this.apps.keys()];
  }

  async endpointForDelivery(appId: string, endpointId: string, minVersion?: number | 'latest') {
    const e = this.endpoint(appId, endpointId);
    if (e && typeof minVersion === 'number' && e.version < minVersion)
      throw new Error('the fake holds an older endpoint');
    return e ? structuredClone(e) : null;
  }

  async disableEndpoint(appId: string, endpointId: string, reason: string, at: string) {
    const e = this.endpoint(appId, endpointId);
    if (!e) return;
    Object.assign(e, { enabled: false, disabledReason: reason, updatedAt: at, version: e.version + 1 });
    this.disabled.push({ endpointId, reason });
  }
  async markEndpointFailing(appId: string, endpointId: string, at: string) {
    const e = this.endpoint(appId, endpointId);
    if (e && e.failingSince === undefined) e.failingSince = at;
  }
  async markEndpointHealthy(appId: string, endpointId: string) {
    const e = this.endpoint(appId, endpointId);
    if (e) delete e.failingSince;
  }
}

export class InMemoryEvents implements IngestEvents, DeliveryEvents, ReplayEvents, HousekeepingEvents {
  events = new Map<string, StoredEvent>();
  /** Activity markers, as the table's sort keys: `<minute>#<appId>#<shard>`. */
  markers = new Set<string>();
  /** Since when every event has a marker (the real store keeps it in the table). */
  since: string | undefined;

  async markersSince(ifUnset: string) {
    this.since ??= ifUnset;
    return this.since;
  }

  /** Stores an event and (first, as the real store does) its minute's activity marker. */
  put(e: StoredEvent) {
    this.markers.add(`${e.timestamp.slice(0, 16)}#${e.appId}#${e.shard ?? 0}`);
    this.events.set(`${e.appId}/${e.id}`, structuredClone(e));
  }

  async putEventIfAbsent(event: StoredEvent): Promise<PutEventResult> {
    const existing = this.events.get(`${event.appId}/${event.id}`);
    if (existing) return { created: false as const, existing: structuredClone(existing) };
    this.put(event);
    return { created: true as const };
  }
  async getEvent(appId: string, eventId: string) {
    const e = this.events.get(`${appId}/${eventId}`);
    return e ? structuredClone(e) : null;
  }
  async getEventAt(appId: string, eventId: string, timestamp: string) {
    const e = this.events.get(`${appId}/${eventId}`);
    return e && e.timestamp === timestamp ? structuredClone(e) : null;
  }
  async addEndpoint(ref: Pick<StoredEvent, 'appId' | 'id' | 'timestamp'>, endpointId: string) {
    const e = this.events.get(`${ref.appId}/${ref.id}`);
    if (e && e.timestamp === ref.timestamp && !e.endpointIds.includes(endpointId)) e.endpointIds.push(endpointId);
  }
  private inFeedOrder(appId: string) {
    return [...this.events.values()]
      .filter((e) => e.appId === appId)
      .map((e) => ({ e, pos: `${e.timestamp}#${e.id}` }))
      .sort((a, b) => a.pos.localeCompare(b.pos));
  }
  async listFeed(appId: string, after: string | undefined, before: string, limit: number, shards = 1) {
    return this.inFeedOrder(appId)
      .filter(
        ({ e, pos }) => !e.test && (e.shard ?? 0) < shards && (after === undefined || pos > after) && pos < before,
      )
      .slice(0, limit)
      .map(({ e }) => structuredClone(e));
  }
  async *activeIn(from: string, to: string) {
    const lo = from.slice(0, 16);
    const active = [...this.markers]
      .filter((sk) => sk >= lo && sk <= to)
      .map((sk) => {
        const [, appId = '', shard = '0'] = sk.split('#');
        return `${appId}#${shard}`;
      });
    const unique = [...new Set(active)].map((id) => {
      const [appId = '', shard = '0'] = id.split('#');
      return { appId, shard: Number(shard) };
    });
    if (unique.length > 0) yield unique;
  }
  async *acceptedPages(appId: string, shard: number, from: string, to: string) {
    const page = this.inFeedOrder(appId)
      .filter(({ e, pos }) => (e.shard ?? 0) === shard && pos >= from && pos < to)
      .map(({ e }) => ({
        appId: e.appId,
        id: e.id,
        type: e.type,
        timestamp: e.timestamp,
        endpointIds: [...e.endpointIds],
        ...(e.shard ? { shard: e.shard } : {}),
      }));
    if (page.length > 0) yield page;
  }
}

/** The delivery store's fake, and housekeeping's store's (both read and write the same records). */
export class InMemoryDeliveries
  implements DeliveryStore, IngestDeliveries, ReplayDeliveries, HousekeepingDeliveries, HousekeepingStore
{
  records = new Map<string, Stored>();
  attempts: Attempt[] = [];
  checkpoint: string | null = null;
  retriesCheckpoint: string | null = null;

  record(k: DeliveryKey) {
    return this.records.get(dkey(k));
  }

  async getDelivery(k: DeliveryKey) {
    const d = this.records.get(dkey(k));
    if (!d) return null;
    const { leaseToken: _t, ...rest } = structuredClone(d);
    return rest;
  }
  async getDeliveries(ks: DeliveryKey[]) {
    const out: Delivery[] = [];
    for (const k of ks) {
      const d = await this.getDelivery(k);
      if (d) out.push(d);
    }
    return out;
  }
  /** The records of one of an endpoint's partitions (their events' shard) over a span. */
  private inSpan(appId: string, endpointId: string, from: string, to: string, shard: number) {
    return [...this.records.values()].filter(
      (d) =>
        d.appId === appId &&
        d.endpointId === endpointId &&
        shardOfKey(d) === shard &&
        d.createdAt >= from &&
        d.createdAt <= to,
    );
  }
  async recordedBetween(appId: string, endpointId: string, from: string, to: string, shard = 0) {
    return new Set(this.inSpan(appId, endpointId, from, to, shard).map((d) => d.eventId));
  }
  async waitingRetriesBetween(appId: string, endpointId: string, from: string, to: string, shard = 0) {
    return this.inSpan(appId, endpointId, from, to, shard)
      .filter((d) => d.status === Status.retrying && d.dueAt === undefined)
      .sort((a, b) => `${a.createdAt}#${a.eventId}`.localeCompare(`${b.createdAt}#${b.eventId}`))
      .map((d) => {
        const { leaseToken: _t, ...rest } = structuredClone(d);
        return rest;
      });
  }
  async attemptsOf(appId: string, eventId: string) {
    return this.attempts
      .filter((a) => a.appId === appId && a.eventId === eventId)
      .sort((a, b) => a.endpointId.localeCompare(b.endpointId) || a.attempt - b.attempt)
      .map((a) => structuredClone(a));
  }
  async listFailedSince(appId: string, endpointId: string, since: string, limit: number) {
    const items = [...this.records.values()]
      .filter((d) => d.appId === appId && d.endpointId === endpointId && d.createdAt >= since)
      .filter((d) => RECOVERABLE_STATUSES.includes(d.status))
      .sort((a, b) => `${a.createdAt}#${a.eventId}`.localeCompare(`${b.createdAt}#${b.eventId}`));
    return { items: items.slice(0, limit).map((d) => structuredClone(d)), more: items.length > limit };
  }

  /** The condition every unleased or leasing write checks: `prev` attempts made, active, unheld. */
  private mayTake(cur: Stored | undefined, prev: number, now: string) {
    if (!cur) return prev === 0;
    return cur.attempts === prev && isActive(cur.status) && (cur.leaseUntil === undefined || cur.leaseUntil < now);
  }

  async claim(k: DeliveryKey, attempt: number, lease: { token: string; until: string }, now: string) {
    const cur = this.records.get(dkey(k));
    if (!this.mayTake(cur, attempt - 1, now)) return false;
    const d: Stored = cur ?? freshDelivery(k, undefined);
    Object.assign(d, { leaseToken: lease.token, leaseUntil: lease.until });
    // On no index yet: it goes there, due when the lease ends (the real store's openPk).
    d.dueAt ??= lease.until;
    this.records.set(dkey(k), d);
    return true;
  }
  async recordAttempt(a: Attempt) {
    this.attempts.push(structuredClone(a));
  }
  async finish(k: DeliveryKey, guard: FinishGuard, u: DeliveryUpdate) {
    return this.guardedWrite(k, guard, u, (d) => {
      Object.assign(d, { attempts: u.attempts, lastAttemptAt: u.lastAttemptAt });
      if (u.lastStatusCode !== null) d.lastStatusCode = u.lastStatusCode;
      else delete d.lastStatusCode;
      if (u.success) d.success = u.success;
    });
  }
  async park(k: DeliveryKey, guard: FinishGuard, u: ParkUpdate) {
    return this.guardedWrite(k, guard, u, (d) => {
      if (u.reason !== undefined) d.reason = u.reason;
    });
  }
  /** finish's and park's write: guarded by the lease or by where the message found the delivery. */
  private guardedWrite(k: DeliveryKey, guard: FinishGuard, u: ParkUpdate, more: (d: Stored) => void): boolean {
    const cur = this.records.get(dkey(k));
    const ok =
      'leaseToken' in guard
        ? cur?.leaseToken === guard.leaseToken
        : this.mayTake(cur, guard.unleased.attempt - 1, guard.unleased.now);
    if (!ok) return false;
    const d: Stored = cur ?? freshDelivery(k, undefined);
    Object.assign(d, { status: u.status, eventType: u.eventType });
    more(d);
    if (u.nextAttemptAt) d.nextAttemptAt = u.nextAttemptAt;
    else delete d.nextAttemptAt;
    if (u.dueAt) d.dueAt = u.dueAt;
    else delete d.dueAt;
    delete d.leaseToken;
    delete d.leaseUntil;
    delete d.requeues;
    this.records.set(dkey(k), d);
    return true;
  }
  async skip(k: DeliveryKey, eventType: string) {
    const cur = this.records.get(dkey(k));
    if (cur && !isActive(cur.status)) return;
    const d: Stored = cur ?? freshDelivery(k, undefined, true);
    Object.assign(d, { status: Status.skipped, eventType });
    for (const f of ['dueAt', 'nextAttemptAt', 'leaseToken', 'leaseUntil'] as const) delete d[f];
    this.records.set(dkey(k), d);
  }
  async putSkippedDeliveries(ds: Delivery[]) {
    for (const d of ds) this.records.set(recordKey(d), structuredClone(d));
  }
  async openPending(d: Delivery, dueAt: string) {
    if (this.records.has(recordKey(d))) return false;
    this.records.set(recordKey(d), { ...structuredClone(d), dueAt });
    return true;
  }
  async restartDelivery(d: Delivery, dueAt: string, now: string) {
    const cur = this.records.get(recordKey(d));
    if (!cur || cur.attempts !== d.attempts) return false;
    const waiting = cur.status === Status.retrying && (cur.leaseUntil === undefined || cur.leaseUntil < now);
    if (!isFinished(cur.status) && !waiting) return false;
    for (const a of successAttempt(cur)) this.attempts.push(a);
    Object.assign(cur, { status: Status.pending, retryBase: cur.attempts, requeues: 0, dueAt });
    for (const f of ['nextAttemptAt', 'leaseToken', 'leaseUntil', 'success'] as const) delete cur[f];
    return true;
  }
  async listDue(cutoff: string, limit: number): Promise<OpenItem[]> {
    return [...this.records.values()]
      .filter((d) => d.dueAt !== undefined && d.dueAt < cutoff)
      .sort((a, b) => a.dueAt!.localeCompare(b.dueAt!))
      .slice(0, limit)
      .map((d) => {
        const { leaseToken: _t, ...rest } = structuredClone(d);
        return { dueAt: d.dueAt!, delivery: rest };
      });
  }
  async rescheduleDue(item: OpenItem, toDueAt: string, opts: { clearLease?: boolean; planned?: boolean } = {}) {
    const cur = this.records.get(recordKey(item.delivery));
    if (!cur || cur.dueAt !== item.dueAt) return false;
    return this.moveOnIndex(cur, toDueAt, opts);
  }
  private moveOnIndex(cur: Stored, dueAt: string, opts: { clearLease?: boolean; planned?: boolean }) {
    cur.dueAt = dueAt;
    if (!opts.planned) cur.requeues = (cur.requeues ?? 0) + 1;
    if (opts.clearLease) {
      delete cur.leaseToken;
      delete cur.leaseUntil;
    }
    return true;
  }
  async openWaitingRetry(d: Delivery, dueAt: string, opts: { clearLease?: boolean; planned?: boolean } = {}) {
    const cur = this.records.get(recordKey(d));
    // On the open index is `dueAt` set, here (the real store's openPk).
    if (!cur || cur.status !== Status.retrying || cur.attempts !== d.attempts || cur.dueAt !== undefined) return false;
    return this.moveOnIndex(cur, dueAt, opts);
  }
  async reconciledUntil() {
    return this.checkpoint;
  }
  async setReconciledUntil(until: string) {
    if (this.checkpoint === null || this.checkpoint < until) this.checkpoint = until;
  }
  async retriesReconciledUntil() {
    return this.retriesCheckpoint;
  }
  async setRetriesReconciledUntil(until: string) {
    if (this.retriesCheckpoint === null || this.retriesCheckpoint < until) this.retriesCheckpoint = until;
  }
}

/** The fakes of every store, named as dynamoStores names the real ones. */
export function fakeStores() {
  const apps = new InMemoryApps();
  const events = new InMemoryEvents();
  const deliveries = new InMemoryDeliveries();
  return { apps, events, deliveries, housekeeping: deliveries };
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

/**
 * A scheduler (and DLQ) that records what it is given: `now` messages with delay 0, `at`
 * messages with the whole seconds until their time (by `clock`), as SQS would be asked.
 */
export class RecordingScheduler {
  sent: { message: DeliveryMessage; delayS: number }[] = [];
  constructor(private readonly clock: () => number = Date.now) {}
  async now(messages: DeliveryMessage[]) {
    for (const message of messages) this.sent.push({ message, delayS: 0 });
  }
  async at(message: DeliveryMessage, at: Date) {
    this.sent.push({
      message: { ...message, notBefore: at.getTime() },
      delayS: Math.max(0, Math.ceil((at.getTime() - this.clock()) / 1000)),
    });
  }
  async send(message: DeliveryMessage) {
    this.sent.push({ message, delayS: 0 });
  }
}
