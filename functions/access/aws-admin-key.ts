/**
 * The admin key: given directly (HOOKRELAY_API_KEY, the local stack) or read from Secrets Manager
 * (HOOKRELAY_API_KEY_SECRET_ARN, on AWS), cached for a few minutes so that a rotation of the
 * secret takes effect without a deploy. One reader per container, holding its own cache; only the
 * api function reads the key, so only it loads the Secrets Manager client, on the first read that
 * needs it (imported then: a static import would load it in every function whose bundle holds
 * this module, as esbuild keeps an external import wherever its module is bundled).
 */
import type { GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import type { Config } from '../config';

const CACHE_MS = 5 * 60 * 1000;

/** What the reader asks Secrets Manager (a SecretsManagerClient; tests pass a fake). */
export interface SecretsClient {
  send(command: GetSecretValueCommand): Promise<{ SecretString?: string }>;
  destroy?(): void;
}

export interface AdminKeyReader {
  /** The admin key now, or undefined when none is configured. */
  read(): Promise<string | undefined>;
  /** Closes the Secrets Manager client, if one was built. */
  destroy(): void;
}

/**
 * A container's admin key reader. `client` defaults to a Secrets Manager client built on the
 * first read that needs one; `now` is the clock the cache is judged by (tests move it on).
 *
 * @example
 * const adminKey = adminKeyReader(cfg);
 * const isAdmin = presented === (await adminKey.read());
 */
export function adminKeyReader(
  cfg: Pick<Config, 'apiKey' | 'apiKeySecretArn' | 'region'>,
  opts: { client?: SecretsClient; now?: () => number } = {},
): AdminKeyReader {
  const now = opts.now ?? Date.now;
  let client = opts.client;
  let cached: { value: string; at: number } | undefined;
  return {
    async read() {
      if (cfg.apiKey) return cfg.apiKey;
      if (!cfg.apiKeySecretArn) return undefined;
      if (cached && now() - cached.at < CACHE_MS) return cached.value;
      const sdk = await import('@aws-sdk/client-secrets-manager');
      client ??= new sdk.SecretsManagerClient({ region: cfg.region });
      const out = await client.send(new sdk.GetSecretValueCommand({ SecretId: cfg.apiKeySecretArn }));
      const value = keyFromSecretString(out.SecretString ?? '');
      cached = { value, at: now() };
      return value;
    },
    destroy: () => client?.destroy?.(),
  };
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
