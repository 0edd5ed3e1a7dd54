/**
 * The API's documentation, route by route: request schemas are the very zod schemas the
 * handlers validate with; response shapes are described here. scripts/openapi.ts turns this into
 * docs/openapi.yaml, and test/unit/openapi.test.ts checks that the document, this table and the
 * router agree. Not imported by any handler, so none of it reaches a Lambda bundle.
 */
import { z } from 'zod';
import { DELIVERY_STATUSES } from '../delivery/lifecycle';
import {
  createAppSchema,
  createEndpointSchema,
  createEventBatchSchema,
  createEventSchema,
  createEventTypeSchema,
  createKeySchema,
  deliveriesQuerySchema,
  statsQuerySchema,
  feedQuerySchema,
  pageQuerySchema,
  portalAccessSchema,
  recoverSchema,
  resendSchema,
  sendExampleSchema,
  updateEndpointSchema,
  updateEventTypeSchema,
} from './schemas';

const iso = z.string().describe('ISO 8601 date-time');
export const views = {
  App: z.object({ id: z.string(), name: z.string(), createdAt: iso }),
  Endpoint: z.object({
    id: z.string(),
    url: z.string(),
    eventTypes: z.array(z.string()).describe('empty = every event type'),
    description: z.string(),
    enabled: z.boolean(),
    disabledReason: z.string().optional().describe('why the service disabled it, e.g. after a 410 Gone'),
    signature: z
      .union([
        z.object({ scheme: z.literal('standard-webhooks') }),
        z.object({ scheme: z.literal('hmac-sha256'), header: z.string(), prefix: z.string() }),
        z.object({
          scheme: z.literal('standard-webhooks-v1a'),
          publicKey: z.string().describe('whpk_ + base64 of the ed25519 public key that verifies the v1a signatures'),
        }),
      ])
      .describe('how its webhooks are signed'),
    headerNames: z
      .array(z.string())
      .describe('the custom headers sent with every webhook; their values are write-only'),
    auth: z
      .union([
        z.object({ type: z.literal('basic'), username: z.string(), passwordSet: z.literal(true) }),
        z.object({ type: z.literal('bearer'), tokenSet: z.literal(true) }),
        z.object({
          type: z.literal('oauth2-client-credentials'),
          tokenUrl: z.string(),
          clientId: z.string(),
          scope: z.string().optional(),
          audience: z.string().optional(),
          clientSecretSet: z.literal(true),
        }),
      ])
      .optional()
      .describe('how hookrelay authenticates to it; secrets are write-only, shown only as set'),
    rateLimit: z
      .object({ perSecond: z.number() })
      .nullable()
      .describe('at most this many POSTs a second (first attempts and retries together), or null for none'),
    throttle: z
      .object({
        state: z
          .enum(['normal', 'throttled', 'paused'])
          .describe(
            'normal; throttled: hookrelay sends at a lower rate (the receiver answered 429/503, slowed down, or is slow) or holds for its Retry-After; paused: attempts kept failing, deliveries wait unattempted while a probe goes out now and then',
          ),
        perSecond: z.number().optional().describe('the rate it is sent at now, when limited'),
        until: iso.optional().describe("paused: the next probe; throttled: the end of the receiver's Retry-After"),
        reason: z.string().optional().describe('why, e.g. HTTP 429 or 5 failed attempts in a row'),
      })
      .describe('flow control: how hookrelay is sending to this endpoint now'),
    createdAt: iso,
    updatedAt: iso,
  }),
  Secret: z.object({
    key: z
      .string()
      .describe(
        'what a receiver verifies with: the secret (whsec_ + base64 of the key bytes, or the chosen secret), or for standard-webhooks-v1a the whpk_ public key',
      ),
  }),
  Key: z.object({
    id: z.string(),
    key: z.string().describe('shown once; stored only as a hash'),
    name: z.string(),
    createdAt: iso,
  }),
  Accepted: z.object({
    id: z.string(),
    type: z.string(),
    timestamp: iso,
    deliveries: z.number().int().describe('how many endpoints it fans out to'),
  }),
  BatchAccepted: z.object({
    items: z.array(
      z.union([
        z.object({ id: z.string(), deliveries: z.number().int() }),
        z.object({
          error: z.object({
            code: z.string(),
            message: z.string(),
            details: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
          }),
        }),
      ]),
    ),
  }),
  EventStatus: z.object({
    id: z.string(),
    type: z.string(),
    timestamp: iso,
    data: z.record(z.string(), z.unknown()),
    test: z.literal(true).optional().describe('present on a test event (send-example)'),
    deliveries: z.array(
      z.object({
        endpointId: z.string(),
        status: z.enum(DELIVERY_STATUSES),
        attempts: z.number().int(),
        lastStatusCode: z.number().int().nullable(),
        lastAttemptAt: iso.nullable(),
        nextAttemptAt: iso.nullable(),
      }),
    ),
  }),
  Attempts: z.object({
    items: z.array(
      z.object({
        endpointId: z.string(),
        attempt: z.number().int(),
        at: iso,
        statusCode: z.number().int().nullable(),
        durationMs: z.number().int(),
        outcome: z.enum(['succeeded', 'retryable', 'gone', 'forbidden_destination']),
        error: z.string().nullable(),
        responseExcerpt: z.string().nullable().describe('the first bytes of the receiver’s answer'),
      }),
    ),
  }),
  Feed: z.object({
    items: z.array(
      z.object({ id: z.string(), type: z.string(), timestamp: iso, data: z.record(z.string(), z.unknown()) }),
    ),
    nextCursor: z.string().nullable().describe('pass as `after` next time; null only before any event'),
  }),
  Resent: z.object({ deliveries: z.number().int().describe('deliveries put back on their way') }),
  Recovered: z.object({ recovered: z.number().int(), more: z.boolean().describe('call again for the rest') }),
  EventType: z.object({
    name: z.string(),
    description: z.string(),
    schema: z
      .record(z.string(), z.unknown())
      .optional()
      .describe('JSON Schema (2020-12 or draft-07) of the event data'),
    examples: z.array(z.record(z.string(), z.unknown())).describe('example data; the first is what send-example sends'),
    deprecated: z.boolean(),
    createdAt: iso,
    updatedAt: iso,
  }),
  EndpointDelivery: z.object({
    eventId: z.string(),
    eventType: z.string(),
    status: z.enum(DELIVERY_STATUSES),
    attempts: z.number().int(),
    lastStatusCode: z.number().int().nullable(),
    lastAttemptAt: iso.nullable(),
    nextAttemptAt: iso.nullable(),
    createdAt: iso.describe('the event’s time: the log is sorted and windowed by it'),
    test: z.optional(z.literal(true)).describe('set on a test event’s delivery (send-example)'),
    lastError: z
      .string()
      .nullable()
      .describe('why the latest attempt failed (HTTP 500, timeout, connection refused...); null unless it failed'),
  }),
  EndpointDeliveryDetail: z.object({
    eventId: z.string(),
    eventType: z.string(),
    status: z.enum(DELIVERY_STATUSES),
    attempts: z.number().int(),
    lastStatusCode: z.number().int().nullable(),
    lastAttemptAt: iso.nullable(),
    nextAttemptAt: iso.nullable(),
    createdAt: iso,
    test: z.optional(z.literal(true)),
    lastError: z.string().nullable(),
    request: z
      .object({
        method: z.literal('POST'),
        url: z.string(),
        headers: z.record(z.string(), z.string()),
      })
      .describe(
        'the request of the latest attempt (or the first, before it is made), built from the endpoint as it is now: signatures shown by version or prefix, Authorization by scheme, custom header values as •••',
      ),
  }),
  EndpointStats: z.object({
    since: iso,
    until: iso,
    total: z.number().int(),
    byStatus: z.object({
      pending: z.number().int(),
      retrying: z.number().int(),
      succeeded: z.number().int(),
      failed: z.number().int(),
      skipped: z.number().int(),
    }),
    byStatusCode: z.record(z.string(), z.number().int()).describe('last HTTP status of each delivery that got one'),
    successRate: z.number().nullable().describe('succeeded / (succeeded + failed); null when none finished'),
    latencyMs: z
      .object({ p50: z.number().nullable(), p95: z.number().nullable() })
      .describe('response time of the successful attempts'),
    lastFailure: z
      .object({
        eventId: z.string(),
        at: iso.nullable().describe('when its latest attempt was made'),
        status: z.enum(DELIVERY_STATUSES).describe('retrying or failed'),
        statusCode: z.number().int().nullable(),
        error: z.string().nullable(),
      })
      .nullable()
      .describe('the delivery in the window whose latest attempt failed most recently; null when none did'),
    series: z
      .object({
        bucketSeconds: z
          .number()
          .int()
          .describe('the width of each point: 1, 5, 15 or 30 min, 1, 2, 3, 6 or 12 h, a day or a week'),
        points: z
          .array(
            z.object({
              at: iso.describe('the bucket’s start, aligned to UTC'),
              pending: z.number().int(),
              retrying: z.number().int(),
              succeeded: z.number().int(),
              failed: z.number().int(),
              skipped: z.number().int(),
              latencyMs: z.object({ p50: z.number().nullable(), p95: z.number().nullable() }),
            }),
          )
          .describe('at most 64 buckets, oldest first, by event time as the log'),
      })
      .describe('the same figures over time, for a chart'),
    truncated: z.boolean().describe('more than 10,000 deliveries in the window: the figures cover the newest 10,000'),
  }),
  TestSent: z.object({ id: z.string().describe('the test event’s id: poll GET /v1/apps/{appId}/events/{id}') }),
  PortalAccess: z.object({
    url: z.string().describe('the portal with the token in its fragment: /portal#token=...'),
    token: z.string().describe('hrp_...; shown once, stored only as a hash'),
    expiresAt: iso,
    capabilities: z.array(z.enum(['read', 'manage'])),
  }),
  PortalSession: z.object({
    appId: z.string(),
    capabilities: z.array(z.enum(['read', 'manage'])),
    expiresAt: iso,
  }),
  Health: z.object({ ok: z.literal(true) }),
  Error: z.object({
    error: z.object({
      code: z.string(),
      message: z.string(),
      details: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
    }),
  }),
} as const;

