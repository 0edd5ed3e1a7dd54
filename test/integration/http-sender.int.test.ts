/** The outbound HTTP adapter against a real local receiver: how each kind of answer is reported. */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpSender } from '../../functions/webhook/http-sender';
import { RecordingReceiver } from '../helpers/receiver';

let receiver: RecordingReceiver;
const sender = new HttpSender({ excerptBytes: 16, bodyGraceMs: 300 });
const post = (url: string, timeoutMs = 1500) =>
  sender.send(
    { url, headers: { 'content-type': 'application/json', 'webhook-id': 'msg_1' }, body: '{"a":1}' },
    timeoutMs,
  );

beforeAll(async () => {
  receiver = await new RecordingReceiver().start();
});

afterAll(async () => {
  await sender.close();
  await receiver.stop();
});

describe('HttpSender', () => {
  it('posts the body and headers and reports the status and a capped excerpt', async () => {
    const url = receiver.endpoint([{ status: 201, body: 'x'.repeat(100) }]);
    const r = await post(url);
    expect(r).toMatchObject({ kind: 'response', statusCode: 201, bodyExcerpt: 'x'.repeat(16) });
    const got = receiver.on(url)[0]!;
    expect(got.body).toBe('{"a":1}');
    expect(got.headers['webhook-id']).toBe('msg_1');
  });

  it('never follows a redirect', async () => {
    const target = receiver.endpoint([200]);
    const url = receiver.endpoint([{ status: 302, headers: { location: target } }]);
    expect(await post(url)).toMatchObject({ kind: 'response', statusCode: 302 });
    expect(receiver.on(target)).toHaveLength(0);
  });

  it('reports a timeout when no status arrives in time', async () => {
    const r = await post(receiver.endpoint([{ fault: 'hang' }]), 400);
    expect(r).toMatchObject({ kind: 'timeout', timeoutMs: 400 });
    expect(r.durationMs).toBeGreaterThanOrEqual(390);
  });

  it('judges by the status once it arrived, even if the body then stalls', async () => {
    const started = Date.now();
    const r = await post(receiver.endpoint([{ fault: 'stall-body', status: 200 }]), 5000);
    expect(r).toMatchObject({ kind: 'response', statusCode: 200, bodyExcerpt: 'partial [body incomplete]' });
    expect(Date.now() - started).toBeLessThan(2000); // the body grace, not the 5 s timeout
  });

  it('reports a connection reset before any status as a network error', async () => {
    expect(await post(receiver.endpoint([{ fault: 'reset' }]))).toMatchObject({
      kind: 'network',
      message: 'connection reset',
    });
  });

  it('reports a refused connection', async () => {
    // A port that was just free: nothing listens there.
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const { port } = probe.address() as AddressInfo;
    await new Promise((r) => probe.close(r));
    expect(await post(`http://127.0.0.1:${port}/hook`)).toMatchObject({
      kind: 'network',
      message: 'connection refused',
    });
  });
});
