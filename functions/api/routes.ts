/**
 * The API, route by route, declared once. Each route names who may call it (`access`), what a
 * portal link needs to call it (`portal`), the request it takes (the very zod schemas its use
 * case parses), what it answers and the errors it can answer, and its documentation.
 *
 * - functions/handlers/api.ts serves exactly these routes and checks `access` and `portal` from
 *   here (the compiler makes it implement each one, and nothing else);
 * - scripts/openapi.ts writes docs/openapi.yaml from here, with the views in views.ts;
 * - test/unit/openapi.test.ts fails when the document and this table disagree.
 *
 * A new route: add it here, implement it in handlers/api.ts, then `npm run openapi`.
 */
import type { z } from 'zod';
import type { Capability } from '../access/portal-access';
import {
  createAppSchema,
  eventShardsSchema,
  updateAppSchema,
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
  orderingSkipSchema,
  recoverSchema,
  resendSchema,
  sendExampleSchema,
  updateEndpointSchema,
  updateEventTypeSchema,
} from './schemas';

import type { ViewName } from './views';

/**
 * Who may call a route: `open` anyone, no key; `key` any valid key or portal link; `app` the
 * admin key, or a key or portal link of the path's app (others get 404); `admin` the admin key
 * alone (others get 403 with that message).
 */
export type Access = 'open' | 'key' | 'app' | { admin: string };

export interface RouteSpec {
  summary: string;
  tag: 'Apps' | 'Keys' | 'Endpoints' | 'Events' | 'Event types' | 'Portal' | 'Health';
  access: Access;
  /** What a portal link needs for this route; absent: no portal link may call it (403). */
  portal?: Capability;
  body?: z.core.$ZodType;
  query?: z.core.$ZodType;
  /** Success status and its body (absent for 204); `list`: a page `{items: [view], nextCursor}`. */
  ok: { status: number; view?: ViewName; list?: true };
  /** Error statuses this route can answer besides 401 and 429 (and 400 where it takes input). */
  errors: number[];
  headers?: Record<string, string>;
}

