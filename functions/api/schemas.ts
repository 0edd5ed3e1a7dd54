/**
 * Request schemas: the one place that says what a valid request is. The HTTP edge runs them and
 * maps their issues to the contract's error details; the OpenAPI check reads them too.
 */
// zod/mini: the same validation as zod's classic API at a twentieth of the bundle (16 KB
// minified instead of 450 KB), which is most of a Lambda's cold start. English messages are
// loaded explicitly: mini ships with none.
import * as z from 'zod/mini';
import en from 'zod/v4/locales/en.js';
import { ValidationError, type ErrorDetail } from '../shared/errors';

z.config(en());
import { EVENT_ID_PATTERN } from '../shared/ids';
import { DELIVERY_STATUSES } from '../delivery/lifecycle';
import { RATE_LIMIT_MAX, RATE_LIMIT_MIN } from '../flow/throttle';
import { HEADER_NAME_PATTERN, HEADER_VALUE_PATTERN, reservedHeaderReason } from '../webhook/endpoint-options';
import { ORDERING_KEY_PATTERN, ORDERING_MODES } from '../ordering/ordering';

export const LIMITS = {
  /** Serialized `data` of one event. SQS messages carry only references, so the bound is DynamoDB's 400 KB item. */
  eventDataBytes: 256 * 1024,
  /** Whole request body (a batch of events). API Gateway allows 10 MB. */
  requestBodyBytes: 6 * 1024 * 1024,
  /** The request line and headers together: API Gateway's own limit, enforced locally as on AWS. */
  requestHeaderBytes: 10 * 1024,
  /**
   * Objects and arrays nested in a request body. Deeper data overflows the stack of recursive code
   * (JSON.stringify here, parsers of consumers: Ruby's JSON stops at 100, serde_json at 128).
   */
  jsonDepth: 64,
  eventTypeLength: 128,
  eventTypesPerEndpoint: 100,
  endpointsPerApp: 100,
  urlLength: 2048,
  nameLength: 256,
  descriptionLength: 1024,
  pageSizeMax: 250,
  pageSizeDefault: 50,
  /** An event type's schema and examples together, serialized (the catalog item stays far below 400 KB). */
  eventTypeBytes: 64 * 1024,
  examplesPerEventType: 10,
  /** A portal link lives at least an hour, at most a week; a day by default. */
  portalTtlMinS: 3_600,
  portalTtlMaxS: 604_800,
  portalTtlDefaultS: 86_400,
  /** A chosen endpoint secret: printable ASCII characters. */
  secretLength: { min: 16, max: 256 },
  headersPerEndpoint: 20,
  headerNameLength: 128,
  headerValueLength: 1024,
  /** All custom headers together (names and values): receivers commonly cap headers at 8-16 KB. */
  headersBytes: 8 * 1024,
  signaturePrefixLength: 64,
  /** Auth parts (user names, passwords, tokens, client ids and secrets, scopes, audiences). */
  authPartLength: 2048,
} as const;

export const EVENT_TYPE_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.:/-]*$/;

const max = (n: number) => z.maxLength(n, `must be at most ${n} characters`);
const nonEmpty = z.minLength(1, 'must not be empty');

const eventType = z
  .string({ error: 'must be a string' })
  .check(
    nonEmpty,
    max(LIMITS.eventTypeLength),
    z.regex(EVENT_TYPE_PATTERN, 'may contain only letters, digits and _ . : / - and must start with a letter or digit'),
  );

export const eventIdSchema = z
  .string({ error: 'must be a string' })
  .check(
    z.regex(
      EVENT_ID_PATTERN,
      'must be 1-128 characters of letters, digits and _ . : - starting with a letter or digit',
    ),
  );

/** An event's ordering key (docs/ordering.md). */
export const orderingKeySchema = z
  .string({ error: 'must be a string' })
  .check(z.regex(ORDERING_KEY_PATTERN, 'must be 1-128 characters of letters, digits and . _ : / -'));

const ordering = z.enum(ORDERING_MODES, { error: `must be one of ${ORDERING_MODES.join(', ')}` });

const eventTypes = z
  .array(eventType, { error: 'must be an array of event types' })
  .check(z.maxLength(LIMITS.eventTypesPerEndpoint, `must hold at most ${LIMITS.eventTypesPerEndpoint} event types`));

const pageSize = z._default(
  z.coerce
    .number({ error: 'must be a number' })
    .check(
      z.multipleOf(1, 'must be a whole number'),
      z.minimum(1, 'must be at least 1'),
      z.maximum(LIMITS.pageSizeMax, `must be at most ${LIMITS.pageSizeMax}`),
    ),
  LIMITS.pageSizeDefault,
);

const knownEventTypesOnly = z.optional(z.boolean({ error: 'must be true or false' }));

