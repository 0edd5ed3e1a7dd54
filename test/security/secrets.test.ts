/**
 * Secrets never leak. A realistic session runs through the embedded stack over HTTP (an app, app
 * keys, endpoints whose deliveries succeed, fail with 500 and time out, secret rotations, events,
 * polling, wrong keys, a revoked key, bad JSON...) while everything written to stdout, stderr
 * and the console is captured, and every response body and every webhook the receiver gets is
 * kept. Then every secret issued during the session (the admin key, each app key, each signing
 * secret, and the base64 key material inside them) is searched for everywhere:
 *
 * - logs: never, even with the most verbose logging an operator can switch on (DEBUG, and
 *   Powertools' POWERTOOLS_LOGGER_LOG_EVENT, which logs whole invocation events);
 * - responses: only where the contract hands the secret out (the new app key, once; an
 *   endpoint's secret from /secret and /secret/rotate), never in lists, views or errors;
 * - webhooks: never (they carry signatures, not secrets).
 *
 * Endpoint credentials (Basic passwords, bearer tokens, OAuth2 client secrets and the access
 * tokens a real OAuth2 server issues, custom header values) are write-only: never in a log, never
 * in any response (an attempt's response excerpt included, even when the receiver echoes them),
 * and in webhooks only on the requests to their own endpoint.
 */
import type { IncomingMessage } from 'node:http';
import { format } from 'node:util';
import { OAuth2Server } from 'oauth2-mock-server';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Schemas } from '../../client';
import { startLocalStack, type LocalStack } from '../../infra/local/stack';
import { RecordingReceiver } from '../helpers/receiver';

interface Exchange {
  method: string;
  path: string;
  status: number;
  body: string;
}

/** Everything the process wrote while the session ran. */
const captured: string[] = [];
const exchanges: Exchange[] = [];
const restores: Array<() => void> = [];

function captureOutput(): void {
  for (const stream of [process.stdout, process.stderr]) {
    const original = stream.write.bind(stream);
    stream.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
      captured.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
      void rest;
      return true;
    }) as typeof stream.write;
    restores.push(() => {
      stream.write = original;
    });
  }
  for (const method of ['log', 'info', 'warn', 'error', 'debug', 'trace'] as const) {
    const spy = vi.spyOn(console, method).mockImplementation((...args: unknown[]) => {
      captured.push(format(...args));
    });
    restores.push(() => spy.mockRestore());
  }
}

/** The receiver URL of the OAuth2 endpoint, where its access tokens may appear. */
let oauthUrl = 'http://x/';
let stack: LocalStack;
let receiver: RecordingReceiver;
let oauth: OAuth2Server;

async function call<T = Record<string, unknown>>(
  method: string,
  path: string,
  opts: { key?: string | null; body?: unknown; raw?: string; headers?: Record<string, string> } = {},
): Promise<{ status: number; body: T }> {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.key !== null) headers.authorization ??= `Bearer ${opts.key ?? stack.apiKey}`;
  const payload = opts.raw ?? (opts.body === undefined ? undefined : JSON.stringify(opts.body));
  if (payload !== undefined) headers['content-type'] ??= 'application/json';
  const res = await fetch(`${stack.apiUrl}${path}`, { method, headers, body: payload });
  const text = await res.text();
  exchanges.push({ method, path, status: res.status, body: text });
  return { status: res.status, body: (text ? JSON.parse(text) : {}) as T };
}

