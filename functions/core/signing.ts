import { randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import type { EndpointSecret } from './model';

const SECRET_PREFIX = 'whsec_';
/** Bytes of key material in a new secret (the contract allows 24 to 64). */
const SECRET_BYTES = 32;

/** A new Standard Webhooks signing secret: `whsec_` + base64 of 32 random bytes. */
export function generateSecret(): string {
  return SECRET_PREFIX + randomBytes(SECRET_BYTES).toString('base64');
}

/** The secrets that sign at `now`: the current one and any rotated-out one still in its overlap. */
export function activeSecrets(secrets: readonly EndpointSecret[], now: Date): EndpointSecret[] {
  return secrets.filter((s) => s.expiresAt === undefined || Date.parse(s.expiresAt) > now.getTime());
}

/**
 * The `webhook-signature` header value: `v1,<base64 HMAC-SHA256 of "id.timestamp.body">` for each
 * active secret, space-separated. Signing is delegated to the Standard Webhooks reference library.
 *
 * @example signatureHeader(['whsec_...'], 'msg_1', new Date(), '{"type":"a"}') // "v1,K5o..."
 */
export function signatureHeader(secretKeys: readonly string[], msgId: string, at: Date, body: string): string {
  if (secretKeys.length === 0) throw new Error('an endpoint must have at least one active secret');
  return secretKeys.map((key) => new Webhook(key).sign(msgId, at, body)).join(' ');
}