export const createAppSchema = z.strictObject({
  name: z.string({ error: 'is required and must be a string' }).check(z.trim(), nonEmpty, max(LIMITS.nameLength)),
  knownEventTypesOnly,
});

/** An app's event partitions: 1 to 32 (one character of a generated id names the shard). */
export const eventShardsSchema = z.strictObject({
  eventShards: z
    .number({ error: 'is required and must be a whole number from 1 to 32' })
    .check(z.int({ error: 'must be a whole number' }), z.gte(1, 'must be at least 1'), z.lte(32, 'must be at most 32')),
});

export const updateAppSchema = z
  .strictObject({
    name: z.optional(z.string({ error: 'must be a string' }).check(z.trim(), nonEmpty, max(LIMITS.nameLength))),
    knownEventTypesOnly,
  })
  .check(z.refine((v) => Object.keys(v).length > 0, 'must change at least one of name, knownEventTypesOnly'));

const PRINTABLE = /^[\x20-\x7e]*$/;
const printable = z.regex(PRINTABLE, 'must hold printable ASCII characters only');

const headerName = z
  .string({ error: 'must be a string' })
  .check(
    nonEmpty,
    max(LIMITS.headerNameLength),
    z.regex(HEADER_NAME_PATTERN, "must be an HTTP header name: letters, digits and ! # $ % & ' * + . ^ _ ` | ~ -"),
  );

/** How the endpoint's webhooks are signed; see webhook/signing.ts. */
export const signatureSchema = z.discriminatedUnion(
  'scheme',
  [
    z.strictObject({ scheme: z.literal('standard-webhooks') }),
    z.strictObject({
      scheme: z.literal('hmac-sha256'),
      header: z.optional(
        headerName.check(
          z.superRefine((name, ctx) => {
            const reason = reservedHeaderReason(name);
            if (reason) ctx.issues.push({ code: 'custom', message: reason, input: name });
          }),
        ),
      ),
      prefix: z.optional(z.string({ error: 'must be a string' }).check(max(LIMITS.signaturePrefixLength), printable)),
    }),
    z.strictObject({ scheme: z.literal('standard-webhooks-v1a') }),
  ],
  { error: 'scheme must be one of standard-webhooks, hmac-sha256, standard-webhooks-v1a' },
);

/** A signing secret the endpoint's owner chose (e.g. the one a receiver is configured with). */
const secretSchema = z
  .string({ error: 'must be a string' })
  .check(
    z.minLength(LIMITS.secretLength.min, `must be at least ${LIMITS.secretLength.min} characters`),
    max(LIMITS.secretLength.max),
    printable,
  );

/** Extra headers sent with every webhook; names checked here, reserved ones refused. */
const headersSchema = z
  .record(z.string(), z.string({ error: 'must be a string' }), { error: 'must be an object of header names to values' })
  .check(
    z.superRefine((headers, ctx) => {
      const names = Object.keys(headers);
      const issue = (message: string, path: string[] = []) =>
        ctx.issues.push({ code: 'custom', message, input: headers, path });
      if (names.length > LIMITS.headersPerEndpoint)
        issue(`must hold at most ${LIMITS.headersPerEndpoint} headers, got ${names.length}`);
      const seen = new Set<string>();
      let bytes = 0;
      for (const name of names) {
        const value = headers[name] ?? '';
        bytes += name.length + value.length + 4;
        const result = headerName.safeParse(name);
        if (!result.success) issue(result.error.issues[0]?.message ?? 'is not a header name', [name]);
        const reserved = reservedHeaderReason(name);
        if (reserved) issue(reserved, [name]);
        if (seen.has(name.toLowerCase())) issue('is given twice (header names are case-insensitive)', [name]);
        seen.add(name.toLowerCase());
        if (value.length > LIMITS.headerValueLength)
          issue(`must be at most ${LIMITS.headerValueLength} characters`, [name]);
        else if (!HEADER_VALUE_PATTERN.test(value))
          issue('must be printable ASCII characters (tabs allowed), without leading or trailing white space', [name]);
      }
      if (bytes > LIMITS.headersBytes) issue(`must total at most ${LIMITS.headersBytes} bytes, names and values`);
    }),
  );

const authPart = (what: string, pattern: RegExp = PRINTABLE, message = 'must hold printable ASCII characters only') =>
  z.string({ error: `is required: ${what}` }).check(nonEmpty, max(LIMITS.authPartLength), z.regex(pattern, message));
const optionalAuthPart = (what: string) => z.optional(authPart(what));

