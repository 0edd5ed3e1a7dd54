/**
 * The signature schemes an endpoint can choose, each checked against an independent computation:
 * node:crypto's HMAC for hmac-sha256, node:crypto's ed25519 verifier for Standard Webhooks v1a,
 * and the standardwebhooks library for v1 with a chosen secret.
 */
import { createHmac, createPublicKey, generateKeyPairSync, verify } from 'node:crypto';
import { Webhook as StandardWebhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import type { EndpointSignature } from '../../functions/shared/model';
import {
  chosenSecretProblem,
  generateSecret,
  generateSigningKey,
  publicKeyOf,
  verificationKey,
} from '../../functions/webhook/signing';
import { buildWebhookRequest } from '../../functions/webhook/webhook';

const at = new Date();
const HUB = { scheme: 'hmac-sha256', header: 'X-Hub-Signature-256', prefix: 'sha256=' } as const;

function request(signature: EndpointSignature, secretKeys: string[]) {
  return buildWebhookRequest({
    url: 'https://example.com/hook',
    eventId: 'msg_1',
    type: 'invoice.paid',
    timestamp: '2026-11-22T10:00:00.000Z',
    dataJson: '{"amount":42}',
    secretKeys,
    at,
    userAgent: 'hookrelay/test',
    signature,
  });
}

/** An ed25519 verifier that shares nothing with the signer: the raw public key wrapped as SPKI DER. */
function verifiesV1a(publicKey: string, signed: string, signature: string): boolean {
  const raw = Buffer.from(publicKey.replace(/^whpk_/, ''), 'base64');
  expect(raw).toHaveLength(32);
  const spki = Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), raw]);
  const key = createPublicKey({ key: spki, format: 'der', type: 'spki' });
  return verify(null, Buffer.from(signed), key, Buffer.from(signature, 'base64'));
}

describe('the hmac-sha256 scheme', () => {
  it('sends prefix + hex HMAC-SHA256 of the raw body under the UTF-8 bytes of the secret as stored', () => {
    const secret = 'my-own-secret-for-the-hook!';
    const req = request(HUB, [secret]);
    const hex = createHmac('sha256', Buffer.from(secret, 'utf8')).update(req.body).digest('hex');
    expect(req.headers['x-hub-signature-256']).toBe(`sha256=${hex}`);
    // A generated secret is used as its text too, prefix and all.
    const generated = generateSecret();
    const other = request(HUB, [generated]);
    expect(other.headers['x-hub-signature-256']).toBe(
      `sha256=${createHmac('sha256', generated).update(other.body).digest('hex')}`,
    );
  });

  it('keeps webhook-id and webhook-timestamp, and sends no webhook-signature', () => {
    const req = request(HUB, ['my-own-secret-for-the-hook!']);
    expect(req.headers['webhook-id']).toBe('msg_1');
    expect(req.headers['webhook-timestamp']).toBe(String(Math.floor(at.getTime() / 1000)));
    expect(req.headers['webhook-signature']).toBeUndefined();
  });

  it('uses the header and prefix the endpoint chose, prefix possibly empty', () => {
    const req = request({ scheme: 'hmac-sha256', header: 'X-Signature', prefix: '' }, ['0123456789abcdef']);
    expect(req.headers['x-signature']).toMatch(/^[0-9a-f]{64}$/);
  });

  it('sends one comma-separated value per active secret during a rotation', () => {
    const [oldKey, newKey] = ['old-secret-0123456789', 'new-secret-0123456789'];
    const req = request(HUB, [oldKey, newKey]);
    const hex = (k: string) => createHmac('sha256', k).update(req.body).digest('hex');
    expect(req.headers['x-hub-signature-256']).toBe(`sha256=${hex(oldKey)},sha256=${hex(newKey)}`);
  });

  it('leaves ed25519 keys out (after a switch from v1a), and refuses to sign with none', () => {
    const req = request(HUB, [generateSigningKey(), 'new-secret-0123456789']);
    expect(req.headers['x-hub-signature-256']?.split(',')).toHaveLength(1);
    expect(() => request(HUB, [generateSigningKey()])).toThrow(/symmetric/);
  });
});

