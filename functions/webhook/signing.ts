/**
 * Webhook signatures, one scheme per endpoint:
 *
 * - `standard-webhooks`: `webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">`;
 * - `standard-webhooks-v1a`: the same header with `v1a,<base64 ed25519 signature>`, verified with
 *   the endpoint's public key (`whpk_`), so a receiver holds nothing that can sign;
 * - `hmac-sha256`: `<header>: <prefix><hex HMAC-SHA256 of the raw body>` (GitHub's
 *   `X-Hub-Signature-256: sha256=...`, which adnanh/webhook's `payload-hmac-sha256` rule checks).
 *
 * During a rotation every active secret signs: space-separated in `webhook-signature` (the
 * Standard Webhooks list form), comma-separated in an `hmac-sha256` header, which has no list form
 * of its own (adnanh/webhook accepts any one of comma-separated signatures).
 */
import { createHmac, createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import type { EndpointSecret, EndpointSignature, SignatureScheme } from '../shared/model';

const SECRET_PREFIX = 'whsec_';
const SIGNING_KEY_PREFIX = 'whsk_';
const PUBLIC_KEY_PREFIX = 'whpk_';
/** Bytes of key material in a new secret (the contract allows 24 to 64). */
const SECRET_BYTES = 32;
/** DER prefixes that wrap a raw 32-byte ed25519 key as PKCS#8 (private) and SPKI (public). */
const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

export const DEFAULT_SIGNATURE: EndpointSignature = { scheme: 'standard-webhooks' };
export const HMAC_DEFAULTS = { header: 'X-Hub-Signature-256', prefix: 'sha256=' } as const;

/** A new Standard Webhooks signing secret: `whsec_` + base64 of 32 random bytes. */
export function generateSecret(): string {
  return SECRET_PREFIX + randomBytes(SECRET_BYTES).toString('base64');
}

/** A new ed25519 signing key: `whsk_` + base64 of its 32-byte seed. */
export function generateSigningKey(): string {
  const { privateKey } = generateKeyPairSync('ed25519');
  const seed = privateKey.export({ format: 'der', type: 'pkcs8' }).subarray(ED25519_PKCS8_PREFIX.length);
  return SIGNING_KEY_PREFIX + seed.toString('base64');
}

/** Which kind of key a stored secret is: an ed25519 signing key, or a symmetric secret. */
export const keyKind = (key: string): 'ed25519' | 'symmetric' =>
  key.startsWith(SIGNING_KEY_PREFIX) ? 'ed25519' : 'symmetric';

/** The kind of key a scheme signs with. */
export const schemeKeyKind = (scheme: SignatureScheme): 'ed25519' | 'symmetric' =>
  scheme === 'standard-webhooks-v1a' ? 'ed25519' : 'symmetric';

/** A new key for a scheme. */
export const newKeyFor = (scheme: SignatureScheme): string =>
  schemeKeyKind(scheme) === 'ed25519' ? generateSigningKey() : generateSecret();

function decodeBase64(text: string): Buffer | undefined {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(text) || text.length % 4 !== 0) return undefined;
  return Buffer.from(text, 'base64');
}

/** The 32-byte seed inside a `whsk_` key (32 bytes, or 64 = seed and public key as libsodium keeps them). */
function seedOf(key: string): Buffer | undefined {
  const raw = decodeBase64(key.slice(SIGNING_KEY_PREFIX.length));
  if (raw === undefined || (raw.length !== 32 && raw.length !== 64)) return undefined;
  const seed = raw.subarray(0, 32);
  if (raw.length === 64 && !rawPublicKey(seed).equals(raw.subarray(32))) return undefined;
  return seed;
}

