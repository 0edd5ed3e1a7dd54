/** One attempt's request and send (webhook/webhook.ts) against a scripted sender and token source. */
import { describe, expect, it } from 'vitest';
import type { Endpoint } from '../../functions/shared/model';
import type { SendResult } from '../../functions/webhook/outcome';
import { generateSecret } from '../../functions/webhook/signing';
import { sendWebhook, type AccessTokens, type OAuth2Auth, type WebhookRequest } from '../../functions/webhook/webhook';
import { anEndpoint } from '../helpers/fixtures';

const event = { id: 'msg_1', type: 'a.b', timestamp: '2026-12-01T00:00:00.000Z', dataJson: '{}' };
const ok = (statusCode = 200, bodyExcerpt = ''): SendResult => ({
  kind: 'response',
  statusCode,
  headers: {},
  bodyExcerpt,
  durationMs: 5,
});

const endpoint = (extra: Partial<Endpoint> = {}): Endpoint =>
  anEndpoint({ url: 'https://example.com/hook', secrets: [{ key: generateSecret(), createdAt: '' }], ...extra });

function scripted(results: SendResult[]) {
  const sent: WebhookRequest[] = [];
  return {
    sent,
    send: async (req: WebhookRequest) => {
      sent.push(req);
      return results[Math.min(sent.length - 1, results.length - 1)]!;
    },
  };
}

class Tokens implements AccessTokens {
  issued = 0;
  invalidated: string[] = [];
  failWith: SendResult | undefined;
  async token() {
    if (this.failWith) return { ok: false as const, result: this.failWith };
    return { ok: true as const, token: `tok-${++this.issued}` };
  }
  invalidate(_auth: OAuth2Auth, token: string) {
    this.invalidated.push(token);
  }
}

const oauth: OAuth2Auth = {
  type: 'oauth2-client-credentials',
  tokenUrl: 'https://auth.example.com/token',
  clientId: 'c',
  clientSecret: 's3cret-value',
};

describe('sendWebhook', () => {
  it('puts custom headers under hookrelay’s own, with names lower-cased', async () => {
    const sender = scripted([ok()]);
    await sendWebhook(
      { sender, userAgent: 'hookrelay/t', timeoutMs: 1000 },
      endpoint({ headers: { 'X-Tenant': 'acme' } }),
      event,
      new Date(),
    );
    expect(sender.sent[0]!.headers).toMatchObject({ 'x-tenant': 'acme', 'webhook-id': 'msg_1' });
  });

  it('retries once with a fresh token after a 401, then records what the second try got', async () => {
    const tokens = new Tokens();
    const sender = scripted([ok(401), ok(401)]);
    const result = await sendWebhook(
      { sender, tokens, userAgent: 'hookrelay/t', timeoutMs: 1000 },
      endpoint({ auth: oauth }),
      event,
      new Date(),
    );
    expect(sender.sent.map((r) => r.headers.authorization)).toEqual(['Bearer tok-1', 'Bearer tok-2']);
    expect(tokens.invalidated).toEqual(['tok-1']);
    expect(result).toMatchObject({ kind: 'response', statusCode: 401, durationMs: 10 });
  });

  it('does not retry a 401 to an endpoint with static auth', async () => {
    const sender = scripted([ok(401)]);
    await sendWebhook(
      { sender, userAgent: 'hookrelay/t', timeoutMs: 1000 },
      endpoint({ auth: { type: 'bearer', token: 'static-token' } }),
      event,
      new Date(),
    );
    expect(sender.sent).toHaveLength(1);
  });

  it('records a failed token request as the attempt, sending no webhook', async () => {
    const tokens = new Tokens();
    tokens.failWith = { kind: 'network', durationMs: 3, message: 'OAuth2 token request: HTTP 401 (invalid_client)' };
    const sender = scripted([ok()]);
    const result = await sendWebhook(
      { sender, tokens, userAgent: 'hookrelay/t', timeoutMs: 1000 },
      endpoint({ auth: oauth }),
      event,
      new Date(),
    );
    expect(result).toEqual(tokens.failWith);
    expect(sender.sent).toHaveLength(0);
  });

  it('blanks out credentials a receiver echoes in its answer', async () => {
    const sender = scripted([ok(500, 'got Bearer tok-1 and header-secret-1 and s3cret-value')]);
    const result = await sendWebhook(
      { sender, tokens: new Tokens(), userAgent: 'hookrelay/t', timeoutMs: 1000 },
      endpoint({ auth: oauth, headers: { 'X-Key': 'header-secret-1' } }),
      event,
      new Date(),
    );
    expect(result).toMatchObject({ bodyExcerpt: 'got [redacted] and [redacted] and [redacted]' });
  });
});