describe('the standard-webhooks-v1a scheme (ed25519)', () => {
  it('signs "id.timestamp.body"; node:crypto verifies it with the whpk_ public key', () => {
    const key = generateSigningKey();
    expect(key).toMatch(/^whsk_[A-Za-z0-9+/]{43}=$/);
    const publicKey = publicKeyOf(key);
    expect(publicKey).toMatch(/^whpk_[A-Za-z0-9+/]{43}=$/);
    expect(verificationKey(key)).toBe(publicKey);

    const req = request({ scheme: 'standard-webhooks-v1a' }, [key]);
    const [version, signature] = req.headers['webhook-signature']!.split(',');
    expect(version).toBe('v1a');
    const signed = `msg_1.${req.headers['webhook-timestamp']}.${req.body}`;
    expect(verifiesV1a(publicKey, signed, signature!)).toBe(true);
    expect(verifiesV1a(publicKey, `${signed} `, signature!)).toBe(false);
    expect(verifiesV1a(publicKeyOf(generateSigningKey()), signed, signature!)).toBe(false);
  });

  it('signs with every active key, space-separated, v1 and v1a side by side during a switch', () => {
    const [symmetric, oldPair, newPair] = [generateSecret(), generateSigningKey(), generateSigningKey()];
    const req = request({ scheme: 'standard-webhooks-v1a' }, [symmetric, oldPair, newPair]);
    const parts = req.headers['webhook-signature']!.split(' ');
    expect(parts.map((p) => p.split(',')[0])).toEqual(['v1', 'v1a', 'v1a']);
    const signed = `msg_1.${req.headers['webhook-timestamp']}.${req.body}`;
    expect(verifiesV1a(publicKeyOf(oldPair), signed, parts[1]!.slice(4))).toBe(true);
    expect(verifiesV1a(publicKeyOf(newPair), signed, parts[2]!.slice(4))).toBe(true);
    expect(new StandardWebhook(symmetric).verify(req.body, req.headers)).toMatchObject({ type: 'invoice.paid' });
  });

  it('accepts a chosen whsk_ key of 32 bytes, or 64 (seed and public key) when its halves agree', () => {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const seed = privateKey.export({ format: 'der', type: 'pkcs8' }).subarray(16);
    const pub = publicKey.export({ format: 'der', type: 'spki' }).subarray(12);
    const scheme = 'standard-webhooks-v1a';
    expect(chosenSecretProblem(`whsk_${seed.toString('base64')}`, scheme)).toBeUndefined();
    expect(chosenSecretProblem(`whsk_${Buffer.concat([seed, pub]).toString('base64')}`, scheme)).toBeUndefined();
    expect(publicKeyOf(`whsk_${seed.toString('base64')}`)).toBe(`whpk_${pub.toString('base64')}`);
    const wrongHalf = Buffer.concat([seed, Buffer.alloc(32)]).toString('base64');
    expect(chosenSecretProblem(`whsk_${wrongHalf}`, scheme)).toMatch(/32-byte/);
    expect(chosenSecretProblem('a-secret-of-my-own-choice', scheme)).toMatch(/whsk_/);
  });
});

describe('chosen secrets under the HMAC schemes', () => {
  it('signs Standard Webhooks v1 with a chosen string as its raw bytes', () => {
    const secret = 'a chosen secret, 16+ chars';
    const req = request({ scheme: 'standard-webhooks' }, [secret]);
    expect(new StandardWebhook(secret, { format: 'raw' }).verify(req.body, req.headers)).toMatchObject({
      data: { amount: 42 },
    });
  });

  it('refuses a whsec_ secret that is not base64 of 24-64 bytes, and a whsk_ key outside v1a', () => {
    expect(chosenSecretProblem(`whsec_${Buffer.alloc(8).toString('base64')}`, 'standard-webhooks')).toMatch(/24 to 64/);
    expect(chosenSecretProblem(generateSecret(), 'standard-webhooks')).toBeUndefined();
    expect(chosenSecretProblem(generateSigningKey(), 'hmac-sha256')).toMatch(/v1a/);
    // Under hmac-sha256 a whsec_ string is just text: any form is fine.
    expect(chosenSecretProblem('whsec_not-base64-at-all!', 'hmac-sha256')).toBeUndefined();
  });
});
