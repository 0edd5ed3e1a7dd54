/**
 * Endpoint request options through the public API: signature schemes, chosen secrets, custom
 * headers and auth (Basic, bearer, OAuth2 client credentials from a real OAuth2 server), what the
 * API shows of them (never a secret), the 422s that name the field, and PATCHes that take effect
 * from the next attempt.
 */
import { createHmac, createPublicKey, verify } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { OAuth2Server } from 'oauth2-mock-server';
import { Webhook as StandardWebhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RequestBody, Schemas } from '../../client';
import { useSystem } from '../helpers/e2e';
import type { Received } from '../helpers/receiver';

const system = useSystem();

type Options = Omit<RequestBody<'/v1/apps/{appId}/endpoints', 'post'>, 'url'>;
type ApiError = Schemas['Error'];

/** Registers an endpoint on a fresh receiver path and answers its id, URL and the API's answer. */
async function endpoint(appId: string, options: Options, behaviours = [200]) {
  const url = system.hook(behaviours);
  const { secret: _secret, ...view } = await system.api.createEndpoint(appId, url, options);
  return { id: view.id, url, view };
}

/** The typed client's parameters for one endpoint's routes. */
const at = (appId: string, endpointId: string) => ({ params: { path: { appId, endpointId } } });

async function keyOf(appId: string, endpointId: string) {
  const r = await system.api.hr.GET('/v1/apps/{appId}/endpoints/{endpointId}/secret', at(appId, endpointId));
  return r.data!.key;
}

async function deliverOne(appId: string, url: string, data: Record<string, unknown> = { n: 1 }): Promise<Received> {
  const before = system.receiver.on(url).length;
  const sent = await system.api.sendEvent(appId, { type: 'thing.happened', data });
  await system.api.waitForStatus(appId, sent.id, (s) => s.deliveries[0]?.status === 'succeeded');
  return system.receiver.on(url)[before]!;
}

describe('bad endpoint options: a 422 that names the field', () => {
  let appId = '';
  beforeAll(async () => {
    appId = await system.api.createApp();
  });

  const cases: Array<[string, Record<string, unknown>, string, RegExp]> = [
    ['an unknown scheme', { signature: { scheme: 'md5' } }, 'signature.scheme', /one of standard-webhooks/],
    ['a header name that is not a token', { headers: { 'X Bad Name': 'v' } }, 'headers.X Bad Name', /HTTP header name/],
    [
      'a header value with a line break',
      { headers: { 'X-Ok': 'a\r\nInjected: yes' } },
      'headers.X-Ok',
      /printable ASCII/,
    ],
    ['a reserved header', { headers: { 'Webhook-Id': 'mine' } }, 'headers.Webhook-Id', /set by hookrelay/],
    ['a hop-by-hop header', { headers: { 'Transfer-Encoding': 'chunked' } }, 'headers.Transfer-Encoding', /hop/],
    ['the host header', { headers: { Host: 'example.com' } }, 'headers.Host', /endpoint URL/],
    [
      'too many headers',
      { headers: Object.fromEntries(Array.from({ length: 21 }, (_, i) => [`X-H${i}`, 'v'])) },
      'headers',
      /at most 20/,
    ],
    ['a secret too short', { secret: 'short' }, 'secret', /at least 16/],
    ['a secret too long', { secret: 'x'.repeat(257) }, 'secret', /at most 256/],
    ['a secret with a non-printable character', { secret: 'sixteen-chars-\u0001-ok' }, 'secret', /printable/],
    [
      'a v1a scheme with a plain secret',
      { signature: { scheme: 'standard-webhooks-v1a' }, secret: 'x'.repeat(20) },
      'secret',
      /whsk_/,
    ],
    [
      'an hmac header that is reserved',
      { signature: { scheme: 'hmac-sha256', header: 'Content-Type' } },
      'signature.header',
      /set by hookrelay/,
    ],
    ['an unknown auth type', { auth: { type: 'digest' } }, 'auth.type', /one of basic, bearer/],
    ['basic auth without its password', { auth: { type: 'basic', username: 'u' } }, 'auth.password', /required/],
    ['bearer auth without its token', { auth: { type: 'bearer' } }, 'auth.token', /required/],
    [
      'oauth2 without its client secret',
      { auth: { type: 'oauth2-client-credentials', tokenUrl: 'https://auth.example.com/token', clientId: 'c' } },
      'auth.clientSecret',
      /required/,
    ],
    [
      'a token URL the destination guard refuses',
      {
        auth: {
          type: 'oauth2-client-credentials',
          tokenUrl: 'http://169.254.169.254/latest/meta-data/',
          clientId: 'c',
          clientSecret: 's',
        },
      },
      'auth.tokenUrl',
      /metadata|link-local/,
    ],
    [
      'an Authorization header beside auth',
      { auth: { type: 'bearer', token: 'tok-123456' }, headers: { authorization: 'Bearer other' } },
      'headers.authorization',
      /from the endpoint's auth/,
    ],
    [
      'a custom header that is the hmac signature header',
      { signature: { scheme: 'hmac-sha256' }, headers: { 'x-hub-signature-256': 'forged' } },
      'headers.x-hub-signature-256',
      /signature/,
    ],
  ];

  for (const [what, options, path, message] of cases) {
    it(`refuses ${what}`, async () => {
      // Deliberately outside the typed client: half of these bodies do not type-check.
      const r = await system.api.raw('POST', `/v1/apps/${appId}/endpoints`, { url: system.hook(), ...options });
      expect(r.status).toBe(422);
      const body = r.body as ApiError;
      expect(body.error.code).toBe('unprocessable');
      expect(body.error.details).toContainEqual({ path, message: expect.stringMatching(message) });
    });
  }

  it('refuses the same problems on PATCH, and leaves the endpoint as it was', async () => {
    const ep = await endpoint(appId, { headers: { 'X-Tenant': 'acme-tenant' } });
    const path = `/v1/apps/${appId}/endpoints/${ep.id}`;
    const bad = await system.api.raw('PATCH', path, { signature: { scheme: 'sha1' } });
    expect(bad.status).toBe(422);
    expect((bad.body as ApiError).error.details?.[0]?.path).toBe('signature.scheme');
    // Auth added while a custom Authorization header is there: the clash is named.
    const route = '/v1/apps/{appId}/endpoints/{endpointId}';
    await system.api.hr.PATCH(route, { ...at(appId, ep.id), body: { headers: { Authorization: 'Token abcdef' } } });
    const clash = await system.api.hr.PATCH(route, {
      ...at(appId, ep.id),
      body: { auth: { type: 'bearer', token: 'tok-abcdef' } },
    });
    expect(clash.response.status).toBe(422);
    expect(clash.error?.error.details?.[0]?.path).toBe('headers.Authorization');
    const now = await system.api.hr.GET(route, at(appId, ep.id));
    expect(now.data).toMatchObject({ headerNames: ['Authorization'], signature: { scheme: 'standard-webhooks' } });
    expect(now.data?.auth).toBeUndefined();
  });

  it('still answers 400 for what is wrong outside the options', async () => {
    const r = await system.api.raw('POST', `/v1/apps/${appId}/endpoints`, { secret: 'short' });
    expect(r.status).toBe(400);
    expect((r.body as ApiError).error.details?.map((d) => d.path)).toEqual(expect.arrayContaining(['url', 'secret']));
  });
});

