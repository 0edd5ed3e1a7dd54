/**
 * The admin key: given directly (HOOKRELAY_API_KEY, the local stack) or read from Secrets Manager
 * (HOOKRELAY_API_KEY_SECRET_ARN, on AWS), cached for a few minutes so that a rotation of the
 * secret takes effect without a deploy.
 */
import { GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import type { Config } from '../config';
import { secretsClient } from './aws-clients';

const CACHE_MS = 5 * 60 * 1000;
let cached: { value: string; at: number } | undefined;

export async function adminKey(cfg: Config): Promise<string | undefined> {
  if (cfg.apiKey) return cfg.apiKey;
  if (!cfg.apiKeySecretArn) return undefined;
  if (cached && Date.now() - cached.at < CACHE_MS) return cached.value;
  const out = await secretsClient().send(new GetSecretValueCommand({ SecretId: cfg.apiKeySecretArn }));
  const raw = out.SecretString ?? '';
  // A generated CDK secret may be JSON ({"key": "..."}) or the bare string.
  let value = raw;
  try {
    const parsed = JSON.parse(raw) as { key?: unknown };
    if (typeof parsed.key === 'string') value = parsed.key;
  } catch {
    // bare string
  }
  cached = { value, at: Date.now() };
  return value;
}
