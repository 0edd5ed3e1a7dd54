/**
 * The OAuth2 client-credentials adapter against a real OAuth2 server (npm `oauth2-mock-server`,
 * which issues signed JWTs from its token endpoint): the token request it makes, caching until
 * shortly before expiry, a new token after one is refused, failures that name no secret, and the
 * destination guard on the token URL.
 */
import type { IncomingMessage } from 'node:http';
import { OAuth2Server } from 'oauth2-mock-server';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { GuardedAgent } from '../../functions/webhook/guarded-lookup';
import { HttpSender } from '../../functions/webhook/http-sender';
import { OAuth2Tokens } from '../../functions/webhook/oauth2-tokens';
import type { OAuth2Auth } from '../../functions/webhook/webhook';

interface TokenCall {
  authorization: string | undefined;
  body: Record<string, string>;
  token: string;
}

let server: OAuth2Server;
let calls: TokenCall[] = [];
/** What the next token answers should say (a test sets it; reset before each). */
let answer: { expiresIn?: number; status?: number; body?: Record<string, unknown> } = {};
const sender = new HttpSender({ excerptBytes: 16 * 1024, bodyGraceMs: 5_000 });

beforeAll(async () => {
  server = new OAuth2Server();
  await server.issuer.keys.generate('RS256');
  await server.start(0, '127.0.0.1');
  // Each token unique (the server's tokens are otherwise equal within one second).
  let serial = 0;
  server.service.on('beforeTokenSigning', (token: { payload: Record<string, unknown> }) => {
    token.payload.jti = `t${++serial}`;
  });
  server.service.on('beforeResponse', (response: { body: Record<string, unknown>; statusCode: number }, req) => {
    const r = req as IncomingMessage & { body: Record<string, string> };
    calls.push({ authorization: r.headers.authorization, body: r.body, token: String(response.body.access_token) });
    if (answer.expiresIn !== undefined) response.body.expires_in = answer.expiresIn;
    if (answer.status !== undefined) response.statusCode = answer.status;
    if (answer.body !== undefined) response.body = answer.body;
  });
});

afterAll(async () => {
  await server?.stop();
  await sender.close();
});

beforeEach(() => {
  calls = [];
  answer = {};
});

const auth = (extra: Partial<OAuth2Auth> = {}): OAuth2Auth => ({
  type: 'oauth2-client-credentials',
  tokenUrl: `${server.issuer.url}/token`,
  clientId: 'hookrelay-client',
  clientSecret: 'cl13nt-s3cr3t:with/odd&chars',
  scope: 'webhooks.write',
  audience: 'https://api.example.com',
  ...extra,
});

function clock(start = Date.now()) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

