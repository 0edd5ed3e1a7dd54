/**
 * Generated API requests for the fuzz suites: every route of the API's route table, with
 * hostile path parameters, query strings, headers and bodies. A generated request is plain
 * data (`FuzzRequest`); `toApiEvent` turns it into the API Gateway v2 event the local shim
 * builds (its own `toEventV2`), and `sendHttp` sends it over a real socket, byte for byte.
 */
import fc from 'fast-check';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { request } from 'node:http';
import type { IncomingMessage } from 'node:http';
import { toEventV2 } from '../../infra/local/api-gateway';

/** The identities and ids the requests use; created through the API before the run. */
export interface Fixture {
  adminKey: string;
  /** An app with a key, an endpoint and an event. */
  appA: string;
  /** Another app: the key of A must see it as missing. */
  appB: string;
  appKeyA: string;
  keyIdA: string;
  endpointA: string;
  eventA: string;
  /** A strict endpoint of app A whose receiver answers 500, so its key HELD_KEY is always held. */
  endpointStrictA: string;
  heldKeyA: string;
  /** A local receiver that answers 2xx, for endpoint bodies that should be accepted. */
  receiverUrl: string;
  /** Portal links of app A: read-only, and read and manage. */
  portalReadA: string;
  portalManageA: string;
  /** A catalog type with a schema and an example. */
  eventTypeA: string;
}

/**
 * The generators write placeholders, bound to the fixture's current values when a request is
 * sent (`bind`): a run may revoke the key or delete the endpoint, and the fixture then replaces them.
 */
const NAMES = [
  'adminKey',
  'appA',
  'appB',
  'appKeyA',
  'keyIdA',
  'endpointA',
  'eventA',
  'endpointStrictA',
  'heldKeyA',
  'receiverUrl',
  'portalReadA',
  'portalManageA',
  'eventTypeA',
] as const;
const P = Object.fromEntries(NAMES.map((n) => [n, `@@${n}@@`])) as Record<(typeof NAMES)[number], string>;
const DERIVED = { adminKeyCut: '@@adminKeyCut@@', appKeyACut: '@@appKeyACut@@', basicAdmin: '@@basicAdmin@@' };

/** The request with every placeholder replaced by the fixture's value. */
export function bind(r: FuzzRequest, f: Fixture): FuzzRequest {
  const values: Record<string, string> = {
    ...f,
    adminKeyCut: P.adminKey.slice(0, -1),
    appKeyACut: P.appKeyA.slice(0, -1),
    basicAdmin: Buffer.from(`admin:${P.adminKey}`).toString('base64'),
  };
  const sub = (s: string) => (s.includes('@@') ? s.replace(/@@(\w+)@@/g, (m, name: string) => values[name] ?? m) : s);
  const text = r.body?.toString('utf8');
  return {
    ...r,
    path: sub(r.path),
    query: sub(r.query),
    headers: Object.fromEntries(Object.entries(r.headers).map(([k, v]) => [k, sub(v)])),
    body:
      r.body !== undefined && text !== undefined && text.includes('@@') && Buffer.from(text).equals(r.body)
        ? Buffer.from(sub(text))
        : r.body,
    params: Object.fromEntries(Object.entries(r.params).map(([k, v]) => [k, sub(v)])),
  };
}

export interface FuzzRequest {
  method: string;
  /** The request target's path, as sent (not normalised). */
  path: string;
  /** The raw query string, without the `?`. */
  query: string;
  headers: Record<string, string>;
  body: Buffer | undefined;
  /** The route it was made for, and its path parameters as placed in the path. */
  route: RouteLike;
  params: Record<string, string>;
}

export interface RouteLike {
  method: string;
  path: string;
}

const METHODS = ['GET', 'POST', 'PATCH', 'DELETE', 'PUT', 'HEAD', 'OPTIONS', 'get', 'TRACE', 'CONNECT', 'FOO'];