describe('what the API shows of the options', () => {
  it('shows the scheme, header names and auth, but never a secret: only that it is set', async () => {
    const appId = await system.api.createApp();
    const ep = await endpoint(appId, {
      signature: { scheme: 'hmac-sha256' },
      secret: 'a-secret-chosen-by-its-owner',
      headers: { 'X-Api-Key': 'header-value-that-is-secret' },
      auth: { type: 'basic', username: 'relay', password: 'basic-password-secret' },
    });
    const expected = {
      signature: { scheme: 'hmac-sha256', header: 'X-Hub-Signature-256', prefix: 'sha256=' },
      headerNames: ['X-Api-Key'],
      auth: { type: 'basic', username: 'relay', passwordSet: true },
    };
    expect(ep.view).toMatchObject(expected);
    const got = await system.api.hr.GET('/v1/apps/{appId}/endpoints/{endpointId}', at(appId, ep.id));
    const list = await system.api.hr.GET('/v1/apps/{appId}/endpoints', { params: { path: { appId } } });
    for (const body of [ep.view, got.data, list.data]) {
      const text = JSON.stringify(body);
      expect(text).not.toContain('header-value-that-is-secret');
      expect(text).not.toContain('basic-password-secret');
      expect(text).not.toContain('a-secret-chosen-by-its-owner');
    }
    expect(got.data).toMatchObject(expected);
    const oauth = await endpoint(appId, {
      auth: {
        type: 'oauth2-client-credentials',
        tokenUrl: 'https://auth.example.com/oauth/token',
        clientId: 'client-1',
        clientSecret: 'client-secret-value',
        audience: 'https://api.example.com',
      },
    });
    expect(oauth.view.auth).toEqual({
      type: 'oauth2-client-credentials',
      tokenUrl: 'https://auth.example.com/oauth/token',
      clientId: 'client-1',
      audience: 'https://api.example.com',
      clientSecretSet: true,
    });
    const bearer = await endpoint(appId, { auth: { type: 'bearer', token: 'bearer-token-value' } });
    expect(bearer.view.auth).toEqual({ type: 'bearer', tokenSet: true });
  });
});

