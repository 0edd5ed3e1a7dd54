/**
 * The admin key: given directly (HOOKRELAY_API_KEY, the local stack) or read from Secrets Manager
 * (HOOKRELAY_API_KEY_SECRET_ARN, on AWS), cached for a few minutes so that a rotation of the
 * secret takes effect without a deploy.
 */
import { GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import type { Config } from '../config';
import { secretsClient } from '../shared/aws-clients';

const CACHE_MS = 5 * 60 * 1000;
let cached: { value: string; at: number } | undefined;

/** `now` is the clock the cache is judged by (tests move it past the 5 minutes). */
export async function adminKey(cfg: Config, now: () => number = Date.now): Promise<string | undefined> {
  if (cfg.apiKey) return cfg.apiKey;
  if (!cfg.apiKeySecretArn) return undefined;
  if (cached && now() - cached.at < CACHE_MS) return cached.value;
  const out = await secretsClient().send(new GetSecretValueCommand({ SecretId: cfg.apiKeySecretArn }));
  const value = keyFromSecretString(out.SecretString ?? '');
  cached = { value, at: now() };
  return value;
}

/** Forgets the cached key (the local runtime starts stacks with other keys in one process). */
export function resetAdminKeyForTests(): void {
  cached = undefined;
}

/** The key in a secret's value: the bare string (the stack generates one), or `{"key": "..."}`. */
export function keyFromSecretString(raw: string): string {
  try {
    const parsed = JSON.parse(raw) as { key?: unknown };
    if (typeof parsed.key === 'string') return parsed.key;
  } catch {
    // a bare string
  }
  return raw;
}