/** Path segments nobody should be able to turn into a 5xx. */
const HOSTILE_SEGMENTS = [
  '..',
  '.',
  '%2e%2e',
  '%2E%2E%2F%2E%2E',
  '..%2f..%2fetc%2fpasswd',
  '%2F',
  '%',
  '%zz',
  '%00',
  '%C0%AE',
  '%E0%A4%A',
  '%FF%FE',
  '%F0%9F%92%A9',
  '%u0041',
  '__proto__',
  'constructor',
  'prototype',
  'hasOwnProperty',
  'toString',
  'null',
  'undefined',
  'NaN',
  '-1',
  '0',
  '1e400',
  'app_0000000000000000000000000',
  'app_00000000000000000000000000',
  'APP_00000000000000000000000000',
  'ep_00000000000000000000000000',
  'key_00000000000000000000000000',
  'msg_00000000000000000000000000',
  'a#b',
  'APP#x',
  '#EVENT',
  'EVENTS#x',
  'IDEM#x',
  '2026-01-01T00:00:00.000Z#x',
  'EP#',
  '*',
  '$default',
  '{appId}',
  '%7BappId%7D',
  ' ',
  '%20',
  '\u0000',
  '\u202e',
  'é',
  '%C3%A9',
  '\ud83d\udca9',
  '\ud800',
];

/** A path parameter: mostly ids that exist (to reach deep into the handlers), else anything. */
function segment(known: string[]): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 16, arbitrary: fc.constantFrom(...known) },
    { weight: 2, arbitrary: fc.constantFrom(...HOSTILE_SEGMENTS) },
    { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 40 }).map(encodeURIComponent) },
    { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
    { weight: 1, arbitrary: fc.stringMatching(/^[A-Za-z0-9_.:-]{1,140}$/) },
    { weight: 1, arbitrary: fc.integer({ min: 129, max: 6000 }).map((n) => 'a'.repeat(n)) },
    { weight: 1, arbitrary: fc.integer({ min: 10, max: 3000 }).map((n) => '%C3%A9'.repeat(n)) },
    { weight: 1, arbitrary: fc.constant('') },
  );
}

function pathOf(route: RouteLike): fc.Arbitrary<{ path: string; params: Record<string, string> }> {
  const known: Record<string, string[]> = {
    appId: [P.appA, P.appA, P.appB],
    // The ordering routes act on the strict endpoint, whose key is held; the others on endpoint A.
    endpointId: route.path.includes('/ordering/') ? [P.endpointStrictA] : [P.endpointA],
    eventId: [P.eventA],
    keyId: [P.keyIdA],
    name: [P.eventTypeA, P.eventTypeA, P.eventTypeA, P.eventTypeA, 'no.such.type', 'a%2Fb'],
  };
  const names = [...route.path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!);
  const suffix = fc.oneof(
    { weight: 12, arbitrary: fc.constant('') },
    { weight: 1, arbitrary: fc.constantFrom('/', '//', '/..', '/.', '/extra', '%2F', '/%00', '?', '#frag', ';x=1') },
  );
  return fc.tuple(fc.tuple(...names.map((n) => segment(known[n] ?? []))), suffix).map(([values, tail]) => {
    let i = 0;
    const path = route.path.replace(/\{\w+\}/g, () => values[i++] ?? '') + tail;
    return { path, params: Object.fromEntries(names.map((n, j) => [n, values[j] ?? ''])) };
  });
}

const queryKey = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.constantFrom('limit', 'cursor', 'after', 'status', 'eventType', 'since', 'until'),
  },
  { weight: 1, arbitrary: fc.constantFrom('__proto__', 'constructor', 'toString', 'limit[]', 'LIMIT', '') },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 12 }) },
);

const queryValue = fc.oneof(
  fc.integer({ min: -1000, max: 1000 }).map(String),
  fc.constantFrom(
    '0',
    '1',
    '250',
    '251',
    '1e400',
    '-0',
    '1.5',
    'NaN',
    'Infinity',
    '0x10',
    ' 5 ',
    '',
    '9'.repeat(400),
    'null',
    'true',
  ),
  fc.string({ unit: 'grapheme', maxLength: 60 }),
  fc.base64String({ maxLength: 80 }),
  fc.string({ maxLength: 60 }).map((s) => Buffer.from(s).toString('base64url')),
  fc.constantFrom(
    Buffer.from('{"pk":"APP#x","sk":"EP#y"}').toString('base64url'),
    Buffer.from('2026-01-01T00:00:00.000Z#x').toString('base64url'),
    Buffer.from('{"__proto__":{"polluted":1}}').toString('base64url'),
  ),
  fc.integer({ min: 1000, max: 9000 }).map((n) => 'x'.repeat(n)),
);