describe('deliveries under each option', () => {
  it('sends custom headers, Basic and bearer Authorization, and keeps webhook-id and webhook-timestamp', async () => {
    const appId = await system.api.createApp();
    const basic = await endpoint(appId, {
      auth: { type: 'basic', username: 'relay', password: 'pa:ss word' },
      headers: { 'X-Tenant': 'acme', 'X-Api-Key': 'k-123456' },
    });
    const bearer = await endpoint(appId, { auth: { type: 'bearer', token: 'static-token.abc~123' } });
    const sent = await system.api.sendEvent(appId, { type: 'thing.happened', data: { n: 1 } });
    await system.api.waitForStatus(appId, sent.id, (s) => s.deliveries.every((d) => d.status === 'succeeded'));
    const b = system.receiver.on(basic.url)[0]!;
    expect(b.headers.authorization).toBe(`Basic ${Buffer.from('relay:pa:ss word').toString('base64')}`);
    expect(b.headers['x-tenant']).toBe('acme');
    expect(b.headers['x-api-key']).toBe('k-123456');
    const t = system.receiver.on(bearer.url)[0]!;
    expect(t.headers.authorization).toBe('Bearer static-token.abc~123');
    for (const r of [b, t]) {
      expect(r.headers['webhook-id']).toBe(sent.id);
      expect(r.headers['webhook-timestamp']).toMatch(/^\d{10}$/);
    }
  });

  it('signs standard-webhooks-v1a so that node:crypto verifies it with the public key the API hands out', async () => {
    const appId = await system.api.createApp();
    const ep = await endpoint(appId, { signature: { scheme: 'standard-webhooks-v1a' } });
    const publicKey = await keyOf(appId, ep.id);
    expect(publicKey).toMatch(/^whpk_/);
    expect(ep.view.signature).toEqual({ scheme: 'standard-webhooks-v1a', publicKey });
    const got = await deliverOne(appId, ep.url);
    const [version, sig] = got.headers['webhook-signature']!.split(',');
    expect(version).toBe('v1a');
    const spki = Buffer.concat([
      Buffer.from('302a300506032b6570032100', 'hex'),
      Buffer.from(publicKey.slice(5), 'base64'),
    ]);
    const signed = `${got.headers['webhook-id']}.${got.headers['webhook-timestamp']}.${got.body}`;
    const key = createPublicKey({ key: spki, format: 'der', type: 'spki' });
    expect(verify(null, Buffer.from(signed), key, Buffer.from(sig!, 'base64'))).toBe(true);

    // Rotation: a new key pair; the old one signs beside it for the overlap.
    const rotated = await system.api.hr.POST('/v1/apps/{appId}/endpoints/{endpointId}/secret/rotate', at(appId, ep.id));
    expect(rotated.data?.key).toMatch(/^whpk_/);
    expect(rotated.data?.key).not.toBe(publicKey);
    const next = await deliverOne(appId, ep.url);
    expect(next.headers['webhook-signature']!.split(' ').map((s) => s.split(',')[0])).toEqual(['v1a', 'v1a']);
  });

  it('switches from v1 to v1a without a gap: both sign during the overlap, each verifiable', async () => {
    const appId = await system.api.createApp();
    const ep = await endpoint(appId, {});
    const oldSecret = await keyOf(appId, ep.id);
    const patched = await system.api.hr.PATCH('/v1/apps/{appId}/endpoints/{endpointId}', {
      ...at(appId, ep.id),
      body: { signature: { scheme: 'standard-webhooks-v1a' } },
    });
    expect(patched.response.status).toBe(200);
    const publicKey = await keyOf(appId, ep.id);
    expect(patched.data?.signature).toEqual({ scheme: 'standard-webhooks-v1a', publicKey });
    const got = await deliverOne(appId, ep.url);
    const [v1, v1a] = got.headers['webhook-signature']!.split(' ');
    expect(v1).toMatch(/^v1,/);
    expect(v1a).toMatch(/^v1a,/);
    // A receiver still on the old secret keeps verifying; one on the public key verifies v1a.
    expect(() => new StandardWebhook(oldSecret).verify(got.body, got.headers)).not.toThrow();
    const spki = Buffer.concat([
      Buffer.from('302a300506032b6570032100', 'hex'),
      Buffer.from(publicKey.slice(5), 'base64'),
    ]);
    const signed = `${got.headers['webhook-id']}.${got.headers['webhook-timestamp']}.${got.body}`;
    const key = createPublicKey({ key: spki, format: 'der', type: 'spki' });
    expect(verify(null, Buffer.from(signed), key, Buffer.from(v1a!.slice(4), 'base64'))).toBe(true);
  });

  it('applies a PATCHed scheme, secret and auth from the next attempt', async () => {
    const appId = await system.api.createApp();
    const ep = await endpoint(appId, {});
    const firstSecret = await keyOf(appId, ep.id);
    const first = await deliverOne(appId, ep.url);
    expect(() => new StandardWebhook(firstSecret).verify(first.body, first.headers)).not.toThrow();
    expect(first.headers.authorization).toBeUndefined();

    const route = '/v1/apps/{appId}/endpoints/{endpointId}';
    const patched = await system.api.hr.PATCH(route, {
      ...at(appId, ep.id),
      body: {
        signature: { scheme: 'hmac-sha256', header: 'X-Signature', prefix: '' },
        secret: 'a-chosen-secret-for-hmac',
        auth: { type: 'bearer', token: 'bearer-after-patch' },
      },
    });
    expect(patched.response.status).toBe(200);
    const second = await deliverOne(appId, ep.url);
    expect(second.headers['webhook-signature']).toBeUndefined();
    expect(second.headers.authorization).toBe('Bearer bearer-after-patch');
    // The new secret and the old one (in its 24 h overlap), comma-separated: the scheme has no list form.
    const hex = (k: string) => createHmac('sha256', k).update(second.body).digest('hex');
    expect(second.headers['x-signature']).toBe(`${hex(firstSecret)},${hex('a-chosen-secret-for-hmac')}`);

    const removed = await system.api.hr.PATCH(route, { ...at(appId, ep.id), body: { auth: null } });
    expect(removed.response.status).toBe(200);
    expect(removed.data?.auth).toBeUndefined();
    const third = await deliverOne(appId, ep.url);
    expect(third.headers.authorization).toBeUndefined();
  });
});

