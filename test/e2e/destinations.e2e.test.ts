/** With private targets disallowed (the AWS default), registration refuses internal destinations. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTarget, testApi, type Api, type Target } from '../helpers/target';

let target: Target;
let api: Api;
let appId: string;

beforeAll(async () => {
  target = await startTarget({ HOOKRELAY_ALLOW_PRIVATE_TARGETS: 'false' });
  api = testApi(target);
  appId = await api.createApp();
});

afterAll(async () => {
  await target?.stop();
});

const internal = [
  'http://127.0.0.1/hook',
  'http://localhost:8080/hook',
  'http://2130706433/hook',
  'http://0x7f.1/hook',
  'http://0177.0.0.1/hook',
  'http://127.1/hook',
  'http://10.0.0.5/hook',
  'http://172.16.3.4/hook',
  'http://192.168.1.1/hook',
  'http://100.64.0.1/hook',
  'http://169.254.169.254/latest/meta-data/',
  'http://[::1]/hook',
  'http://[::ffff:127.0.0.1]/hook',
  'http://[::ffff:7f00:1]/hook',
  'http://[64:ff9b::a9fe:a9fe]/hook',
  'http://[2002:7f00:1::]/hook',
  'http://[fd00:ec2::254]/hook',
  'http://[fe80::1]/hook',
  'http://metadata.google.internal/computeMetadata/v1/',
  'http://0.0.0.0/hook',
];

describe('destination guard at registration', () => {
  it.each(internal)('refuses %s with a 422 naming the url', async (url) => {
    const r = await api.hr.POST('/v1/apps/{appId}/endpoints', { params: { path: { appId } }, body: { url } });
    expect(r.response.status).toBe(422);
    expect(r.error?.error.details?.[0]?.path).toBe('url');
  });

  it('accepts a public https URL, stored without its fragment', async () => {
    const r = await api.hr.POST('/v1/apps/{appId}/endpoints', {
      params: { path: { appId } },
      body: { url: 'https://hooks.example.com/in#frag' },
    });
    expect(r.response.status).toBe(201);
    expect(r.data?.url).toBe('https://hooks.example.com/in');
  });
});