describe('OAuth2 client-credentials tokens', () => {
  it('fetches a token with client_secret_basic, the scope and the audience', async () => {
    const tokens = new OAuth2Tokens({ sender, userAgent: 'hookrelay/test' });
    const got = await tokens.token(auth(), 5_000);
    expect(got.ok).toBe(true);
    expect(calls).toHaveLength(1);
    const call = calls[0]!;
    expect(got).toEqual({ ok: true, token: call.token });
    // A real JWT from the server, scoped as asked.
    const payload = JSON.parse(Buffer.from(call.token.split('.')[1]!, 'base64url').toString()) as { scope: string };
    expect(payload.scope).toBe('webhooks.write');
    expect(call.body).toEqual({
      grant_type: 'client_credentials',
      scope: 'webhooks.write',
      audience: 'https://api.example.com',
    });
    const [id, secret] = Buffer.from(call.authorization!.replace(/^Basic /, ''), 'base64')
      .toString()
      .split(':')
      .map(decodeURIComponent);
    expect([id, secret]).toEqual(['hookrelay-client', 'cl13nt-s3cr3t:with/odd&chars']);
  });

  it('reuses the token until shortly before it expires, then fetches a new one', async () => {
    const c = clock();
    const tokens = new OAuth2Tokens({ sender, userAgent: 'hookrelay/test', now: c.now });
    answer.expiresIn = 600; // refreshed a minute early: after 540 s
    const first = await tokens.token(auth(), 5_000);
    c.advance(539_000);
    expect(await tokens.token(auth(), 5_000)).toEqual(first);
    expect(calls).toHaveLength(1);
    c.advance(2_000);
    const second = await tokens.token(auth(), 5_000);
    expect(calls).toHaveLength(2);
    expect(second).toEqual({ ok: true, token: calls[1]!.token });
    expect(second).not.toEqual(first);
  });

  it('refreshes a short-lived token a tenth of its lifetime early', async () => {
    const c = clock();
    const tokens = new OAuth2Tokens({ sender, userAgent: 'hookrelay/test', now: c.now });
    answer.expiresIn = 10;
    await tokens.token(auth(), 5_000);
    c.advance(8_900);
    await tokens.token(auth(), 5_000);
    expect(calls).toHaveLength(1);
    c.advance(200);
    await tokens.token(auth(), 5_000);
    expect(calls).toHaveLength(2);
  });

  it('shares one token request among concurrent attempts, and keeps one token per set of credentials', async () => {
    const tokens = new OAuth2Tokens({ sender, userAgent: 'hookrelay/test' });
    const got = await Promise.all([1, 2, 3, 4].map(() => tokens.token(auth(), 5_000)));
    expect(calls).toHaveLength(1);
    expect(new Set(got.map((g) => (g.ok ? g.token : '')))).toEqual(new Set([calls[0]!.token]));
    await tokens.token(auth({ clientSecret: 'a-rotated-client-secret' }), 5_000);
    await tokens.token(auth({ scope: 'other' }), 5_000);
    expect(calls).toHaveLength(3);
  });

  it('fetches a new token after the refused one is invalidated (the 401 path), not before', async () => {
    const tokens = new OAuth2Tokens({ sender, userAgent: 'hookrelay/test' });
    const first = await tokens.token(auth(), 5_000);
    if (!first.ok) throw new Error('no token');
    tokens.invalidate(auth(), 'some-other-token');
    expect(await tokens.token(auth(), 5_000)).toEqual(first);
    tokens.invalidate(auth(), first.token);
    const second = await tokens.token(auth(), 5_000);
    expect(calls).toHaveLength(2);
    expect(second).not.toEqual(first);
  });

  it('reports a refused token request with the status and OAuth error code, never a secret or the body', async () => {
    const tokens = new OAuth2Tokens({ sender, userAgent: 'hookrelay/test' });
    answer.status = 401;
    answer.body = { error: 'invalid_client', error_description: 'bad secret cl13nt-s3cr3t:with/odd&chars' };
    const got = await tokens.token(auth(), 5_000);
    expect(got).toEqual({
      ok: false,
      result: expect.objectContaining({
        kind: 'network',
        message: 'OAuth2 token request: HTTP 401 (invalid_client) from the token endpoint',
      }),
    });
    answer = { body: { token_type: 'Bearer', expires_in: 60 } };
    expect(await tokens.token(auth(), 5_000)).toEqual({
      ok: false,
      result: expect.objectContaining({ message: expect.stringContaining('without a usable access_token') }),
    });
    // Failures are not cached: the next attempt asks again.
    answer = {};
    expect((await tokens.token(auth(), 5_000)).ok).toBe(true);
  });

  it('sends the token request through the destination guard', async () => {
    const guarded = new HttpSender({
      excerptBytes: 16 * 1024,
      agent: new GuardedAgent({ allowPrivate: false }),
    });
    const tokens = new OAuth2Tokens({ sender: guarded, userAgent: 'hookrelay/test' });
    const got = await tokens.token(auth(), 5_000);
    await guarded.close();
    expect(got).toEqual({ ok: false, result: expect.objectContaining({ kind: 'forbidden_destination' }) });
    expect(calls).toHaveLength(0);
  });
});
