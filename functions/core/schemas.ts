/**
 * Request schemas: the one place that says what a valid request is. The HTTP edge runs them and
 * maps their issues to the contract's error details; the OpenAPI check reads them too.
 */
import { z } from 'zod';
import { ValidationError, type ErrorDetail } from './errors';
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
} as const;

export const EVENT_TYPE_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.:/-]*$/;

const eventType = z
  .string({ error: 'must be a string' })
  .min(1, 'must not be empty')
  .max(LIMITS.eventTypeLength, `must be at most ${LIMITS.eventTypeLength} characters`)
  .regex(EVENT_TYPE_PATTERN, 'may contain only letters, digits and _ . : / - and must start with a letter or digit');

export const eventIdSchema = z
  .string({ error: 'must be a string' })
  .regex(EVENT_ID_PATTERN, 'must be 1-128 characters of letters, digits and _ . : - starting with a letter or digit');

export const createAppSchema = z.strictObject({
  name: z.string({ error: 'is required and must be a string' }).trim().min(1, 'must not be empty').max(LIMITS.nameLength),
});

export const createEndpointSchema = z.strictObject({
  url: z.string({ error: 'is required and must be a string' }).min(1).max(LIMITS.urlLength),
  eventTypes: z.array(eventType).max(LIMITS.eventTypesPerEndpoint).optional(),
  description: z.string().max(LIMITS.descriptionLength).optional(),
  enabled: z.boolean({ error: 'must be true or false' }).optional(),
});

export const updateEndpointSchema = z
  .strictObject({
    url: z.string({ error: 'must be a string' }).min(1).max(LIMITS.urlLength).optional(),
    eventTypes: z.array(eventType).max(LIMITS.eventTypesPerEndpoint).optional(),
    description: z.string().max(LIMITS.descriptionLength).optional(),
    enabled: z.boolean({ error: 'must be true or false' }).optional(),
  })
  .refine((v) => Object.keys(v).length > 0, { message: 'must change at least one of url, eventTypes, description, enabled' });

export const createKeySchema = z.strictObject({
  name: z.string().max(LIMITS.nameLength).optional(),
});

export const resendSchema = z.strictObject({
  endpointId: z.string({ error: 'must be a string' }).min(1).max(64).optional(),
});

export const recoverSchema = z.strictObject({
  since: z.iso.datetime({ offset: true, error: 'must be an ISO 8601 date-time, e.g. 2026-11-22T10:00:00Z' }),
});

export const feedQuerySchema = z.object({
  limit: z.coerce
    .number({ error: 'must be a number' })
    .int('must be a whole number')
    .min(1)
    .max(LIMITS.pageSizeMax)
    .default(LIMITS.pageSizeDefault),
  after: z.string().max(1024).optional(),
});

export const createEventSchema = z.strictObject({
  type: eventType,
  data: z.record(z.string(), z.unknown(), { error: 'is required and must be a JSON object' }),
  id: eventIdSchema.optional(),
});

export const createEventBatchSchema = z.strictObject({
  events: z
    .array(z.unknown(), { error: 'is required and must be an array' })
    .min(1, 'must hold at least one event')
    .max(100, 'must hold at most 100 events'),
});

export const pageQuerySchema = z.object({
  limit: z.coerce
    .number({ error: 'must be a number' })
    .int('must be a whole number')
    .min(1)
    .max(LIMITS.pageSizeMax)
    .default(LIMITS.pageSizeDefault),
  cursor: z.string().max(1024).optional(),
});

export type CreateAppInput = z.infer<typeof createAppSchema>;
export type CreateEndpointInput = z.infer<typeof createEndpointSchema>;
export type CreateEventInput = z.infer<typeof createEventSchema>;
export type UpdateEndpointInput = z.infer<typeof updateEndpointSchema>;

/** Turns zod issues into the contract's `details`: the failing field's path and why. */
export function toDetails(error: z.ZodError, prefix = ''): ErrorDetail[] {
  return error.issues.map((issue) => {
    const path = [prefix, ...issue.path.map(String)].filter((p) => p !== '').join('.');
    let message = issue.message;
    if (issue.code === 'unrecognized_keys') message = `unknown field(s): ${issue.keys.join(', ')}`;
    return { path: path === '' ? '(body)' : path, message };
  });
}

/** Parses `input` against `schema` or throws a ValidationError listing every problem. */
export function parseOrThrow<S extends z.ZodType>(schema: S, input: unknown, what = 'request body'): z.infer<S> {
  const result = schema.safeParse(input);
  if (!result.success) throw new ValidationError(`invalid ${what}`, toDetails(result.error));
  return result.data;
}
