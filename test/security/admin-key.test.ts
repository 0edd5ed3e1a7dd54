/**
 * The admin key on AWS lives in Secrets Manager; the api function caches it for 5 minutes, so a
 * new value (`aws secretsmanager put-secret-value`) takes effect within 5 minutes, no deploy.
 */
import { beforeEach, describe, expect, it, vi } from 'vitest';
import type { GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { ENV, parseConfig } from '../../functions/config';
import { functionTunables } from '../../infra/topology';

const store = vi.hoisted(() => ({ value: '', reads: [] as string[] }));

vi.mock('../../functions/shared/aws-clients', () => ({
  secretsClient: () => ({
    send: async (command: GetSecretValueCommand) => {
      store.reads.push(command.input.SecretId ?? '');
      return { SecretString: store.value };
    },
  }),
}));

const { adminKey } = await import('../../functions/access/aws-admin-key');

const ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:hookrelay-admin-key';
const deployment = {
  ...functionTunables(),
  [ENV.tableName]: 'hookrelay',
  [ENV.workQueueUrl]: 'http://sqs/work',
  [ENV.retryQueueUrl]: 'http://sqs/retry',
  [ENV.dlqUrl]: 'http://sqs/dlq',
  [ENV.retentionDays]: '30',
  [ENV.version]: '0.1.0',
};
const cfg = parseConfig({ ...deployment, [ENV.apiKeySecretArn]: ARN });
const MINUTE = 60_000;
// The cache lives in the module; each test starts far past the previous test's window.
let t = 0;

beforeEach(() => {
  t += 24 * 60 * MINUTE;
  store.reads = [];
});

describe('the admin key from Secrets Manager', () => {
  it('picks up a changed secret once the 5-minute cache has passed, and not before', async () => {
    store.value = 'old-admin-key';
    expect(await adminKey(cfg, () => t)).toBe('old-admin-key');

    store.value = 'new-admin-key'; // put-secret-value
    expect(await adminKey(cfg, () => t + 4 * MINUTE)).toBe('old-admin-key');
    expect(await adminKey(cfg, () => t + 5 * MINUTE - 1)).toBe('old-admin-key');
    expect(await adminKey(cfg, () => t + 5 * MINUTE)).toBe('new-admin-key');
    expect(store.reads).toEqual([ARN, ARN]);
  });

  it('reads the secret once per window, however many requests come', async () => {
    store.value = 'k';
    for (let i = 0; i < 50; i++) await adminKey(cfg, () => t + i * 1000);
    expect(store.reads).toHaveLength(1);
  });

  it('takes the key from a JSON secret ({"key": ...}) or the bare string', async () => {
    store.value = JSON.stringify({ key: 'from-json' });
    expect(await adminKey(cfg, () => t)).toBe('from-json');
    store.value = '{"not":"a key"}';
    expect(await adminKey(cfg, () => t + 5 * MINUTE)).toBe('{"not":"a key"}');
  });

  it('uses HOOKRELAY_API_KEY as given (the local stack), without asking Secrets Manager', async () => {
    expect(
      await adminKey(parseConfig({ ...deployment, [ENV.apiKey]: 'local-key', [ENV.apiKeySecretArn]: ARN }), () => t),
    ).toBe('local-key');
    expect(store.reads).toEqual([]);
  });
});