/** Keyed by `METHOD path`, the path in API Gateway's form. */
export const ROUTES = {
  'GET /health': {
    summary: 'Liveness',
    access: 'open',
    tag: 'Health',
    ok: { status: 200, view: 'Health' },
    errors: [],
  },
  'POST /v1/apps': {
    summary: 'Create an app (admin key only)',
    access: { admin: 'only the admin key can create apps' },
    tag: 'Apps',
    body: createAppSchema,
    ok: { status: 201, view: 'App' },
    errors: [403],
  },
  'GET /v1/apps/{appId}': {
    summary: 'Get an app',
    access: 'app',
    portal: 'read',
    tag: 'Apps',
    ok: { status: 200, view: 'App' },
    errors: [404],
  },
  'PUT /v1/apps/{appId}/event-shards': {
    summary:
      "Spread an app's events over more partitions (admin key only): for an app sending more than ~1,000 events a second; the count can only be raised",
    access: 'app',
    tag: 'Apps',
    body: eventShardsSchema,
    ok: { status: 200, view: 'App' },
    errors: [403, 404, 409],
  },
  'PATCH /v1/apps/{appId}': {
    summary: 'Change an app: its name, knownEventTypesOnly (admin key only)',
    // `app` first, so another app's key gets 404 as everywhere; then the admin alone (403).
    access: 'app',
    tag: 'Apps',
    body: updateAppSchema,
    ok: { status: 200, view: 'App' },
    errors: [403, 404],
  },
  'POST /v1/apps/{appId}/keys': {
    summary: 'Create an app-scoped key (admin key only); the key is shown once',
    access: 'app',
    tag: 'Keys',
    body: createKeySchema,
    ok: { status: 201, view: 'Key' },
    errors: [403, 404],
  },
  'DELETE /v1/apps/{appId}/keys/{keyId}': {
    summary: 'Revoke a key, at once (admin key only)',
    access: 'app',
    tag: 'Keys',
    ok: { status: 204 },
    errors: [403, 404],
  },
  'POST /v1/apps/{appId}/endpoints': {
    summary: 'Register an endpoint',
    access: 'app',
    portal: 'manage',
    tag: 'Endpoints',
    body: createEndpointSchema,
    ok: { status: 201, view: 'Endpoint' },
    errors: [404, 422],
  },
  'GET /v1/apps/{appId}/endpoints': {
    summary: 'List endpoints, a page at a time',
    access: 'app',
    portal: 'read',
    tag: 'Endpoints',
    query: pageQuerySchema,
    ok: { status: 200, view: 'Endpoint', list: true },
    errors: [404],
  },
  'GET /v1/apps/{appId}/endpoints/{endpointId}': {
    summary: 'Get an endpoint',
    access: 'app',
    portal: 'read',
    tag: 'Endpoints',
    ok: { status: 200, view: 'Endpoint' },
    errors: [404],
  },
  'PATCH /v1/apps/{appId}/endpoints/{endpointId}': {
    summary:
      'Change an endpoint (enabling it again clears why it was disabled); a new secret or scheme signs from the next attempt, the previous secret beside it for 24 h',
    access: 'app',
    portal: 'manage',
    tag: 'Endpoints',
    body: updateEndpointSchema,
    ok: { status: 200, view: 'Endpoint' },
    errors: [404, 409, 422],
  },
  'DELETE /v1/apps/{appId}/endpoints/{endpointId}': {
    summary: 'Delete an endpoint; deliveries still on their way to it are skipped',
    access: 'app',
    portal: 'manage',
    tag: 'Endpoints',
    ok: { status: 204 },
    errors: [404],
  },
  'GET /v1/apps/{appId}/endpoints/{endpointId}/secret': {
    summary: 'The endpoint’s current signing secret (for standard-webhooks-v1a: its public key)',
    access: 'app',
    portal: 'manage',
    tag: 'Endpoints',
    ok: { status: 200, view: 'Secret' },
    errors: [404],
  },
  'POST /v1/apps/{appId}/endpoints/{endpointId}/secret/rotate': {
    summary: 'Rotate the signing secret (or key pair); the previous one keeps signing beside the new one for 24 h',
    access: 'app',
    portal: 'manage',
    tag: 'Endpoints',
    ok: { status: 200, view: 'Secret' },
    errors: [404, 409],
  },
  'POST /v1/apps/{appId}/endpoints/{endpointId}/recover': {
    summary: 'Send again every delivery to this endpoint that failed or was skipped for events since a time',
    access: 'app',
    portal: 'manage',
    tag: 'Endpoints',
    body: recoverSchema,
    ok: { status: 202, view: 'Recovered' },
    errors: [404, 409],
  },
  'POST /v1/apps/{appId}/endpoints/{endpointId}/ordering/skip': {
    summary:
      'Fail the delivery now holding an ordering key of a strict endpoint (reason "skipped by ..."), so the key\'s later events go on',
    access: 'app',
    portal: 'manage',
    tag: 'Endpoints',
    body: orderingSkipSchema,
    ok: { status: 202, view: 'Skipped' },
    errors: [404, 409],
  },
  'GET /v1/apps/{appId}/endpoints/{endpointId}/ordering/held': {
    summary: "A strict endpoint's held keys: each key whose head failed an attempt and waits, with the head's attempts",
    access: 'app',
    portal: 'read',
    tag: 'Endpoints',
    ok: { status: 200, view: 'HeldKeys' },
    errors: [404],
  },
  'POST /v1/apps/{appId}/events': {
    summary: 'Send an event; idempotent on `id` or the Idempotency-Key header',
    access: 'app',
    tag: 'Events',
    body: createEventSchema,
    ok: { status: 202, view: 'Accepted' },
    errors: [404, 409, 413, 415, 422],
    headers: { 'Idempotency-Key': 'used as the event id when the body has none' },
  },
  'POST /v1/apps/{appId}/events/batch': {
    summary: 'Send up to 100 events; each succeeds or fails on its own, answered in input order',
    access: 'app',
    tag: 'Events',
    body: createEventBatchSchema,
    ok: { status: 202, view: 'BatchAccepted' },
    errors: [404, 413, 415],
  },
  'GET /v1/apps/{appId}/events': {
    summary: 'The catch-up feed: every event of the app once, oldest first',
    access: 'app',
    tag: 'Events',
    query: feedQuerySchema,
    ok: { status: 200, view: 'Feed' },
    errors: [404],
  },
  'GET /v1/apps/{appId}/events/{eventId}': {
    summary: 'An event and the status of each of its deliveries (the polling fallback)',
    access: 'app',
    portal: 'read',
    tag: 'Events',
    ok: { status: 200, view: 'EventStatus' },
    errors: [404],
  },
  'GET /v1/apps/{appId}/events/{eventId}/attempts': {
    summary: 'Every attempt to deliver an event',
    access: 'app',
    portal: 'read',
    tag: 'Events',
    ok: { status: 200, view: 'Attempts' },
    errors: [404],
  },
  'POST /v1/apps/{appId}/events/{eventId}/resend': {
    summary: 'Send an event again, to one endpoint or to all its endpoints, with the same webhook-id',
    access: 'app',
    portal: 'manage',
    tag: 'Events',
    body: resendSchema,
    ok: { status: 202, view: 'Resent' },
    errors: [404, 409],
  },
  'POST /v1/event-types': {
    summary: 'Add an event type to the catalog (admin key only); examples must validate against its schema',
    access: { admin: 'only the admin key can change the event-type catalog' },
    tag: 'Event types',
    body: createEventTypeSchema,
    ok: { status: 201, view: 'EventType' },
    errors: [403, 409, 422],
  },
  'GET /v1/event-types': {
    summary: 'The event-type catalog, by name, a page at a time (any key, a portal link included)',
    access: 'key',
    tag: 'Event types',
    query: pageQuerySchema,
    ok: { status: 200, view: 'EventType', list: true },
    errors: [429],
  },
  'GET /v1/event-types/{name}': {
    summary: 'An event type, with its schema and examples',
    access: 'key',
    tag: 'Event types',
    ok: { status: 200, view: 'EventType' },
    errors: [404, 429],
  },
  'PATCH /v1/event-types/{name}': {
    summary: 'Change an event type (admin key only); `schema: null` removes the schema',
    access: { admin: 'only the admin key can change the event-type catalog' },
    tag: 'Event types',
    body: updateEventTypeSchema,
    ok: { status: 200, view: 'EventType' },
    errors: [403, 404, 409, 422],
  },
  'DELETE /v1/event-types/{name}': {
    summary: 'Remove an event type from the catalog (admin key only); endpoints subscribed to it keep their lists',
    access: { admin: 'only the admin key can change the event-type catalog' },
    tag: 'Event types',
    ok: { status: 204 },
    errors: [403, 404],
  },
  'POST /v1/apps/{appId}/endpoints/{endpointId}/send-example': {
    summary: 'Send the first example of an event type to this endpoint alone, as a test event',
    access: 'app',
    portal: 'manage',
    tag: 'Endpoints',
    body: sendExampleSchema,
    ok: { status: 202, view: 'TestSent' },
    errors: [403, 404, 409, 422, 429],
  },
  'GET /v1/apps/{appId}/endpoints/{endpointId}/deliveries': {
    summary:
      'The endpoint’s deliveries, newest first, by event time (the last 24 h unless since/until say otherwise), each with its latest attempt’s error; `eventId` finds that event’s delivery whatever its age. A first attempt still in flight shows once it has an outcome',
    access: 'app',
    portal: 'read',
    tag: 'Endpoints',
    query: deliveriesQuerySchema,
    ok: { status: 200, view: 'EndpointDelivery', list: true },
    errors: [404, 429],
  },
  'GET /v1/apps/{appId}/endpoints/{endpointId}/deliveries/{eventId}': {
    summary:
      'One event’s delivery to the endpoint, with the request its latest attempt sent (secrets hidden); 404 when the event does not go to this endpoint',
    access: 'app',
    portal: 'read',
    tag: 'Endpoints',
    ok: { status: 200, view: 'EndpointDeliveryDetail' },
    errors: [404, 429],
  },
  'GET /v1/apps/{appId}/endpoints/{endpointId}/stats': {
    summary:
      'The endpoint’s deliveries since a time: counts by status and HTTP code, success rate, latency p50/p95, the same over time, and the latest failure',
    access: 'app',
    portal: 'read',
    tag: 'Endpoints',
    query: statsQuerySchema,
    ok: { status: 200, view: 'EndpointStats' },
    errors: [404, 429],
  },
  'POST /v1/apps/{appId}/portal-access': {
    summary: 'Mint a portal link for the app (admin key or the app’s key); the token is shown once',
    access: 'app',
    tag: 'Portal',
    body: portalAccessSchema,
    ok: { status: 201, view: 'PortalAccess' },
    errors: [403, 404],
  },
  'DELETE /v1/apps/{appId}/portal-access': {
    summary: 'End every portal link of the app, at once',
    access: 'app',
    tag: 'Portal',
    ok: { status: 204 },
    errors: [403, 404],
  },
  'GET /v1/portal/session': {
    summary: 'What the calling portal link may do, and until when (portal links only)',
    access: 'key',
    tag: 'Portal',
    ok: { status: 200, view: 'PortalSession' },
    errors: [403, 429],
  },
} satisfies Record<string, RouteSpec>;

export type RouteKey = keyof typeof ROUTES;

/** Each route's method and path, as the router takes them. */
export function routeKeys(): Array<{ key: RouteKey; method: string; path: string }> {
  return (Object.keys(ROUTES) as RouteKey[]).map((key) => {
    const [method = '', path = ''] = key.split(' ');
    return { key, method, path };
  });
}