const queryString = fc.oneof(
  { weight: 3, arbitrary: fc.constant('') },
  {
    weight: 3,
    arbitrary: fc
      .array(fc.tuple(queryKey, queryValue), { maxLength: 4 })
      .map((pairs) => new URLSearchParams(pairs).toString()),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom('limit=%', 'limit=%zz', '&&&', '=', 'a=1&a=2&a=3', 'limit=1&limit=2', '%00=%00', '?'),
  },
);

const CONTENT_TYPES = [
  'application/json',
  'application/json; charset=utf-8',
  'APPLICATION/JSON',
  'application/json;charset=latin1',
  'application/vnd.api+json',
  'application/merge-patch+json',
  'application/json;;;',
  ' application/json ',
  'application/jsonx',
  'application/+json',
  'text/json',
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'application/octet-stream',
  'application/xml',
  '',
  '*/*',
  ';',
  'application/json, text/plain',
];

/** Which key the request carries; resolved against the fixture. */
const authorization: fc.Arbitrary<string | undefined> = fc.oneof(
  { weight: 8, arbitrary: fc.constant(`Bearer ${P.adminKey}`) },
  { weight: 6, arbitrary: fc.constant(`Bearer ${P.appKeyA}`) },
  { weight: 3, arbitrary: fc.constant(`Bearer ${P.portalReadA}`) },
  { weight: 3, arbitrary: fc.constant(`Bearer ${P.portalManageA}`) },
  { weight: 1, arbitrary: fc.constant(undefined) },
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      '',
      'Bearer',
      'Bearer ',
      'Bearer  ',
      `bearer ${P.adminKey}`,
      `BEARER ${P.appKeyA}`,
      `Bearer ${P.adminKey} extra`,
      `Bearer ${P.adminKey}x`,
      `Bearer ${DERIVED.adminKeyCut}`,
      `Bearer ${DERIVED.appKeyACut}`,
      `Bearer hrk_${'A'.repeat(43)}`,
      `Bearer hrp_${'A'.repeat(43)}`,
      'Bearer hrp_',
      'Bearer hrk_',
      `Basic ${DERIVED.basicAdmin}`,
      `Token ${P.adminKey}`,
      P.adminKey,
      'Bearer null',
      'Bearer undefined',
      'Bearer __proto__',
      'Bearer \u00e9\u00e9',
      `Bearer ${'x'.repeat(9000)}`,
      `Bearer ${P.adminKey},Bearer ${P.appKeyA}`,
    ),
  },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 80 }).map((s) => `Bearer ${s}`) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 80 }) },
);

const extraHeaders = fc.oneof(
  { weight: 6, arbitrary: fc.constant({} as Record<string, string>) },
  {
    weight: 2,
    arbitrary: fc.dictionary(
      fc.oneof(
        fc.constantFrom(
          'x-forwarded-for',
          'host',
          'user-agent',
          'content-length',
          'cookie',
          'x-api-key',
          '__proto__',
          'constructor',
        ),
        fc.stringMatching(/^[a-z][a-z0-9-]{0,30}$/),
      ),
      fc.string({ unit: 'grapheme', maxLength: 100 }),
      { maxKeys: 4 },
    ),
  },
  // Around and over API Gateway's 10 KB for the request line and headers together.
  { weight: 1, arbitrary: fc.integer({ min: 8_000, max: 14_000 }).map((n) => ({ 'x-padding': 'p'.repeat(n) })) },
  {
    weight: 1,
    arbitrary: fc
      .integer({ min: 20, max: 60 })
      .map((n) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`x-h${i}`, 'v'.repeat(300)]))),
  },
);

const idempotencyKey = fc.option(
  fc.oneof(
    fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,20}$/),
    fc.string({ unit: 'grapheme', maxLength: 200 }),
    fc.constant(''),
  ),
  { freq: 4 },
);

// ---- bodies ----------------------------------------------------------------------------------

/** Values of any JSON type, including the ones no field wants. */
const anyJson = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.constantFrom(null, true, false, 0, -0, 1e308, -1e308, Number.MAX_SAFE_INTEGER + 2, 0.1, '', ' ', '\u0000', [], {}),
);