/** How hookrelay authenticates to the endpoint. Its secrets are write-only. */
export const authSchema = z.discriminatedUnion(
  'type',
  [
    z.strictObject({
      type: z.literal('basic'),
      username: authPart('the user name', /^[\x20-\x39\x3b-\x7e]*$/, 'must be printable ASCII without ":"'),
      password: authPart('the password'),
    }),
    z.strictObject({
      type: z.literal('bearer'),
      token: authPart('the token', /^[\x21-\x7e]*$/, 'must be printable ASCII without spaces'),
    }),
    z.strictObject({
      type: z.literal('oauth2-client-credentials'),
      tokenUrl: z.string({ error: 'is required: the token endpoint URL' }).check(nonEmpty, max(LIMITS.urlLength)),
      clientId: authPart('the client id'),
      clientSecret: authPart('the client secret'),
      scope: optionalAuthPart('the scope'),
      audience: optionalAuthPart('the audience'),
    }),
  ],
  { error: 'type must be one of basic, bearer, oauth2-client-credentials' },
);

/**
 * `rateLimit`: at most `perSecond` POSTs a second to the endpoint (first attempts and retries
 * together, across every instance), or null for none. See functions/flow.
 */
const rateLimitSchema = z.nullable(
  z.strictObject({
    perSecond: z
      .number({ error: `is required: a number of requests a second, ${RATE_LIMIT_MIN} to ${RATE_LIMIT_MAX}` })
      .check(
        z.gte(RATE_LIMIT_MIN, `must be at least ${RATE_LIMIT_MIN} (one request every 10 s)`),
        z.lte(RATE_LIMIT_MAX, `must be at most ${RATE_LIMIT_MAX}`),
      ),
  }),
);

/** The endpoint fields whose problems are a 422 (well-formed JSON, options that cannot be used). */
export const ENDPOINT_OPTION_FIELDS: ReadonlySet<string> = new Set(['signature', 'secret', 'headers', 'auth']);

export const createEndpointSchema = z.strictObject({
  url: z.string({ error: 'is required and must be a string' }).check(nonEmpty, max(LIMITS.urlLength)),
  eventTypes: z.optional(eventTypes),
  description: z.optional(z.string({ error: 'must be a string' }).check(max(LIMITS.descriptionLength))),
  enabled: z.optional(z.boolean({ error: 'must be true or false' })),
  signature: z.optional(signatureSchema),
  secret: z.optional(secretSchema),
  headers: z.optional(headersSchema),
  auth: z.optional(authSchema),
  /** `strict`: a key's events one at a time, in accept order; `none` (the default): no order. */
  ordering: z.optional(ordering),
  rateLimit: z.optional(rateLimitSchema),
});

export const updateEndpointSchema = z
  .strictObject({
    url: z.optional(z.string({ error: 'must be a string' }).check(nonEmpty, max(LIMITS.urlLength))),
    eventTypes: z.optional(eventTypes),
    description: z.optional(z.string({ error: 'must be a string' }).check(max(LIMITS.descriptionLength))),
    enabled: z.optional(z.boolean({ error: 'must be true or false' })),
    signature: z.optional(signatureSchema),
    /** A new secret: it signs from now on, the previous one beside it for the rotation overlap. */
    secret: z.optional(secretSchema),
    /** Replaces every custom header; null or {} removes them. */
    headers: z.optional(z.nullable(headersSchema)),
    /** Replaces the endpoint's auth; null removes it. */
    auth: z.optional(z.nullable(authSchema)),
    /** Applies to events accepted from now on; a key's events already in line keep their lane. */
    ordering: z.optional(ordering),
    /** Replaces the endpoint's rate limit; null removes it. */
    rateLimit: z.optional(rateLimitSchema),
  })
  .check(
    z.refine(
      (v) => Object.keys(v).length > 0,
      'must change at least one of url, eventTypes, description, enabled, signature, secret, headers, auth, rateLimit, ordering',
    ),
  );

export const createKeySchema = z.strictObject({
  name: z.optional(z.string({ error: 'must be a string' }).check(max(LIMITS.nameLength))),
});

export const resendSchema = z.strictObject({
  endpointId: z.optional(z.string({ error: 'must be a string' }).check(nonEmpty, max(64))),
});

export const recoverSchema = z.strictObject({
  since: z.iso.datetime({ offset: true, error: 'must be an ISO 8601 date-time, e.g. 2026-11-22T10:00:00Z' }),
});

export const feedQuerySchema = z.object({
  limit: pageSize,
  after: z.optional(z.string().check(max(1024))),
});

export const createEventSchema = z.strictObject({
  type: eventType,
  data: z.record(z.string(), z.unknown(), { error: 'is required and must be a JSON object' }),
  id: z.optional(eventIdSchema),
  /** Strict endpoints receive the events that share it one at a time, in accept order. */
  orderingKey: z.optional(orderingKeySchema),
});

/** POST .../ordering/skip: the key whose head to fail (absent or null: the events without a key). */
export const orderingSkipSchema = z.strictObject({
  orderingKey: z.optional(z.nullable(orderingKeySchema)),
});

