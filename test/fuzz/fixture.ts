/**
 * What the fuzz suites share: the embedded stack with a receiver, the identities and ids the
 * generators draw from (made through the public API), and the checks every answer must pass.
 */
import { describeApiError, hookrelayClient } from '../../client';
import { LIMITS } from '../../functions/api/schemas';
import type { LocalStack } from '../../infra/local/stack';
import type { RecordingReceiver } from '../helpers/receiver';
import { contractProblem } from './contract';
import type { Fixture, FuzzRequest, RouteLike } from './requests';
import type { RouteSpec } from '../../functions/api/routes';

/** The fixture is made with the typed client (the fuzzed requests themselves are raw). */
const admin = (stack: LocalStack) => hookrelayClient({ baseUrl: stack.apiUrl, key: stack.apiKey });

async function must<T>(answer: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
  const { data, error, response } = await answer;
  if (!response.ok || data === undefined)
    throw new Error(`fixture: ${response.url} answered ${describeApiError(response.status, error)}`);
  return data;
}

const newKey = (stack: LocalStack, appId: string) =>
  must(admin(stack).POST('/v1/apps/{appId}/keys', { params: { path: { appId } }, body: { name: 'fuzz' } }));
// Only type-filtered endpoints, so that the generated events fan out to few of them.
const newEndpoint = async (stack: LocalStack, appId: string, url: string) =>
  (
    await must(
      admin(stack).POST('/v1/apps/{appId}/endpoints', {
        params: { path: { appId } },
        body: { url, eventTypes: ['fuzz.type'] },
      }),
    )
  ).id;

const HELD_KEY = 'fuzz-held';
const HELD_TYPE = 'fuzz.held';

/**
 * Gives the strict endpoint's key a held head: an event with the key, whose attempt the receiver
 * fails (500), then waits until the endpoint lists the key as held (its next attempt is a retry).
 */
async function holdKey(stack: LocalStack, appId: string, endpointId: string): Promise<void> {
  await must(
    admin(stack).POST('/v1/apps/{appId}/events', {
      params: { path: { appId } },
      body: { type: HELD_TYPE, data: { n: 1 }, orderingKey: HELD_KEY },
    }),
  );
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const held = await must(
      admin(stack).GET('/v1/apps/{appId}/endpoints/{endpointId}/ordering/held', {
        params: { path: { appId, endpointId } },
      }),
    );
    if (held.items.some((h) => h.orderingKey === HELD_KEY)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`fixture: the key ${HELD_KEY} of ${endpointId} was not held within 60 s`);
}

/** Two apps; a key, an endpoint (to the receiver) and an event in the first. */
export async function createFixture(stack: LocalStack, receiver: RecordingReceiver): Promise<Fixture> {
  const receiverUrl = receiver.endpoint([200]);
  const appA = (await must(admin(stack).POST('/v1/apps', { body: { name: 'fuzz A' } }))).id;
  const appB = (await must(admin(stack).POST('/v1/apps', { body: { name: 'fuzz B' } }))).id;
  const key = await newKey(stack, appA);
  const endpointA = await newEndpoint(stack, appA, receiverUrl);
  const eventA = (
    await must(
      admin(stack).POST('/v1/apps/{appId}/events', {
        params: { path: { appId: appA } },
        body: { type: 'fuzz.type', data: { n: 1 }, id: 'evt-fuzz-1' },
      }),
    )
  ).id;
  const eventTypeA = `fuzz.type.${appA.slice(-6).toLowerCase()}`;
  await createFixtureType(stack, eventTypeA);
  const links = await mintLinks(stack, appA);
  const endpointStrictA = (
    await must(
      admin(stack).POST('/v1/apps/{appId}/endpoints', {
        params: { path: { appId: appA } },
        body: { url: receiver.endpoint([500]), eventTypes: [HELD_TYPE], ordering: 'strict' },
      }),
    )
  ).id;
  await holdKey(stack, appA, endpointStrictA);
  return {
    adminKey: stack.apiKey,
    appA,
    appB,
    appKeyA: key.key,
    keyIdA: key.id,
    endpointA,
    eventA,
    receiverUrl,
    eventTypeA,
    endpointStrictA,
    heldKeyA: HELD_KEY,
    ...links,
  };
}

const FIXTURE_TYPE = { schema: { type: 'object', properties: { n: { type: 'number' } } }, examples: [{ n: 1 }] };