const eventTypeish = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom('invoice.paid', 'order.created', 'a', 'A:b/c-d_e.f', 'fuzz.type') },
  { weight: 1, arbitrary: fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,140}$/) },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 30 }) },
  { weight: 1, arbitrary: anyJson },
);

const eventIdish = fc.oneof(
  { weight: 3, arbitrary: fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,30}$/) },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 140 }) },
  { weight: 1, arbitrary: anyJson },
);

/** Event `data`: objects mostly, with the keys that have hurt JavaScript services before. */
const eventData = fc.oneof(
  { weight: 4, arbitrary: fc.object({ maxDepth: 3, maxKeys: 5 }) },
  { weight: 2, arbitrary: fc.dictionary(fc.string({ unit: 'grapheme', maxLength: 10 }), anyJson, { maxKeys: 5 }) },
  { weight: 1, arbitrary: anyJson },
  {
    weight: 1,
    arbitrary: fc.constantFrom<unknown>(
      JSON.parse('{"__proto__":{"polluted":true}}'),
      JSON.parse('{"constructor":{"prototype":{"polluted":true}}}'),
      JSON.parse('{"a":{"__proto__":{"polluted":true}}}'),
      { toString: 'x', valueOf: 1, hasOwnProperty: null },
      { big: 1e308, small: 5e-324, neg: -0 },
      { s: '\u0000\ud800\uffff\u202e' },
    ),
  },
);

const receiverUrls: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: fc.constant(P.receiverUrl) },
  { weight: 1, arbitrary: fc.webPath().map((p) => `${P.receiverUrl}${p}`) },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      'ftp://example.com/x',
      'not a url',
      'http://user:pass@127.0.0.1/x',
      'http://169.254.169.254/latest/meta-data/',
      'http://[fd00:ec2::254]/',
      'http://metadata.google.internal/',
      'http://127.0.0.1:0/x',
      'http://127.0.0.1:25/x',
      'http://0x7f.1:22/',
      'javascript:alert(1)',
      'file:///etc/passwd',
      'http://',
      `http://127.0.0.1/${'a'.repeat(3000)}`,
      '',
    ),
  },
  { weight: 1, arbitrary: anyJson },
);

function validishEvent(): fc.Arbitrary<Record<string, unknown>> {
  return fc.record({ type: eventTypeish, data: eventData, id: eventIdish }, { requiredKeys: ['type', 'data'] });
}

/** An object with any of the API's field names, each of the right type or not. */
function validishObject(): fc.Arbitrary<Record<string, unknown>> {
  return fc
    .tuple(
      fc.record(
        {
          name: fc.oneof(
            fc.string({ unit: 'grapheme', maxLength: 40 }),
            fc.string({ minLength: 250, maxLength: 300 }),
            anyJson,
          ),
          url: receiverUrls,
          eventTypes: fc.oneof(
            fc.array(eventTypeish, { maxLength: 5 }),
            fc.constant(Array.from({ length: 101 }, (_, i) => `t${i}`)),
            anyJson,
          ),
          description: fc.oneof(fc.string({ unit: 'grapheme', maxLength: 60 }), fc.constant('d'.repeat(1025)), anyJson),
          enabled: fc.oneof(fc.boolean(), anyJson),
          type: eventTypeish,
          data: eventData,
          id: eventIdish,
          events: fc.oneof(
            fc.array(fc.oneof(validishEvent(), anyJson), { maxLength: 6 }),
            fc.constant(Array.from({ length: 101 }, () => ({ type: 'a', data: {} }))),
            anyJson,
          ),
          endpointId: fc.oneof(fc.constant(P.endpointA), fc.string({ maxLength: 70 }), anyJson),
          since: fc.oneof(
            fc
              .date({ noInvalidDate: true, min: new Date(-62_000_000_000_000), max: new Date(250_000_000_000_000) })
              .map((d) => d.toISOString()),
            fc.constantFrom(
              '2026-02-30T00:00:00Z',
              '0000-01-01T00:00:00Z',
              '9999-12-31T23:59:59+23:59',
              '2026-01-01',
              'yesterday',
              '+275760-09-13T00:00:00.000Z',
            ),
            anyJson,
          ),
        },
        { requiredKeys: [] },
      ),
      fc.option(fc.tuple(fc.string({ maxLength: 12 }), anyJson), { freq: 5 }),
    )
    .map(([o, extra]) => (extra ? { ...o, [extra[0]]: extra[1] } : o));
}

