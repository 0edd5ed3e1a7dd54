/**
 * What the API answers, view by view: the response bodies docs/openapi.yaml describes. Only the
 * OpenAPI generator (scripts/openapi.ts) reads these schemas; routes.ts names them by their key,
 * as a type, so none of this reaches a Lambda bundle.
 */
import { z } from 'zod';
import { DELIVERY_STATUSES } from '../delivery/lifecycle';

const iso = z.string().describe('ISO 8601 date-time');
export const views = {
  App: z.object({
    id: z.string(),
    name: z.string(),
    createdAt: iso,
    eventShards: z
      .number()
      .int()
      .optional()
      .describe("partitions the app's events are spread over, when raised above 1 (PUT .../event-shards)"),
    knownEventTypesOnly: z
      .boolean()
      .optional()
      .describe('true: events of a type the catalog does not list are refused (422); absent: any type goes'),
  }),
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
    ordering: z
      .enum(['none', 'strict'])
      .describe('strict: the events that share an orderingKey arrive one at a time, in accept order'),
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
    orderingKey: z.string().optional().describe("the producer's ordering key, when it gave one"),
    deliveries: z.array(
      z.object({
        endpointId: z.string(),
        status: z.enum(DELIVERY_STATUSES),
        attempts: z.number().int(),
        lastStatusCode: z.number().int().nullable(),
        lastAttemptAt: iso.nullable(),
        nextAttemptAt: iso.nullable(),
        reason: z
          .string()
          .optional()
          .describe('why it failed when no attempt says so, e.g. "skipped by the admin key"'),
        waitingFor: z
          .object({ eventId: z.string(), attempts: z.number().int(), nextAttemptAt: iso })
          .optional()
          .describe(
            "a strict endpoint's delivery waiting behind an earlier event of its key whose delivery failed an attempt and waits for the next",
          ),
      }),
    ),
  }),
  Skipped: z.object({
    eventId: z.string().describe('the event whose delivery held the key: now failed, its dead letter in the DLQ'),
    orderingKey: z.string().nullable().describe('null: the endpoint’s events without a key'),
  }),
  HeldKeys: z.object({
    items: z.array(
      z.object({
        orderingKey: z.string().nullable().describe('null: the endpoint’s events without a key'),
        eventId: z.string().describe('the head: the event whose delivery holds the key'),
        attempts: z.number().int(),
        nextAttemptAt: iso,
        lastError: z.string().nullable(),
        since: iso.nullable().describe('when the head first failed'),
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
    validate: z
      .boolean()
      .describe(
        'true: events of this type whose data breaks the schema are refused (422); false: the schema is documentation',
      ),
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
