/** The domain's records, as the core sees them (storage layout lives in the DynamoDB adapter). */

/** A delivery's states; the rest of the code names them through this object. */
export const Status = {
  /** Waiting for its first attempt (or the first of a send-again). */
  pending: 'pending',
  /** An attempt failed; the next one is scheduled. */
  retrying: 'retrying',
  succeeded: 'succeeded',
  /** Exhausted, or failed in a way no retry changes; its message is in the DLQ. */
  failed: 'failed',
  /** Not attempted: the endpoint was disabled or deleted. */
  skipped: 'skipped',
} as const;
export type DeliveryStatus = (typeof Status)[keyof typeof Status];
export const DELIVERY_STATUSES = [
  Status.pending,
  Status.retrying,
  Status.succeeded,
  Status.failed,
  Status.skipped,
] as const;

/** `rateLimit` on create and PATCH: at most `perSecond` POSTs a second, or none (null). See functions/flow/. */
export interface RateLimit {
  perSecond: number;
}

/** The stored state of an endpoint that is not normal. */
export interface StoredThrottle {
  state: 'throttled' | 'paused';
  /** Throttled: the rate hookrelay has chosen (adaptive); absent while it only isolates (slow). */
  perSecond?: number;
  /** Paused: when the next probe may go; throttled: the end of a receiver's `Retry-After`. */
  until?: string;
  /** Why, for people: `HTTP 429`, `5 failed attempts in a row (HTTP 500)`, `slow: no answer within 1000 ms`. */
  reason: string;
  /** When this state was set: between containers, the newest wins. */
  since: string;
  /** Paused: the wait between probes, doubled at each failed probe. */
  probeEveryMs?: number;
  /** Throttled because the endpoint answers slowly: its attempts take the isolation lane. */
  slow?: true;
}

/** An event's place in its app's feed: accept time, then id, so equal times still order. */
export const feedPosition = (e: Pick<StoredEvent, 'timestamp' | 'id'>) => `${e.timestamp}#${e.id}`;

export interface App {
  id: string;
  name: string;
  createdAt: string;
  /**
   * How many partitions the app's events are spread over (1 when absent): raised for an app that
   * sends more than one partition takes (~1,000 writes a second). It only grows, so a reader that
   * reads this many partitions never misses an event written with fewer.
   */
  eventShards?: number;
  /** Refuse events whose type the catalog does not list (422); absent = false, any type goes. */
  knownEventTypesOnly?: boolean;
}

export interface EndpointSecret {
  /**
   * A symmetric secret: `whsec_` + base64 of random key bytes, or a string the owner chose.
   * An ed25519 signing key (the `standard-webhooks-v1a` scheme): `whsk_` + base64 of its seed.
   */
  key: string;
  createdAt: string;
  /** Set when a rotation replaced this secret: it keeps signing until then. */
  expiresAt?: string;
}

/** How the endpoint's webhooks are signed (absent = `standard-webhooks`). */
export type EndpointSignature =
  | { scheme: 'standard-webhooks' }
  | { scheme: 'hmac-sha256'; header: string; prefix: string }
  | { scheme: 'standard-webhooks-v1a' };

export type SignatureScheme = EndpointSignature['scheme'];

/** How hookrelay authenticates to the endpoint. Every secret here is write-only in the API. */
export type EndpointAuth =
  | { type: 'basic'; username: string; password: string }
  | { type: 'bearer'; token: string }
  | {
      type: 'oauth2-client-credentials';
      tokenUrl: string;
      clientId: string;
      clientSecret: string;
      scope?: string;
      audience?: string;
    };