/** JSON text no parser should choke on, and some that a careless one would. */
const hostileText = fc.oneof(
  fc.integer({ min: 1, max: 200_000 }).map((n) => '['.repeat(n) + ']'.repeat(n)),
  fc.integer({ min: 1, max: 50_000 }).map((n) => `{"type":"a","data":${'{"a":'.repeat(n)}1${'}'.repeat(n)}}`),
  fc.integer({ min: 1, max: 50_000 }).map((n) => `{"name":${'['.repeat(n)}"x"${']'.repeat(n)}}`),
  fc
    .integer({ min: 1, max: 50_000 })
    .map((n) => `{"events":[{"type":"a","data":{"x":${'['.repeat(n)}${']'.repeat(n)}}}]}`),
  fc.integer({ min: 1, max: 100_000 }).map((n) => '['.repeat(n)),
  fc.constantFrom(
    '{"__proto__":{"polluted":true},"name":"x"}',
    '{"name":"x","constructor":{"prototype":{"polluted":true}}}',
    '{"type":"a","data":{"__proto__":{"polluted":true}}}',
    '{"type":"a","data":{"constructor":{"prototype":{"polluted":true}}}}',
    '{"events":[{"type":"a","data":{"__proto__":{"polluted":true}}}]}',
    '{"type":"a","data":{"n":1e400}}',
    '{"type":"a","data":{"n":-1e400}}',
    `{"type":"a","data":{"n":${'9'.repeat(5000)}}}`,
    '{"limit":1e400}',
    '\ufeff{"name":"bom"}',
    '{"name":"x"} trailing',
    '{"name":"x",}',
    "{'name':'x'}",
    '{"name":"\\ud800"}',
    '{"name":"\\u0000"}',
    '{"name":"x","name":"y"}',
    'null',
    'true',
    '0',
    '""',
    '[]',
    '-',
    '{',
    '}',
    '\u0000',
    'undefined',
    'NaN',
  ),
  fc.string({ unit: 'binary', maxLength: 200 }),
  fc
    .integer({ min: 1000, max: 20_000 })
    .map((n) =>
      JSON.stringify({ type: 'a', data: Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, i])) }),
    ),
);

const validType = fc.constantFrom('invoice.paid', 'order.created', 'fuzz.type', 'a');
const validEvent = fc.record(
  {
    type: validType,
    data: fc.object({ maxDepth: 2, maxKeys: 4 }),
    id: fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,20}$/),
  },
  { requiredKeys: ['type', 'data'] },
);
const endpointFields = {
  url: fc.oneof(
    { weight: 5, arbitrary: fc.constant(P.receiverUrl) },
    { weight: 1, arbitrary: fc.webPath().map((p) => `${P.receiverUrl}${p}`) },
  ),
  // Always filtered by type, so that generated events fan out to few endpoints.
  eventTypes: fc.array(validType, { minLength: 1, maxLength: 3 }),
  description: fc.string({ unit: 'grapheme', maxLength: 40 }),
  enabled: fc.boolean(),
};