export const createEventBatchSchema = z.strictObject({
  events: z
    .array(z.unknown(), { error: 'is required and must be an array' })
    .check(z.minLength(1, 'must hold at least one event'), z.maxLength(100, 'must hold at most 100 events')),
});

export const pageQuerySchema = z.object({
  limit: pageSize,
  cursor: z.optional(z.string().check(max(1024))),
});

// ---- the event-type catalog, test events, portal links --------------------------------------

/** An event type's name, as the catalog and the routes take it. */
export const eventTypeNameSchema = eventType;

const jsonObject = z.record(z.string(), z.unknown(), { error: 'must be a JSON object' });
const examples = z
  .array(jsonObject, { error: 'must be an array of JSON objects (example event data)' })
  .check(z.maxLength(LIMITS.examplesPerEventType, `must hold at most ${LIMITS.examplesPerEventType} examples`));
const description = z.string({ error: 'must be a string' }).check(max(LIMITS.descriptionLength));

export const createEventTypeSchema = z.strictObject({
  name: eventType,
  description: z.optional(description),
  schema: z.optional(z.record(z.string(), z.unknown(), { error: 'must be a JSON Schema object' })),
  examples: z.optional(examples),
  deprecated: z.optional(z.boolean({ error: 'must be true or false' })),
  validate: z.optional(z.boolean({ error: 'must be true or false' })),
});

export const updateEventTypeSchema = z
  .strictObject({
    description: z.optional(description),
    schema: z.optional(
      z.nullable(z.record(z.string(), z.unknown(), { error: 'must be a JSON Schema object, or null to remove it' })),
    ),
    examples: z.optional(examples),
    deprecated: z.optional(z.boolean({ error: 'must be true or false' })),
    validate: z.optional(z.boolean({ error: 'must be true or false' })),
  })
  .check(
    z.refine(
      (v) => Object.keys(v).length > 0,
      'must change at least one of description, schema, examples, deprecated, validate',
    ),
  );

export const sendExampleSchema = z.strictObject({ eventType });

const isoTime = (what: string) =>
  z.optional(
    z.iso.datetime({ offset: true, error: `must be an ISO 8601 date-time (${what}), e.g. 2026-11-22T10:00:00Z` }),
  );

export const deliveriesQuerySchema = z.object({
  status: z.optional(z.enum(DELIVERY_STATUSES, { error: `must be one of ${DELIVERY_STATUSES.join(', ')}` })),
  eventType: z.optional(eventType),
  eventId: z.optional(eventIdSchema),
  since: isoTime('by event time; default 24 hours before until'),
  until: isoTime('by event time; default now'),
  limit: pageSize,
  cursor: z.optional(z.string().check(max(1024))),
});

export const statsQuerySchema = z.object({
  since: isoTime('by event time; default 24 hours ago'),
});

export const portalAccessSchema = z.strictObject({
  capabilities: z.optional(
    z
      .array(z.enum(['read', 'manage'], { error: 'must hold only "read" and "manage"' }), {
        error: 'must be ["read"] or ["read", "manage"]',
      })
      .check(
        z.minLength(1, 'must be ["read"] or ["read", "manage"]'),
        z.maxLength(2, 'must be ["read"] or ["read", "manage"]'),
        z.refine((caps) => caps.includes('read') && new Set(caps).size === caps.length, {
          message: 'must be ["read"] or ["read", "manage"]',
        }),
      ),
  ),
  ttlSeconds: z.optional(
    z
      .number({ error: 'must be a number of seconds' })
      .check(
        z.multipleOf(1, 'must be a whole number'),
        z.minimum(LIMITS.portalTtlMinS, `must be at least ${LIMITS.portalTtlMinS} (an hour)`),
        z.maximum(LIMITS.portalTtlMaxS, `must be at most ${LIMITS.portalTtlMaxS} (a week)`),
      ),
  ),
});

/** Turns zod issues into the contract's `details`: the failing field's path and why. */
export function toDetails(error: z.core.$ZodError, prefix = ''): ErrorDetail[] {
  return error.issues.map((issue) => {
    const path = [prefix, ...issue.path.map(String)].filter((p) => p !== '').join('.');
    let message = issue.message;
    if (issue.code === 'unrecognized_keys') message = `unknown field(s): ${issue.keys.join(', ')}`;
    return { path: path === '' ? '(body)' : path, message };
  });
}

/**
 * Parses `input` against `schema` or throws a ValidationError listing every problem; `at` names
 * where the input came from when it is not the body (`header.idempotency-key`).
 */
export function parseOrThrow<S extends z.ZodMiniType>(
  schema: S,
  input: unknown,
  what = 'request body',
  at = '',
): z.infer<S> {
  const result = schema.safeParse(input);
  if (!result.success) throw new ValidationError(`invalid ${what}`, toDetails(result.error, at));
  return result.data;
}
