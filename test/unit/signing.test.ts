import { createHmac } from 'node:crypto';
import { Webhook as StandardWebhook } from 'standardwebhooks';
import { Webhook as SvixWebhook } from 'svix';
import { describe, expect, it } from 'vitest';
import { activeSecrets, generateSecret } from '../../functions/webhook/signing';
import { buildWebhookRequest } from '../../functions/webhook/webhook';

const at = new Date();

function request(secretKeys: string[], dataJson = '{"amount":42,"currency":"EUR"}') {
  return buildWebhookRequest({
    url: 'https://example.com/hook',
    eventId: 'msg_1',
    type: 'invoice.paid',
    timestamp: '2026-11-22T10:00:00.000Z',
    dataJson,
    secretKeys,
    at,
    userAgent: 'hookrelay/test',
  });
}

describe('webhook signing', () => {
  it('generates whsec_ secrets of 32 random bytes', () => {
    const key = generateSecret();
    expect(key).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/);
    expect(Buffer.from(key.slice(6), 'base64')).toHaveLength(32);
    expect(generateSecret()).not.toBe(key);
  });

  it('produces a request both the standardwebhooks and svix verifiers accept', () => {
    const secret = generateSecret();
    const req = request([secret]);
    const expected = {
      type: 'invoice.paid',
      timestamp: '2026-11-22T10:00:00.000Z',
      data: { amount: 42, currency: 'EUR' },
    };
    expect(new StandardWebhook(secret).verify(req.body, req.headers)).toEqual(expected);
    expect(new SvixWebhook(secret).verify(req.body, req.headers)).toEqual(expected);
  });

  it('signs "id.timestamp.body" with HMAC-SHA256 exactly as the spec says', () => {
    const secret = generateSecret();
    const req = request([secret]);
    const mac = createHmac('sha256', Buffer.from(secret.slice(6), 'base64'))
      .update(`msg_1.${req.headers['webhook-timestamp']}.${req.body}`)
      .digest('base64');
    expect(req.headers['webhook-signature']).toBe(`v1,${mac}`);
    expect(req.headers['webhook-id']).toBe('msg_1');
    expect(req.headers['webhook-timestamp']).toBe(String(Math.floor(at.getTime() / 1000)));
    expect(req.headers['content-type']).toBe('application/json');
    expect(req.headers['user-agent']).toBe('hookrelay/test');
  });

  it('carries one signature per active secret, each verifying under its own secret', () => {
    const oldKey = generateSecret();
    const newKey = generateSecret();
    const req = request([newKey, oldKey]);
    expect(req.headers['webhook-signature']?.split(' ')).toHaveLength(2);
    expect(() => new StandardWebhook(oldKey).verify(req.body, req.headers)).not.toThrow();
    expect(() => new StandardWebhook(newKey).verify(req.body, req.headers)).not.toThrow();
    expect(() => new StandardWebhook(generateSecret()).verify(req.body, req.headers)).toThrow();
  });

  it('keeps the data exactly as the producer sent it', () => {
    const req = request([generateSecret()], '{"b":1,"a":[true,null,"é"]}');
    expect(req.body).toBe(
      '{"type":"invoice.paid","timestamp":"2026-11-22T10:00:00.000Z","data":{"b":1,"a":[true,null,"é"]}}',
    );
  });

  it('treats a rotated-out secret as active only until it expires', () => {
    const now = new Date('2026-11-22T12:00:00Z');
    const secrets = [
      { key: 'whsec_old', createdAt: '2026-11-01T00:00:00Z', expiresAt: '2026-11-22T13:00:00Z' },
      { key: 'whsec_older', createdAt: '2026-10-01T00:00:00Z', expiresAt: '2026-11-22T11:00:00Z' },
      { key: 'whsec_new', createdAt: '2026-11-22T11:59:00Z' },
    ];
    expect(activeSecrets(secrets, now).map((s) => s.key)).toEqual(['whsec_old', 'whsec_new']);
  });
});
