/**
 * Request schemas: the one place that says what a valid request is. The HTTP edge runs them and
 * maps their issues to the contract's error details; the OpenAPI check reads them too.
 */
// zod/mini: the same validation as zod's classic API at a twentieth of the bundle (16 KB
// minified instead of 450 KB), which is most of a Lambda's cold start. English messages are
// loaded explicitly: mini ships with none.
import * as z from 'zod/mini';
import en from 'zod/v4/locales/en.js';
import { ValidationError, type ErrorDetail } from './errors';

z.config(en());
import { EVENT_ID_PATTERN } from './ids';

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

export const createAppSchema = z.strictObject({
  name: z.string({ error: 'is required and must be a string' }).check(z.trim(), nonEmpty, max(LIMITS.nameLength)),
});

export const createEndpointSchema = z.strictObject({
  url: z.string({ error: 'is required and must be a string' }).check(nonEmpty, max(LIMITS.urlLength)),
  eventTypes: z.optional(eventTypes),
  description: z.optional(z.string({ error: 'must be a string' }).check(max(LIMITS.descriptionLength))),
  enabled: z.optional(z.boolean({ error: 'must be true or false' })),
});

export const updateEndpointSchema = z
  .strictObject({
    url: z.optional(z.string({ error: 'must be a string' }).check(nonEmpty, max(LIMITS.urlLength))),
    eventTypes: z.optional(eventTypes),
    description: z.optional(z.string({ error: 'must be a string' }).check(max(LIMITS.descriptionLength))),
    enabled: z.optional(z.boolean({ error: 'must be true or false' })),
  })
  .check(
    z.refine((v) => Object.keys(v).length > 0, 'must change at least one of url, eventTypes, description, enabled'),
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
});

export const updateEventTypeSchema = z
  .strictObject({
    description: z.optional(description),
    schema: z.optional(
      z.nullable(z.record(z.string(), z.unknown(), { error: 'must be a JSON Schema object, or null to remove it' })),
    ),
    examples: z.optional(examples),
    deprecated: z.optional(z.boolean({ error: 'must be true or false' })),
  })
  .check(
    z.refine((v) => Object.keys(v).length > 0, 'must change at least one of description, schema, examples, deprecated'),
  );

export const sendExampleSchema = z.strictObject({ eventType });

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

/** Parses `input` against `schema` or throws a ValidationError listing every problem. */
export function parseOrThrow<S extends z.ZodMiniType>(schema: S, input: unknown, what = 'request body'): z.infer<S> {
  const result = schema.safeParse(input);
  if (!result.success) throw new ValidationError(`invalid ${what}`, toDetails(result.error));
  return result.data;
}