const privateKeyOf = (seed: Buffer) =>
  createPrivateKey({ key: Buffer.concat([ED25519_PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' });

function rawPublicKey(seed: Buffer): Buffer {
  return createPublicKey(privateKeyOf(seed))
    .export({ format: 'der', type: 'spki' })
    .subarray(ED25519_SPKI_PREFIX.length);
}

/**
 * Why a secret the endpoint's owner chose cannot sign under `scheme`, or undefined when it can.
 * (Its length and characters are checked by the request schema.)
 */
export function chosenSecretProblem(secret: string, scheme: SignatureScheme): string | undefined {
  if (schemeKeyKind(scheme) === 'ed25519') {
    if (!secret.startsWith(SIGNING_KEY_PREFIX))
      return 'the standard-webhooks-v1a scheme signs with an ed25519 key: give a whsk_ key (base64 of its 32-byte seed) or let hookrelay generate one';
    return seedOf(secret) ? undefined : 'a whsk_ key must be base64 of a 32-byte ed25519 seed';
  }
  if (secret.startsWith(SIGNING_KEY_PREFIX)) return 'a whsk_ key signs only under the standard-webhooks-v1a scheme';
  if (scheme === 'standard-webhooks' && secret.startsWith(SECRET_PREFIX) && !whsecBytes(secret))
    return 'a whsec_ secret must be base64 of 24 to 64 bytes (any other string is used as its UTF-8 bytes)';
  return undefined;
}

/** The key bytes of a well-formed `whsec_` secret (base64 of 24 to 64 bytes), else undefined. */
function whsecBytes(secret: string): Buffer | undefined {
  if (!secret.startsWith(SECRET_PREFIX)) return undefined;
  const bytes = decodeBase64(secret.slice(SECRET_PREFIX.length));
  return bytes && bytes.length >= 24 && bytes.length <= 64 ? bytes : undefined;
}

/** The `whpk_` public key that verifies a `whsk_` key's signatures. */
export function publicKeyOf(signingKey: string): string {
  const seed = seedOf(signingKey);
  if (!seed) throw new Error('not a valid whsk_ signing key');
  return PUBLIC_KEY_PREFIX + rawPublicKey(seed).toString('base64');
}

/** What a receiver verifies with: the secret itself, or the public key of a signing key. */
export const verificationKey = (key: string): string => (keyKind(key) === 'ed25519' ? publicKeyOf(key) : key);

/** The secrets that sign at `now`: the current one and any rotated-out one still in its overlap. */
export function activeSecrets(secrets: readonly EndpointSecret[], now: Date): EndpointSecret[] {
  return secrets.filter((s) => s.expiresAt === undefined || Date.parse(s.expiresAt) > now.getTime());
}

/** One Standard Webhooks signature (`v1,...` or `v1a,...`) of "id.timestamp.body" under `key`. */
function standardSignature(key: string, msgId: string, at: Date, body: string): string {
  if (keyKind(key) === 'ed25519') {
    const signed = Buffer.from(`${msgId}.${Math.floor(at.getTime() / 1000)}.${body}`);
    return `v1a,${sign(null, signed, privateKeyOf(seedOf(key)!)).toString('base64')}`;
  }
  // A whsec_ secret is base64 key bytes (Standard Webhooks); any other string (one chosen under
  // hmac-sha256, say) is its own bytes, as `new Webhook(secret, { format: 'raw' })` verifies it.
  const bytes = whsecBytes(key);
  const webhook = bytes ? new Webhook(bytes, { format: 'raw' }) : new Webhook(key, { format: 'raw' });
  return webhook.sign(msgId, at, body);
}

/**
 * The signature header(s) of one attempt under the endpoint's scheme, one value per active key.
 *
 * @example signatureHeaders({ scheme: 'standard-webhooks' }, ['whsec_...'], 'msg_1', new Date(), '{}')
 * // { 'webhook-signature': 'v1,K5o...' }
 */
export function signatureHeaders(
  signature: EndpointSignature,
  keys: readonly string[],
  msgId: string,
  at: Date,
  body: string,
): Record<string, string> {
  if (signature.scheme === 'hmac-sha256') {
    // Body-only HMAC has no id or timestamp inside: keys of the other kind cannot take part.
    const values = keys
      .filter((k) => keyKind(k) === 'symmetric')
      .map((k) => signature.prefix + createHmac('sha256', Buffer.from(k, 'utf8')).update(body).digest('hex'));
    if (values.length === 0) throw new Error('an hmac-sha256 endpoint must have an active symmetric secret');
    return { [signature.header.toLowerCase()]: values.join(',') };
  }
  // Both Standard Webhooks schemes: a key of either kind signs during a switch between them.
  if (keys.length === 0) throw new Error('an endpoint must have at least one active secret');
  return { 'webhook-signature': keys.map((k) => standardSignature(k, msgId, at, body)).join(' ') };
}
