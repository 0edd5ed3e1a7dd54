/**
 * The admin key on AWS lives in Secrets Manager; the api function caches it for 5 minutes, so a
 * new value (`aws secretsmanager put-secret-value`) takes effect within 5 minutes, no deploy.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import type { GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { adminKeyReader, type SecretsClient } from '../../functions/access/aws-admin-key';
import { ENV, parseConfig } from '../../functions/config';
import { aFunctionEnvironment } from '../helpers/fixtures';

const store = { value: '', reads: [] as string[] };

const secrets: SecretsClient = {
  send: async (command: GetSecretValueCommand) => {
    store.reads.push(command.input.SecretId ?? '');
    return { SecretString: store.value };
  },
};

const ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:hookrelay-admin-key';
const deployment = aFunctionEnvironment();
const cfg = parseConfig({ ...deployment, [ENV.apiKeySecretArn]: ARN });
const MINUTE = 60_000;
// The cache lives in the reader (one per container); each test has its own, and its own clock.
const t = 24 * 60 * MINUTE;
let clock = t;
let reader = adminKeyReader(cfg, { client: secrets, now: () => clock });
/** The key at time `at`: `cfg`'s from the test's reader (its cache carries over), another's from a new one. */
const adminKey = (c: typeof cfg, at: () => number) => {
  clock = at();
  return (c === cfg ? reader : adminKeyReader(c, { client: secrets, now: () => clock })).read();
};

beforeEach(() => {
  reader = adminKeyReader(cfg, { client: secrets, now: () => clock });
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

  it('keeps each container’s cache its own: a new container reads the secret as it is now', async () => {
    store.value = 'old-admin-key';
    expect(await adminKey(cfg, () => t)).toBe('old-admin-key');
    store.value = 'new-admin-key';
    const another = adminKeyReader(cfg, { client: secrets, now: () => t + MINUTE });
    expect(await another.read()).toBe('new-admin-key');
    expect(await adminKey(cfg, () => t + MINUTE)).toBe('old-admin-key');
    expect(store.reads).toEqual([ARN, ARN]);
  });

  it('uses HOOKRELAY_API_KEY as given (the local stack), without asking Secrets Manager', async () => {
    expect(
      await adminKey(parseConfig({ ...deployment, [ENV.apiKey]: 'local-key', [ENV.apiKeySecretArn]: ARN }), () => t),
    ).toBe('local-key');
    expect(store.reads).toEqual([]);
  });
});
