import { createHash, timingSafeEqual } from 'node:crypto';
import { UnauthorizedError } from '../shared/errors';

/** Compares two secrets in constant time (over their digests, so lengths leak nothing either). */
export function secretsEqual(a: string, b: string): boolean {
  const da = createHash('sha256').update(a).digest();
  const db = createHash('sha256').update(b).digest();
  return timingSafeEqual(da, db);
}

/** The bearer token of an `Authorization` header, or a 401 naming what is wrong. */
export function bearerToken(header: string | undefined): string {
  if (!header) throw new UnauthorizedError('missing Authorization header (expected "Bearer <key>")');
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!match?.[1]) throw new UnauthorizedError('malformed Authorization header (expected "Bearer <key>")');
  return match[1];
}