export type ViewName = keyof typeof views;

export interface RouteDoc {
  summary: string;
  tag: 'Apps' | 'Keys' | 'Endpoints' | 'Events' | 'Event types' | 'Portal' | 'Health';
  body?: z.core.$ZodType;
  query?: z.core.$ZodType;
  /** Success status and its body (absent for 204); `list`: a page `{items: [view], nextCursor}`. */
  ok: { status: number; view?: ViewName; list?: true };
  /** Error statuses this route can answer besides 401 (and 400 where a body or query exists). */
  errors: number[];
  open?: boolean;
  headers?: Record<string, string>;
}

/** Keyed by `METHOD path`, exactly as the router's table. */
export const routeDocs: Record<string, RouteDoc> = {
  'GET /health': { summary: 'Liveness', tag: 'Health', ok: { status: 200, view: 'Health' }, errors: [], open: true },
  'POST /v1/apps': {
    summary: 'Create an app (admin key only)',
    tag: 'Apps',
    body: createAppSchema,
    ok: { status: 201, view: 'App' },
    errors: [403],
  },
  'GET /v1/apps/{appId}': { summary: 'Get an app', tag: 'Apps', ok: { status: 200, view: 'App' }, errors: [404] },
  'POST /v1/apps/{appId}/keys': {
    summary: 'Create an app-scoped key (admin key only); the key is shown once',
    tag: 'Keys',
    body: createKeySchema,
    ok: { status: 201, view: 'Key' },
    errors: [403, 404],
  },
  'DELETE /v1/apps/{appId}/keys/{keyId}': {
    summary: 'Revoke a key, at once (admin key only)',
    tag: 'Keys',
    ok: { status: 204 },
    errors: [403, 404],
  },
  'POST /v1/apps/{appId}/endpoints': {
    summary: 'Register an endpoint',
    tag: 'Endpoints',
    body: createEndpointSchema,
    ok: { status: 201, view: 'Endpoint' },
    errors: [404, 422],
  },
  'GET /v1/apps/{appId}/endpoints': {
    summary: 'List endpoints, a page at a time',
    tag: 'Endpoints',
    query: pageQuerySchema,
    ok: { status: 200, view: 'Endpoint', list: true },
    errors: [404],
  },
  'GET /v1/apps/{appId}/endpoints/{endpointId}': {
    summary: 'Get an endpoint',
    tag: 'Endpoints',
    ok: { status: 200, view: 'Endpoint' },
    errors: [404],
  },
  'PATCH /v1/apps/{appId}/endpoints/{endpointId}': {
    summary:
      'Change an endpoint (enabling it again clears why it was disabled); a new secret or scheme signs from the next attempt, the previous secret beside it for 24 h',
    tag: 'Endpoints',
    body: updateEndpointSchema,
    ok: { status: 200, view: 'Endpoint' },
    errors: [404, 409, 422],
  },
  'DELETE /v1/apps/{appId}/endpoints/{endpointId}': {
    summary: 'Delete an endpoint; deliveries still on their way to it are skipped',
    tag: 'Endpoints',
    ok: { status: 204 },
    errors: [404],
  },
  'GET /v1/apps/{appId}/endpoints/{endpointId}/secret': {
    summary: 'The endpoint’s current signing secret (for standard-webhooks-v1a: its public key)',
    tag: 'Endpoints',
    ok: { status: 200, view: 'Secret' },
    errors: [404],
  },
  'POST /v1/apps/{appId}/endpoints/{endpointId}/secret/rotate': {
    summary: 'Rotate the signing secret (or key pair); the previous one keeps signing beside the new one for 24 h',
    tag: 'Endpoints',
    ok: { status: 200, view: 'Secret' },
    errors: [404, 409],
  },
  'POST /v1/apps/{appId}/endpoints/{endpointId}/recover': {
    summary: 'Send again every delivery to this endpoint that failed or was skipped for events since a time',
    tag: 'Endpoints',
    body: recoverSchema,
    ok: { status: 202, view: 'Recovered' },
    errors: [404, 409],
  },
  'POST /v1/apps/{appId}/events': {
    summary: 'Send an event; idempotent on `id` or the Idempotency-Key header',
    tag: 'Events',
    body: createEventSchema,
    ok: { status: 202, view: 'Accepted' },
    errors: [404, 409, 413, 415],
    headers: { 'Idempotency-Key': 'used as the event id when the body has none' },
  },
  'POST /v1/apps/{appId}/events/batch': {
    summary: 'Send up to 100 events; each succeeds or fails on its own, answered in input order',
    tag: 'Events',
    body: createEventBatchSchema,
    ok: { status: 202, view: 'BatchAccepted' },
    errors: [404, 413, 415],
  },
  'GET /v1/apps/{appId}/events': {
    summary: 'The catch-up feed: every event of the app once, oldest first',
    tag: 'Events',
    query: feedQuerySchema,
    ok: { status: 200, view: 'Feed' },
    errors: [404],
  },
  'GET /v1/apps/{appId}/events/{eventId}': {
    summary: 'An event and the status of each of its deliveries (the polling fallback)',
    tag: 'Events',
    ok: { status: 200, view: 'EventStatus' },
    errors: [404],
  },
  'GET /v1/apps/{appId}/events/{eventId}/attempts': {
    summary: 'Every attempt to deliver an event',
    tag: 'Events',
    ok: { status: 200, view: 'Attempts' },
    errors: [404],
  },
  'POST /v1/apps/{appId}/events/{eventId}/resend': {
    summary: 'Send an event again, to one endpoint or to all its endpoints, with the same webhook-id',
    tag: 'Events',
    body: resendSchema,
    ok: { status: 202, view: 'Resent' },
    errors: [404, 409],
  },
  'POST /v1/event-types': {
    summary: 'Add an event type to the catalog (admin key only); examples must validate against its schema',
    tag: 'Event types',
    body: createEventTypeSchema,
    ok: { status: 201, view: 'EventType' },
    errors: [403, 409, 422],
  },
  'GET /v1/event-types': {
    summary: 'The event-type catalog, by name, a page at a time (any key, a portal link included)',
    tag: 'Event types',
    query: pageQuerySchema,
    ok: { status: 200, view: 'EventType', list: true },
    errors: [429],
  },
  'GET /v1/event-types/{name}': {
    summary: 'An event type, with its schema and examples',
    tag: 'Event types',
    ok: { status: 200, view: 'EventType' },
    errors: [404, 429],
  },
  'PATCH /v1/event-types/{name}': {
    summary: 'Change an event type (admin key only); `schema: null` removes the schema',
    tag: 'Event types',
    body: updateEventTypeSchema,
    ok: { status: 200, view: 'EventType' },
    errors: [403, 404, 409, 422],
  },
  'DELETE /v1/event-types/{name}': {
    summary: 'Remove an event type from the catalog (admin key only); endpoints subscribed to it keep their lists',
    tag: 'Event types',
    ok: { status: 204 },
    errors: [403, 404],
  },
  'POST /v1/apps/{appId}/endpoints/{endpointId}/send-example': {
    summary: 'Send the first example of an event type to this endpoint alone, as a test event',
    tag: 'Endpoints',
    body: sendExampleSchema,
    ok: { status: 202, view: 'TestSent' },
    errors: [403, 404, 409, 422, 429],
  },
  'GET /v1/apps/{appId}/endpoints/{endpointId}/deliveries': {
    summary:
      'The endpoint’s deliveries, newest first, by event time (the last 24 h unless since/until say otherwise), each with its latest attempt’s error; `eventId` finds that event’s delivery whatever its age. A first attempt still in flight shows once it has an outcome',
    tag: 'Endpoints',
    query: deliveriesQuerySchema,
    ok: { status: 200, view: 'EndpointDelivery', list: true },
    errors: [404, 429],
  },
  'GET /v1/apps/{appId}/endpoints/{endpointId}/deliveries/{eventId}': {
    summary:
      'One event’s delivery to the endpoint, with the request its latest attempt sent (secrets hidden); 404 when the event does not go to this endpoint',
    tag: 'Endpoints',
    ok: { status: 200, view: 'EndpointDeliveryDetail' },
    errors: [404, 429],
  },
  'GET /v1/apps/{appId}/endpoints/{endpointId}/stats': {
    summary:
      'The endpoint’s deliveries since a time: counts by status and HTTP code, success rate, latency p50/p95, the same over time, and the latest failure',
    tag: 'Endpoints',
    query: statsQuerySchema,
    ok: { status: 200, view: 'EndpointStats' },
    errors: [404, 429],
  },
  'POST /v1/apps/{appId}/portal-access': {
    summary: 'Mint a portal link for the app (admin key or the app’s key); the token is shown once',
    tag: 'Portal',
    body: portalAccessSchema,
    ok: { status: 201, view: 'PortalAccess' },
    errors: [403, 404],
  },
  'DELETE /v1/apps/{appId}/portal-access': {
    summary: 'End every portal link of the app, at once',
    tag: 'Portal',
    ok: { status: 204 },
    errors: [403, 404],
  },
  'GET /v1/portal/session': {
    summary: 'What the calling portal link may do, and until when (portal links only)',
    tag: 'Portal',
    ok: { status: 200, view: 'PortalSession' },
    errors: [403, 429],
  },
};