export interface Endpoint {
  id: string;
  appId: string;
  url: string;
  /** Empty = every event type. */
  eventTypes: string[];
  description: string;
  enabled: boolean;
  /** Why the service disabled it (e.g. `410 Gone`), if it did. */
  disabledReason?: string;
  /** Since when every attempt to it has failed (cleared by a success); drives auto-disable. */
  failingSince?: string;
  createdAt: string;
  updatedAt: string;
  secrets: EndpointSecret[];
  /** Absent = Standard Webhooks (`v1`, HMAC-SHA256 of "id.timestamp.body"). */
  signature?: EndpointSignature;
  /** Extra request headers, sent as given; their values are secrets (never logged or shown). */
  headers?: Record<string, string>;
  auth?: EndpointAuth;
  /**
   * `strict`: the events that share an ordering key reach it one at a time, in accept order
   * (docs/ordering.md). Absent: `none`, no ordering.
   */
  ordering?: 'strict';
  /** At most this many POSTs a second (absent: no limit). */
  rateLimit?: RateLimit;
  /**
   * Flow control's state when not normal (throttled or paused), written by the delivery workers
   * only when it changes; it never bumps `version` (it is not the owner's change).
   */
  throttle?: StoredThrottle;
  /** Bumped on every change; updates are conditional on it (optimistic concurrency). */
  version: number;
}

export interface StoredEvent {
  id: string;
  appId: string;
  type: string;
  /** ISO 8601 time the event was accepted. */
  timestamp: string;
  /** The event's `data`, kept as the exact JSON text the producer sent. */
  dataJson: string;
  /** sha256 of the request that created it, for idempotent replays. */
  requestHash: string;
  /** Endpoints it fans out to (the deliveries it owns). */
  endpointIds: string[];
  /** Endpoints that were disabled at accept time: deliveries recorded as skipped. */
  skippedEndpointIds: string[];
  /** A test event (send-example): it goes to one endpoint and never into the catch-up feed. */
  test?: boolean;
  /** The producer's ordering key: strict endpoints receive a key's events one at a time, in order. */
  orderingKey?: string;
  /** The endpoints that were strict when it was accepted: their deliveries go through the ordered lane. */
  orderedEndpointIds?: string[];
  /** Which of its app's event partitions holds it (0 when absent; see App.eventShards). */
  shard?: number;
}

/** What housekeeping's reconcile needs of an event: its place, its type, its fan-out and its order. */
export type AcceptedEventRef = Pick<
  StoredEvent,
  'appId' | 'id' | 'type' | 'timestamp' | 'endpointIds' | 'shard' | 'orderingKey' | 'orderedEndpointIds'
>;

/** A strict delivery's place: its event's ordering key (absent: the endpoint's events without one). */
export interface DeliveryOrder {
  key?: string;
}

/**
 * A delivery's record: written with its first outcome (a pending first attempt has none: its
 * event stands for it), or when housekeeping or a send-again gives it one.
 */
export interface Delivery {
  appId: string;
  eventId: string;
  endpointId: string;
  status: DeliveryStatus;
  /** The event's type, so an endpoint's log can be filtered by it. */
  eventType?: string;
  /** Attempts made so far. */
  attempts: number;
  lastStatusCode?: number;
  lastAttemptAt?: string;
  nextAttemptAt?: string;
  /** A worker holds the current attempt until then. */
  leaseUntil?: string;
  /** When housekeeping should look at it if nothing else happens (absent once finished). */
  dueAt?: string;
  /**
   * The successful attempt, kept on the delivery instead of an attempt record of its own (one
   * write less per delivery); failed attempts each have their record.
   */
  success?: { durationMs: number; responseExcerpt: string | null };
  /** Attempts made before the last resend: the retry schedule restarts from there. */
  retryBase?: number;
  /** Times housekeeping re-drove it without progress. */
  requeues?: number;
  /** The event's accept time: deliveries date from their event (and are keyed by it). */
  createdAt: string;
  /**
   * Its event's shard, when the event's id does not name it (an id the producer chose): its
   * record is in that shard's partition (table-layout.ts, carriedShard).
   */
  shard?: number;
  /** Set on a strict endpoint's delivery: it goes through its key's line (the ordered lane). */
  order?: DeliveryOrder;
  /** Why it failed when no attempt says so (`skipped by ...`: the skip route failed a key's head). */
  reason?: string;
}

export type AttemptOutcome = 'succeeded' | 'retryable' | 'gone' | 'forbidden_destination';

export interface Attempt {
  appId: string;
  eventId: string;
  endpointId: string;
  attempt: number;
  at: string;
  statusCode: number | null;
  durationMs: number;
  outcome: AttemptOutcome;
  /** Why it failed, for people: `HTTP 500`, `timeout after 10000 ms`, `connection refused`... */
  error: string | null;
  /** The first bytes of the receiver's answer. */
  responseExcerpt: string | null;
}