describe('OAuth2 client credentials, from a real OAuth2 server', () => {
  let oauth: OAuth2Server;
  const issued: string[] = [];
  const tokenCalls: { authorization: string | undefined; body: Record<string, string> }[] = [];

  beforeAll(async () => {
    oauth = new OAuth2Server();
    await oauth.issuer.keys.generate('RS256');
    let serial = 0;
    oauth.service.on('beforeTokenSigning', (token: { payload: Record<string, unknown> }) => {
      token.payload.jti = `t${++serial}`;
    });
    oauth.service.on('beforeResponse', (response: { body: Record<string, unknown> }, req) => {
      const r = req as IncomingMessage & { body: Record<string, string> };
      tokenCalls.push({ authorization: r.headers.authorization, body: r.body });
      issued.push(String(response.body.access_token));
    });
    await oauth.start(0, '127.0.0.1');
  });

  afterAll(async () => {
    await oauth?.stop();
  });

  it('fetches a token, reuses it, and on a 401 fetches a new one and sends again within the attempt', async () => {
    const appId = await system.api.createApp();
    // The receiver refuses the second webhook's first try with 401 (a revoked token, say).
    const ep = await endpoint(
      appId,
      {
        auth: {
          type: 'oauth2-client-credentials',
          // As the target's functions reach this machine (127.0.0.1 for the embedded stack).
          tokenUrl: `http://${system.target.receiverHost}:${new URL(oauth.issuer.url!).port}/token`,
          clientId: 'relay-client',
          clientSecret: 'relay-client-secret',
          scope: 'hooks',
        },
      },
      [200, 401, 200],
    );
    const first = await deliverOne(appId, ep.url, { n: 1 });
    expect(tokenCalls).toHaveLength(1);
    expect(tokenCalls[0]!.body).toEqual({ grant_type: 'client_credentials', scope: 'hooks' });
    expect(tokenCalls[0]!.authorization).toBe(
      `Basic ${Buffer.from('relay-client:relay-client-secret').toString('base64')}`,
    );
    expect(first.headers.authorization).toBe(`Bearer ${issued[0]}`);

    const sent = await system.api.sendEvent(appId, { type: 'thing.happened', data: { n: 2 } });
    const status = await system.api.waitForStatus(appId, sent.id, (s) => s.deliveries[0]?.status === 'succeeded');
    // One attempt: refused with the cached token, then sent again with a new one.
    expect(status.deliveries[0]).toMatchObject({ attempts: 1, lastStatusCode: 200 });
    const got = system.receiver.on(ep.url);
    expect(got).toHaveLength(3);
    expect(got[1]!.headers.authorization).toBe(`Bearer ${issued[0]}`);
    expect(tokenCalls).toHaveLength(2);
    expect(got[2]!.headers.authorization).toBe(`Bearer ${issued[1]}`);
    expect(issued[1]).not.toBe(issued[0]);
    expect(got[2]!.headers['webhook-id']).toBe(sent.id);
  });
});