/** A body the route accepts, so that the requests reach past validation into the use cases. */
function validBody(route: RouteLike): fc.Arbitrary<unknown> {
  const key = `${route.method} ${route.path}`;
  switch (key) {
    case 'POST /v1/apps':
      return fc.record({
        name: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 60 }).filter((n) => n.trim() !== ''),
      });
    case 'PATCH /v1/apps/{appId}':
      // Never knownEventTypesOnly: true, which would refuse the fixture's later events.
      return fc
        .record(
          {
            name: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 60 }).filter((n) => n.trim() !== ''),
            knownEventTypesOnly: fc.constant(false),
          },
          { requiredKeys: [] },
        )
        .filter((o) => Object.keys(o).length > 0);
    case 'POST /v1/apps/{appId}/keys':
      return fc.record({ name: fc.string({ maxLength: 30 }) }, { requiredKeys: [] });
    case 'POST /v1/apps/{appId}/endpoints':
      return fc.record(endpointFields, { requiredKeys: ['url', 'eventTypes'] });
    case 'PATCH /v1/apps/{appId}/endpoints/{endpointId}':
      return fc.record(endpointFields, { requiredKeys: [] }).filter((o) => Object.keys(o).length > 0);
    case 'POST /v1/apps/{appId}/endpoints/{endpointId}/recover':
      return fc
        .date({ noInvalidDate: true, min: new Date('2020-01-01'), max: new Date('2030-01-01') })
        .map((d) => ({ since: d.toISOString() }));
    case 'POST /v1/apps/{appId}/events':
      return validEvent;
    case 'POST /v1/apps/{appId}/events/batch':
      return fc.record({ events: fc.array(validEvent, { minLength: 1, maxLength: 5 }) });
    case 'POST /v1/apps/{appId}/events/{eventId}/resend':
      return fc.record({ endpointId: fc.constant(P.endpointA) }, { requiredKeys: [] });
    case 'POST /v1/event-types':
      return fc.record(
        {
          name: fc.stringMatching(/^[a-z][a-z0-9.]{0,20}$/),
          description: fc.string({ maxLength: 40 }),
          schema: fc.constantFrom({ type: 'object' }, { type: 'object', required: ['n'] }, { type: 'objekt' }),
          examples: fc.array(fc.constantFrom({ n: 1 }, {}, { n: 'x' }), { maxLength: 2 }),
          deprecated: fc.boolean(),
        },
        { requiredKeys: ['name'] },
      );
    case 'PATCH /v1/event-types/{name}':
      return fc
        .record(
          {
            description: fc.string({ maxLength: 40 }),
            schema: fc.constantFrom(null, { type: 'object' }, { type: 'object', required: ['zz'] }),
            examples: fc.array(fc.constantFrom({ n: 1 }, {}), { maxLength: 2 }),
            deprecated: fc.boolean(),
          },
          { requiredKeys: [] },
        )
        .filter((o) => Object.keys(o).length > 0);
    case 'PUT /v1/apps/{appId}/event-shards':
      // Mostly small raises, so that several succeed before the count reaches its maximum (32).
      return fc.record({ eventShards: fc.oneof(fc.integer({ min: 1, max: 8 }), fc.integer({ min: 0, max: 40 })) });
    case 'POST /v1/apps/{appId}/endpoints/{endpointId}/ordering/skip':
      return fc.record({ orderingKey: fc.constantFrom(P.heldKeyA, P.heldKeyA, 'no-such-key') });
    case 'POST /v1/apps/{appId}/endpoints/{endpointId}/send-example':
      return fc.record({ eventType: fc.constantFrom(P.eventTypeA, 'no.such.type') });
    case 'POST /v1/apps/{appId}/portal-access':
      return fc.record(
        {
          capabilities: fc.constantFrom(['read'], ['read', 'manage'], ['manage'], []),
          ttlSeconds: fc.oneof(fc.integer({ min: 3600, max: 604_800 }), fc.integer()),
        },
        { requiredKeys: [] },
      );
    default:
      return fc.constant({});
  }
}

function body(route: RouteLike): fc.Arbitrary<Buffer | undefined> {
  return fc.oneof(
    { weight: 3, arbitrary: fc.constant(undefined) },
    { weight: 8, arbitrary: validBody(route).map((o) => Buffer.from(JSON.stringify(o))) },
    { weight: 5, arbitrary: validishObject().map((o) => Buffer.from(JSON.stringify(o))) },
    { weight: 2, arbitrary: anyJson.map((v) => Buffer.from(JSON.stringify(v))) },
    { weight: 3, arbitrary: hostileText.map((s) => Buffer.from(s)) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a)) },
  );
}

/** Headers a request carries: the key, a content type, sometimes an Idempotency-Key and noise. */
function headers(): fc.Arbitrary<Record<string, string>> {
  return fc
    .tuple(
      authorization,
      fc.option(
        fc.oneof(
          { weight: 12, arbitrary: fc.constant('application/json') },
          { weight: 4, arbitrary: fc.constantFrom(...CONTENT_TYPES) },
          { weight: 1, arbitrary: fc.string({ maxLength: 40 }) },
        ),
        { freq: 8, nil: undefined },
      ),
      idempotencyKey,
      extraHeaders,
    )
    .map(([auth, type, idem, extra]) => {
      const h: Record<string, string> = {};
      for (const [k, v] of Object.entries(extra)) h[k] = v;
      if (auth !== undefined) h.authorization = auth;
      if (type !== undefined) h['content-type'] = type;
      if (idem !== null) h['idempotency-key'] = idem;
      return h;
    });
}