async function waitFor<T>(probe: () => Promise<T | undefined>, what: string, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

type Status = Schemas['EventStatus'];

/** Every secret value issued in the session, by what it is. */
const secrets = new Map<string, string>();
/** The routes allowed to answer with each secret. */
const allowedIn = new Map<string, Set<string>>();

/** Endpoint credentials (write-only), each with the receiver path its webhooks may carry it on. */
const credentials = new Map<string, { what: string; path: string }>();

function credential(value: string, what: string, url: string): void {
  credentials.set(value, { what, path: new URL(url).pathname });
}

function issued(value: string, what: string, route: string): void {
  secrets.set(value, what);
  const allowed = allowedIn.get(value) ?? new Set<string>();
  allowed.add(route);
  allowedIn.set(value, allowed);
}

/** The secret and the key material inside it, as it could appear in text (plain and JSON-escaped). */
function needles(value: string): string[] {
  const material = value.replace(/^(whsec_|hrk_)/, '');
  const out = new Set([value, material]);
  if (value.startsWith('whsec_')) {
    const bytes = Buffer.from(material, 'base64');
    out.add(bytes.toString('base64url'));
    out.add(bytes.toString('hex'));
  }
  for (const n of [...out]) out.add(JSON.stringify(n).slice(1, -1));
  return [...out];
}

beforeAll(async () => {
  captureOutput();
  receiver = await new RecordingReceiver().start();
  oauth = new OAuth2Server();
  await oauth.issuer.keys.generate('RS256');
  // Each token unique (the server's tokens are otherwise equal within one second).
  let serial = 0;
  oauth.service.on('beforeTokenSigning', (token: { payload: Record<string, unknown> }) => {
    token.payload.jti = `t${++serial}`;
  });
  oauth.service.on('beforeResponse', (response: { body: Record<string, unknown> }, _req: IncomingMessage) => {
    const token = String(response.body.access_token);
    credential(token, 'an OAuth2 access token', oauthUrl);
    credential(`Bearer ${token}`, 'an OAuth2 Authorization value', oauthUrl);
  });
  await oauth.start(0, '127.0.0.1');
  stack = await startLocalStack({
    port: 0,
    quiet: false,
    env: {
      HOOKRELAY_RETRY_SCHEDULE: '1,1',
      HOOKRELAY_DELIVERY_TIMEOUT_MS: '1000',
      // The most an operator can turn on: every log line, and Powertools' whole-event logging.
      POWERTOOLS_LOG_LEVEL: 'DEBUG',
      POWERTOOLS_LOGGER_LOG_EVENT: 'true',
    },
  });
  issued(stack.apiKey, 'the admin key', '(none)');
}, 60_000);

afterAll(async () => {
  await stack?.stop();
  await receiver?.stop();
  await oauth?.stop();
  for (const restore of restores.reverse()) restore();
});

describe('a session through the whole stack', () => {
  it('runs: apps, keys, endpoints that succeed, fail and time out, rotations, events, polling, bad requests', async () => {
    // An app and its keys; one key is revoked again.
    const appId = (await call<Schemas['App']>('POST', '/v1/apps', { body: { name: 'Acme' } })).body.id;
    const k1 = await call<Schemas['Key']>('POST', `/v1/apps/${appId}/keys`, {
      body: { name: 'producer' },
    });
    const k2 = await call<Schemas['Key']>('POST', `/v1/apps/${appId}/keys`, { body: { name: 'old' } });
    expect([k1.status, k2.status]).toEqual([201, 201]);
    issued(k1.body.key, 'an app key', 'POST /v1/apps/{appId}/keys');
    issued(k2.body.key, 'a revoked app key', 'POST /v1/apps/{appId}/keys');
    expect((await call('DELETE', `/v1/apps/${appId}/keys/${k2.body.id}`)).status).toBe(204);
    const appKey = k1.body.key;

    // Endpoints: one that answers 200, one 500, one too slow; one made with the app key.
    const urls = {
      ok: receiver.endpoint([200]),
      failing: receiver.endpoint([500]),
      slow: receiver.endpoint([{ status: 200, delayMs: 3_000 }]),
      byAppKey: receiver.endpoint([200]),
    };
    const ids: Record<string, string> = {};
    for (const [name, url] of Object.entries(urls)) {
      const r = await call<Schemas['Endpoint']>('POST', `/v1/apps/${appId}/endpoints`, {
        body: { url, eventTypes: ['order.created'], description: name },
        key: name === 'byAppKey' ? appKey : undefined,
      });
      expect(r.status).toBe(201);
      ids[name] = r.body.id;
      const secret = await call<Schemas['Secret']>('GET', `/v1/apps/${appId}/endpoints/${r.body.id}/secret`, {
        key: appKey,
      });
      issued(secret.body.key, `the signing secret of ${name}`, 'GET /v1/apps/{appId}/endpoints/{endpointId}/secret');
    }
    // Rotations: the new secret signs beside the old one.
    for (const name of ['ok', 'failing']) {
      const r = await call<Schemas['Secret']>('POST', `/v1/apps/${appId}/endpoints/${ids[name]}/secret/rotate`);
      expect(r.status).toBe(200);
      issued(
        r.body.key,
        `the rotated signing secret of ${name}`,
        'POST /v1/apps/{appId}/endpoints/{endpointId}/secret/rotate',
      );
      const again = await call<Schemas['Secret']>('GET', `/v1/apps/${appId}/endpoints/${ids[name]}/secret`);
      issued(
        again.body.key,
        `the rotated signing secret of ${name}`,
        'GET /v1/apps/{appId}/endpoints/{endpointId}/secret',
      );
    }

    // Events: one by the admin, one by the app key, a batch, and an idempotent replay.
    const e1 = await call<Schemas['Accepted']>('POST', `/v1/apps/${appId}/events`, {
      body: { type: 'order.created', data: { n: 1 }, id: 'ord-1' },
    });
    const e2 = await call<Schemas['Accepted']>('POST', `/v1/apps/${appId}/events`, {
      body: { type: 'order.created', data: { n: 2 } },
      key: appKey,
    });
    const batch = await call('POST', `/v1/apps/${appId}/events/batch`, {
      body: {
        events: [
          { type: 'order.created', data: { n: 3 } },
          { type: '', data: {} },
        ],
      },
    });
    expect([e1.status, e2.status, batch.status]).toEqual([202, 202, 202]);
    expect(
      (await call('POST', `/v1/apps/${appId}/events`, { body: { type: 'order.created', data: { n: 1 }, id: 'ord-1' } }))
        .status,
    ).toBe(202);

    // Wait until every delivery of the first event has finished: succeeded, failed after retries, failed on timeouts.
    const done = await waitFor(async () => {
      const s = await call<Status>('GET', `/v1/apps/${appId}/events/${e1.body.id}`);
      const finished = s.body.deliveries.every((d) => d.status === 'succeeded' || d.status === 'failed');
      return s.body.deliveries.length === 4 && finished ? s.body : undefined;
    }, 'the deliveries to finish');
    const byEndpoint = Object.fromEntries(done.deliveries.map((d) => [d.endpointId, d]));
    expect(byEndpoint[ids.ok!]?.status).toBe('succeeded');
    expect(byEndpoint[ids.failing!]).toMatchObject({ status: 'failed', attempts: 3 });
    // The slow endpoint times out every attempt: it fails after its three, or after two when the
    // breaker (issue 19) has paused it on the other events' timeouts and its window ends paused.
    const slow = byEndpoint[ids.slow!] as { status: string; attempts: number; reason?: string };
    expect(slow.status).toBe('failed');
    if (slow.attempts !== 3)
      expect(slow.reason).toMatch(/^the retry window ended while the endpoint was paused, after [12] attempts$/);

    // Polling and management views, by the admin and by the app key.
    for (const key of [undefined, appKey]) {
      await call('GET', `/v1/apps/${appId}`, { key });
      await call('GET', `/v1/apps/${appId}/endpoints`, { key });
      await call('GET', `/v1/apps/${appId}/endpoints?limit=1`, { key });
      for (const id of Object.values(ids)) await call('GET', `/v1/apps/${appId}/endpoints/${id}`, { key });
      await call('GET', `/v1/apps/${appId}/events/${e1.body.id}/attempts`, { key });
      await call('GET', `/v1/apps/${appId}/events/${e2.body.id}`, { key });
      await call('GET', `/v1/apps/${appId}/events?limit=10`, { key });
    }
    expect((await call('PATCH', `/v1/apps/${appId}/endpoints/${ids.slow}`, { body: { enabled: false } })).status).toBe(
      200,
    );
    expect(
      (await call('POST', `/v1/apps/${appId}/events/${e1.body.id}/resend`, { body: { endpointId: ids.ok } })).status,
    ).toBe(202);
    expect(
      (
        await call('POST', `/v1/apps/${appId}/endpoints/${ids.failing}/recover`, {
          body: { since: '2020-01-01T00:00:00Z' },
        })
      ).status,
    ).toBe(202);

    // Bad requests, several carrying a secret where it does not belong.
    const [okSecret] = [...secrets].find(([, what]) => what === 'the signing secret of ok')!;
    const bad: Array<Promise<{ status: number }>> = [
      call('GET', `/v1/apps/${appId}`, { key: `${stack.apiKey}x` }),
      call('GET', `/v1/apps/${appId}`, { key: appKey.slice(0, -1) }),
      call('GET', `/v1/apps/${appId}`, { key: k2.body.key }),
      call('GET', `/v1/apps/${appId}`, { key: okSecret }),
      call('GET', `/v1/apps/${appId}`, {
        key: null,
        headers: { authorization: `Basic ${Buffer.from(`admin:${stack.apiKey}`).toString('base64')}` },
      }),
      call('GET', `/v1/apps/${appId}`, { key: null, headers: { authorization: `Token ${stack.apiKey}` } }),
      call('POST', '/v1/apps', { key: appKey, body: { name: 'not allowed' } }),
      call('POST', `/v1/apps/${appId}/keys`, { key: appKey, body: {} }),
      call('POST', `/v1/apps/${appId}/events`, { raw: '{"type": "order.created", "data": ' }),
      call('POST', `/v1/apps/${appId}/events`, {
        raw: 'type=x',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      }),
      call('GET', `/v1/apps/${appId}`, { headers: { 'x-padding': 'p'.repeat(11_000) } }),
      call('GET', `/v1/apps/app_00000000000000000000000000`, { key: appKey }),
      call('GET', '/v1/nowhere'),
    ];
    const statuses = (await Promise.all(bad)).map((r) => r.status);
    expect(statuses).toEqual([401, 401, 401, 401, 401, 401, 403, 403, 400, 415, 400, 404, 404]);
    await call('GET', '/health', { key: null });

    // Endpoints with credentials and custom headers. The first answers 500 echoing them back
    // (a receiver that reflects its request), so its attempt's response excerpt would hold them.
    const basicAuth = { type: 'basic', username: 'relay-user', password: 'basic-pass-9f3k2' };
    const basicValue = `Basic ${Buffer.from('relay-user:basic-pass-9f3k2').toString('base64')}`;
    const echoing = receiver.endpoint([
      { status: 500, body: `you sent ${basicValue}, basic-pass-9f3k2 and X-Api-Key: hdr-value-7d1s0` },
      200,
    ]);
    const withCredentials: Array<[string, Record<string, unknown>]> = [
      [echoing, { auth: basicAuth, headers: { 'X-Api-Key': 'hdr-value-7d1s0', 'X-Tenant': 'tenant-acme-42' } }],
      [receiver.endpoint([200]), { auth: { type: 'bearer', token: 'bearer-tok-5h2m1' } }],
      [
        (oauthUrl = receiver.endpoint([401, 200])),
        {
          auth: {
            type: 'oauth2-client-credentials',
            tokenUrl: `${oauth.issuer.url}/token`,
            clientId: 'relay-client',
            clientSecret: 'client-secret-2j8q4',
            scope: 'hooks',
          },
          signature: { scheme: 'hmac-sha256' },
          secret: 'chosen-signing-secret-6t1',
        },
      ],
      [receiver.endpoint([200]), { signature: { scheme: 'standard-webhooks-v1a' } }],
    ];
    credential('basic-pass-9f3k2', 'a Basic password', echoing);
    credential(basicValue, 'a Basic Authorization value', echoing);
    credential(Buffer.from('relay-user:basic-pass-9f3k2').toString('base64'), 'Basic credentials', echoing);
    credential('hdr-value-7d1s0', 'a custom header value', echoing);
    credential('tenant-acme-42', 'a custom header value', echoing);
    credential('bearer-tok-5h2m1', 'a bearer token', withCredentials[1]![0]);
    // A client secret goes to the token endpoint only, never to a webhook receiver.
    credentials.set('client-secret-2j8q4', { what: 'an OAuth2 client secret', path: '(none)' });
    const credentialIds: string[] = [];
    for (const [url, options] of withCredentials) {
      const r = await call<Schemas['Endpoint']>('POST', `/v1/apps/${appId}/endpoints`, {
        body: { url, eventTypes: ['secret.check'], ...options },
      });
      expect(r.status).toBe(201);
      credentialIds.push(r.body.id);
      const secret = await call<Schemas['Secret']>('GET', `/v1/apps/${appId}/endpoints/${r.body.id}/secret`);
      // A v1a endpoint answers its public key (whpk_), which is no secret: views show it too.
      if (!secret.body.key.startsWith('whpk_'))
        issued(secret.body.key, 'a signing secret', 'GET /v1/apps/{appId}/endpoints/{endpointId}/secret');
      await call('GET', `/v1/apps/${appId}/endpoints/${r.body.id}`);
    }
    issued(
      'chosen-signing-secret-6t1',
      'a chosen signing secret',
      'GET /v1/apps/{appId}/endpoints/{endpointId}/secret',
    );
    // A v1a endpoint's private key never leaves hookrelay; its public key is handed out.
    const v1aKeys = await call<Schemas['Secret']>(
      'POST',
      `/v1/apps/${appId}/endpoints/${credentialIds[3]}/secret/rotate`,
    );
    expect(v1aKeys.body.key).toMatch(/^whpk_/);
    const checked = await call<Schemas['Accepted']>('POST', `/v1/apps/${appId}/events`, {
      body: { type: 'secret.check', data: { n: 9 } },
    });
    await waitFor(async () => {
      const s = await call<Status>('GET', `/v1/apps/${appId}/events/${checked.body.id}`);
      return s.body.deliveries.every((d) => d.status === 'succeeded') ? s.body : undefined;
    }, 'the deliveries with credentials to succeed');
    const tried = await call<Schemas['Attempts']>('GET', `/v1/apps/${appId}/events/${checked.body.id}/attempts`);
    expect(tried.body.items.map((a) => a.responseExcerpt)).toContain(
      'you sent [redacted], [redacted] and X-Api-Key: [redacted]',
    );
    await call('GET', `/v1/apps/${appId}/endpoints`);
    await call('PATCH', `/v1/apps/${appId}/endpoints/${credentialIds[0]}`, {
      body: { auth: { type: 'basic', username: 'relay-user' } },
    });

    // Let the resend and recover attempts (and their logs) happen before the scan.
    await waitFor(async () => (receiver.on(urls.ok).length >= 2 ? true : undefined), 'the resent webhook');
    await new Promise((r) => setTimeout(r, 1_500));
  });

  it('captured what it set out to scan: logs from the handlers and the local stack, the responses, the webhooks', () => {
    const logs = captured.join('');
    // POWERTOOLS_LOGGER_LOG_EVENT at work (the delivery function logs its SQS events) and DEBUG lines.
    expect(logs).toContain('"Records"');
    expect(logs).toContain('delivery message handled');
    expect(exchanges.length).toBeGreaterThan(50);
    expect(receiver.received.length).toBeGreaterThanOrEqual(8);
    expect(secrets.size).toBeGreaterThanOrEqual(9);
  });

  it('never logs a secret, an app key or the admin key', () => {
    const logs = captured.join('');
    const found = [...secrets].flatMap(([value, what]) =>
      needles(value)
        .filter((n) => logs.includes(n))
        .map(() => what),
    );
    expect(found).toEqual([]);
  });

  it('never logs an endpoint credential or custom header value', () => {
    const logs = captured.join('');
    expect(credentials.size).toBeGreaterThanOrEqual(10);
    const found = [...credentials].filter(([value]) => logs.includes(value)).map(([, c]) => c.what);
    expect(found).toEqual([]);
  });

  it('never answers with an endpoint credential: not in views, lists, errors or attempts', () => {
    const leaks = exchanges.flatMap((x) =>
      [...credentials]
        .filter(([value]) => x.body.includes(value) || x.body.includes(JSON.stringify(value).slice(1, -1)))
        .map(([, c]) => `${c.what} in ${x.status} ${x.method} ${x.path}`),
    );
    expect(leaks).toEqual([]);
  });

  it('sends credentials only to their own endpoint, in headers, never in a body', () => {
    const leaks: string[] = [];
    for (const r of receiver.received) {
      for (const [value, c] of credentials) {
        if (r.body.includes(value)) leaks.push(`${c.what} in a webhook body`);
        if (r.path !== c.path && JSON.stringify(r.headers).includes(value)) leaks.push(`${c.what} sent to ${r.path}`);
      }
    }
    expect(leaks).toEqual([]);
    // And they did arrive where they belong.
    expect(receiver.received.some((r) => r.headers['x-api-key'] === 'hdr-value-7d1s0')).toBe(true);
    expect(receiver.received.some((r) => r.headers.authorization === 'Bearer bearer-tok-5h2m1')).toBe(true);
  });

  it('answers with a secret only from the routes that hand it out, never in lists, views or errors', () => {
    const leaks: string[] = [];
    for (const x of exchanges) {
      const route = routeOf(x.method, x.path);
      for (const [value, what] of secrets) {
        if (!needles(value).some((n) => x.body.includes(n))) continue;
        const handedOut = x.status < 300 && allowedIn.get(value)?.has(route) === true && x.body.includes(value);
        if (!handedOut) leaks.push(`${what} in ${x.status} ${x.method} ${x.path}`);
      }
      if (/"secrets"|"hash"/.test(x.body)) leaks.push(`a secrets or hash field in ${x.status} ${x.method} ${x.path}`);
    }
    expect(leaks).toEqual([]);
  });

  it('lists and shows endpoints without their secrets', () => {
    const views = exchanges.filter(
      (x) => x.method === 'GET' && /\/endpoints(\/ep_[^/]+)?(\?.*)?$/.test(x.path) && x.status === 200,
    );
    expect(views.length).toBeGreaterThanOrEqual(10);
    for (const x of views) {
      const body = JSON.parse(x.body) as { items?: Record<string, unknown>[] } & Record<string, unknown>;
      for (const item of body.items ?? [body]) {
        expect(Object.keys(item).sort()).toEqual(expect.not.arrayContaining(['secret', 'secrets', 'key']));
        expect(JSON.stringify(item)).not.toMatch(/whsec_/);
      }
    }
  });

  it('never puts a secret in a webhook: the receiver gets signatures only', () => {
    const text = receiver.received.map((r) => JSON.stringify(r)).join('\n');
    const found = [...secrets].flatMap(([value, what]) =>
      needles(value)
        .filter((n) => text.includes(n))
        .map(() => what),
    );
    expect(found).toEqual([]);
    expect(
      receiver.received.every(
        (r) =>
          /^v1a?,/.test(r.headers['webhook-signature'] ?? '') ||
          /^sha256=/.test(r.headers['x-hub-signature-256'] ?? ''),
      ),
    ).toBe(true);
  });
});

/** The route-table path a request path belongs to, for the allow-list. */
function routeOf(method: string, path: string): string {
  const p = path.split('?')[0]!;
  const patterns: Array<[RegExp, string]> = [
    [/^\/v1\/apps\/[^/]+\/keys$/, '/v1/apps/{appId}/keys'],
    [/^\/v1\/apps\/[^/]+\/endpoints\/[^/]+\/secret$/, '/v1/apps/{appId}/endpoints/{endpointId}/secret'],
    [/^\/v1\/apps\/[^/]+\/endpoints\/[^/]+\/secret\/rotate$/, '/v1/apps/{appId}/endpoints/{endpointId}/secret/rotate'],
  ];
  const found = patterns.find(([re]) => re.test(p));
  return `${method} ${found ? found[1] : p}`;
}