function createFixtureType(stack: LocalStack, name: string) {
  return must(admin(stack).POST('/v1/event-types', { body: { name, ...FIXTURE_TYPE } }));
}

async function mintLinks(stack: LocalStack, appId: string) {
  const mint = (capabilities: Array<'read' | 'manage'>) =>
    must(admin(stack).POST('/v1/apps/{appId}/portal-access', { params: { path: { appId } }, body: { capabilities } }));
  return { portalReadA: (await mint(['read'])).token, portalManageA: (await mint(['read', 'manage'])).token };
}

type Caller = { kind: 'admin' } | { kind: 'app' } | { kind: 'portal'; manage: boolean } | { kind: 'none' };

/** What a portal link may reach, as the API's own table says (a copy would prove nothing new). */
const { ROUTES } = await import('../../functions/api/routes');
const portalCapability = (route: string) => (ROUTES as Record<string, RouteSpec>)[route]?.portal;

/** Who the API should take the caller for, from the Authorization header alone. */
function callerOf(f: Fixture, header: string | undefined): Caller {
  const token = header === undefined ? undefined : /^Bearer\s+(\S+)\s*$/i.exec(header)?.[1];
  if (token === f.adminKey) return { kind: 'admin' };
  if (token === f.appKeyA) return { kind: 'app' };
  if (token === f.portalReadA) return { kind: 'portal', manage: false };
  if (token === f.portalManageA) return { kind: 'portal', manage: true };
  return { kind: 'none' };
}

function decoded(s: string | undefined): string | undefined {
  try {
    return s === undefined ? undefined : decodeURIComponent(s);
  } catch {
    return undefined;
  }
}

/** The route of `table` a request reaches, and its path parameters, matched as the router matches. */
export function routeOf(
  table: readonly RouteLike[],
  r: FuzzRequest,
): { route: RouteLike; params: Record<string, string> } | undefined {
  const path = r.path.split('?')[0]!;
  for (const route of table) {
    if (route.method !== r.method) continue;
    const names: string[] = [];
    const pattern = route.path.replace(/[.+^$()|[\]\\]/g, '\\$&').replace(/\{(\w+)\}/g, (_, name: string) => {
      names.push(name);
      return '([^/]+)';
    });
    const m = new RegExp(`^${pattern}/?$`).exec(path);
    if (m) return { route, params: Object.fromEntries(names.map((n, i) => [n, m[i + 1]!])) };
  }
  return undefined;
}

/**
 * Why an answer breaks the contract or the key model, or undefined: the shape checks, and a 2xx
 * only for a caller allowed to have it (no key: /health only; the app key: its own app only,
 * never creating apps or keys), with secrets only from the routes that hand them out. The route
 * is the one the request reaches (a generated method or path can lead to another than intended).
 */