/** A request to one of `routes` (or the same path with another method). */
export function fuzzRequest(routes: readonly RouteLike[]): fc.Arbitrary<FuzzRequest> {
  return fc.constantFrom(...routes).chain((route) =>
    fc
      .record({
        method: fc.oneof(
          { weight: 12, arbitrary: fc.constant(route.method) },
          { weight: 1, arbitrary: fc.constantFrom(...METHODS) },
        ),
        target: pathOf(route),
        query: queryString,
        headers: headers(),
        body: body(route),
      })
      .map(({ target, ...r }): FuzzRequest => ({ ...r, path: target.path, params: target.params, route })),
  );
}

/** The v2 event API Gateway (and the local shim, whose own builder this is) hands the function. */
export function toApiEvent(r: FuzzRequest, requestId: string): APIGatewayProxyEventV2 {
  const headersDistinct: Record<string, string[]> = {};
  for (const [k, v] of Object.entries(r.headers)) headersDistinct[k.toLowerCase()] = [v];
  const fake = {
    url: r.query === '' ? r.path : `${r.path}?${r.query}`,
    method: r.method,
    httpVersion: '1.1',
    headersDistinct,
    socket: { remoteAddress: '127.0.0.1', localPort: 3000 },
  } as unknown as IncomingMessage;
  return toEventV2(fake, r.body ?? Buffer.alloc(0), requestId);
}

// ---- over a real socket --------------------------------------------------------------------------

/**
 * What node's HTTP client lets through: an RFC 7230 request target and latin-1 header values,
 * within node's 16 KB for the request line and headers together.
 */
export function forTheWire(r: FuzzRequest): FuzzRequest {
  const pct = (c: string) =>
    [...Buffer.from(c, 'utf8')].map((b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`).join('');
  const target = (s: string) => [...s].map((c) => (/^[\x21-\x7e]$/.test(c) && c !== '#' ? c : pct(c))).join('');
  const value = (s: string) => s.replace(/[^\t\x20-\x7e]/g, '?');
  const headersOut: Record<string, string> = {};
  for (const [k, v] of Object.entries(r.headers)) {
    // X-Amz-Target would route the request to the PutEvents endpoint instead of the API.
    if (
      !/^[a-z0-9!#$%&'*+.^_`|~-]+$/i.test(k) ||
      k.toLowerCase() === 'x-amz-target' ||
      k.toLowerCase() === 'content-length'
    )
      continue;
    if (k.toLowerCase() === 'host') continue;
    headersOut[k] = value(v);
  }
  // Node's server answers headers over 16 KB itself, with a bare 431 (API Gateway, in front of
  // the function on AWS, stops at 10 KB); stay under it, so that the API's own limit answers.
  const path = target(r.path).slice(0, 12_000);
  const query = target(r.query).slice(0, 14_000 - path.length);
  const size = () =>
    Object.entries(headersOut).reduce((n, [k, v]) => n + k.length + v.length + 4, path.length + query.length);
  while (size() > 15_000) {
    const [largest] = Object.entries(headersOut).sort((a, b) => b[1].length - a[1].length)[0]!;
    delete headersOut[largest];
  }
  // Methods node's parser does not know get its bare 400, as API Gateway answers them itself.
  const upper = r.method.toUpperCase();
  const method = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS', 'TRACE'].includes(upper) ? upper : 'GET';
  return { ...r, method, path, query, headers: headersOut };
}

export interface WireResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export function sendHttp(baseUrl: string, r: FuzzRequest): Promise<WireResponse> {
  const url = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        method: r.method,
        path: r.query === '' ? r.path : `${r.path}?${r.query}`,
        headers: { ...r.headers, ...(r.body ? { 'content-length': String(r.body.length) } : {}) },
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(r.body);
  });
}