export function answerProblem(
  f: Fixture,
  table: readonly RouteLike[],
  r: FuzzRequest,
  status: number,
  body: string,
): string | undefined {
  const shape = contractProblem({ status, body, method: r.method });
  if (shape !== undefined) return shape;
  // Headers well over API Gateway's 10 KB are refused as such, whatever else is wrong.
  const headerBytes = Object.entries(r.headers).reduce(
    (n, [k, v]) => n + Buffer.byteLength(k) + Buffer.byteLength(v) + 4,
    r.path.length + r.query.length,
  );
  // (An answer to HEAD has its body dropped on the wire: there the status is all there is.)
  const tooLarge =
    status === 400 && (body.includes('"headers_too_large"') || (r.method.toUpperCase() === 'HEAD' && body === ''));
  if (headerBytes > LIMITS.requestHeaderBytes + 512 && !tooLarge) {
    return `${headerBytes} bytes of request line and headers answered ${status}, not 400 headers_too_large`;
  }
  const ok = status >= 200 && status < 300;
  const reached = routeOf(table, r);
  if (ok && reached === undefined) return `a ${status} for a request that matches no route`;
  const route = reached ? `${reached.route.method} ${reached.route.path}` : `${r.method} (no route)`;
  if (ok && reached && route !== 'GET /health') {
    const who = callerOf(f, r.headers.authorization);
    if (who.kind === 'none') return `a ${status} without a valid key`;
    const catalogWrite = reached.route.path.startsWith('/v1/event-types') && reached.route.method !== 'GET';
    if (who.kind !== 'admin' && catalogWrite) return `a ${who.kind} caller got a ${status} on ${route}`;
    if (who.kind === 'app' || who.kind === 'portal') {
      if (reached.route.path === '/v1/apps' || reached.route.path.includes('/keys'))
        return `the ${who.kind} key got a ${status} on ${route}`;
      if (reached.params.appId !== undefined && decoded(reached.params.appId) !== f.appA)
        return `the ${who.kind} key of ${f.appA} got a ${status} for app ${reached.params.appId}`;
    }
    if (who.kind === 'app' && route === 'GET /v1/portal/session') return `the app key got a ${status} on ${route}`;
    if (who.kind === 'portal' && reached.params.appId !== undefined) {
      const needed = portalCapability(route);
      if (needed === undefined) return `a portal link got a ${status} on ${route}`;
      if (needed === 'manage' && !who.manage) return `a read-only portal link got a ${status} on ${route}`;
    }
  }
  if (/whsec_/.test(body) && !(ok && /\/secret(\/rotate)?$/.test(reached?.route.path ?? '')))
    return `a signing secret in a ${status} of ${route}`;
  if (/hrk_/.test(body) && !(status === 201 && route === 'POST /v1/apps/{appId}/keys'))
    return `an app key in a ${status} of ${route}`;
  if (/hrp_/.test(body) && !(status === 201 && route === 'POST /v1/apps/{appId}/portal-access'))
    return `a portal token in a ${status} of ${route}`;
  if (body.includes(f.adminKey)) return `the admin key in a ${status} of ${route}`;
  return undefined;
}

/** A short description of a request for failure messages (bodies and long headers cut). */
export function describeRequest(r: FuzzRequest): string {
  const cut = (s: string, n = 200) => (s.length > n ? `${s.slice(0, n)}…(${s.length} chars)` : s);
  const headers = Object.fromEntries(Object.entries(r.headers).map(([k, v]) => [k, cut(v, 80)]));
  return `${r.method} ${cut(r.path)}${r.query ? `?${cut(r.query)}` : ''} headers=${JSON.stringify(headers)} body=${
    r.body === undefined ? 'none' : JSON.stringify(cut(r.body.toString('utf8')))
  }`;
}

/**
 * Puts back what a generated request took away from the fixture (the key revoked, the endpoint
 * deleted), so the rest of the run still reaches deep into the handlers.
 */
export async function restore(
  stack: LocalStack,
  f: Fixture,
  table: readonly RouteLike[],
  r: FuzzRequest,
  status: number,
): Promise<void> {
  const reached = routeOf(table, r);
  // A changed fixture type gets its schema and example back, so that send-example can still succeed.
  if (
    status === 200 &&
    reached?.route.method === 'PATCH' &&
    reached.route.path === '/v1/event-types/{name}' &&
    decoded(reached.params.name) === f.eventTypeA
  ) {
    await must(
      admin(stack).PATCH('/v1/event-types/{name}', { params: { path: { name: f.eventTypeA } }, body: FIXTURE_TYPE }),
    );
  }
  // A skipped head lets the key go on: hold it again, so that the next skip can succeed too.
  if (
    status === 202 &&
    reached?.route.path.endsWith('/ordering/skip') &&
    decoded(reached.params.endpointId) === f.endpointStrictA
  ) {
    await holdKey(stack, f.appA, f.endpointStrictA);
  }
  if (status !== 204 || !reached || reached.route.method !== 'DELETE') return;
  if (reached.route.path.endsWith('/keys/{keyId}') && decoded(reached.params.keyId) === f.keyIdA) {
    const key = await newKey(stack, f.appA);
    f.keyIdA = key.id;
    f.appKeyA = key.key;
  }
  if (reached.route.path.endsWith('/portal-access') && decoded(reached.params.appId) === f.appA) {
    Object.assign(f, await mintLinks(stack, f.appA));
  }
  if (reached.route.path === '/v1/event-types/{name}' && decoded(reached.params.name) === f.eventTypeA) {
    await createFixtureType(stack, f.eventTypeA);
  }
  if (reached.route.path.endsWith('/endpoints/{endpointId}') && decoded(reached.params.endpointId) === f.endpointA) {
    f.endpointA = await newEndpoint(stack, f.appA, f.receiverUrl);
  }
}
