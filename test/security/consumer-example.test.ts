/**
 * The consumer example in docs/security.md ("Verifying webhooks") is run as written: extracted from
 * the document, compiled, and fed webhooks signed by hookrelay's own request builder. So the
 * document cannot drift into advice that does not work.
 */
import { transform } from 'esbuild';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSecret } from '../../functions/webhook/signing';
import { buildWebhookRequest } from '../../functions/webhook/webhook';

interface Example {
  receiveWebhook(
    rawBody: string,
    headers: Record<string, string>,
    secrets: string[],
    seen: { has(id: string): Promise<boolean>; add(id: string): Promise<void> },
    handle: (event: { type: string; timestamp: string; data: unknown }) => Promise<void>,
  ): Promise<number>;
}

const MARKER = '<!-- example: receive-webhook';
let dir: string;
let example: Example;

beforeAll(async () => {
  const doc = readFileSync(new URL('../../docs/security.md', import.meta.url), 'utf8');
  const at = doc.indexOf(MARKER);
  if (at < 0) throw new Error(`docs/security.md has no ${MARKER} block`);
  const source = /```ts\n([\s\S]*?)```/.exec(doc.slice(at))![1]!;
  const { code } = await transform(source, { loader: 'ts', format: 'esm' });
  // The module lives in a temporary directory: point its import at this repository's package.
  const lib = pathToFileURL(createRequire(import.meta.url).resolve('standardwebhooks')).href;
  dir = mkdtempSync(join(tmpdir(), 'hookrelay-doc-'));
  const file = join(dir, 'receive-webhook.mjs');
  writeFileSync(file, code.replace(/from ['"]standardwebhooks['"]/, `from ${JSON.stringify(lib)}`));
  example = (await import(pathToFileURL(file).href)) as Example;
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function webhook(secretKeys: string[], opts: { id?: string; at?: Date; data?: string } = {}) {
  return buildWebhookRequest({
    url: 'https://example.com/hook',
    eventId: opts.id ?? 'evt_1',
    type: 'invoice.paid',
    timestamp: '2026-11-22T21:55:26.898Z',
    dataJson: opts.data ?? '{"amount":4200}',
    secretKeys,
    at: opts.at ?? new Date(),
    userAgent: 'hookrelay/test',
  });
}

function seenSet() {
  const ids = new Set<string>();
  return { ids, has: async (id: string) => ids.has(id), add: async (id: string) => void ids.add(id) };
}

describe('the consumer example in docs/security.md', () => {
  it('accepts a webhook signed with its secret and hands over the event', async () => {
    const secret = generateSecret();
    const req = webhook([secret]);
    const handled: unknown[] = [];
    expect(
      await example.receiveWebhook(req.body, req.headers, [secret], seenSet(), async (e) => void handled.push(e)),
    ).toBe(200);
    expect(handled).toEqual([{ type: 'invoice.paid', timestamp: '2026-11-22T21:55:26.898Z', data: { amount: 4200 } }]);
  });

  it('refuses a wrong secret, an altered body, a missing signature, and a timestamp over 5 minutes off', async () => {
    const secret = generateSecret();
    const never = async () => {
      throw new Error('must not be handled');
    };
    const ok = webhook([secret]);
    expect(await example.receiveWebhook(ok.body, ok.headers, [generateSecret()], seenSet(), never)).toBe(400);
    expect(await example.receiveWebhook(ok.body.replace('4200', '4201'), ok.headers, [secret], seenSet(), never)).toBe(
      400,
    );
    const { 'webhook-signature': _dropped, ...unsigned } = ok.headers;
    expect(await example.receiveWebhook(ok.body, unsigned, [secret], seenSet(), never)).toBe(400);
    for (const offsetS of [-301, 301]) {
      const stale = webhook([secret], { at: new Date(Date.now() + offsetS * 1000) });
      expect(await example.receiveWebhook(stale.body, stale.headers, [secret], seenSet(), never), `${offsetS} s`).toBe(
        400,
      );
    }
    const recent = webhook([secret], { at: new Date(Date.now() - 240_000) });
    expect(await example.receiveWebhook(recent.body, recent.headers, [secret], seenSet(), async () => {})).toBe(200);
  });

  it('accepts either signature during a rotation, holding the old secret or the new one', async () => {
    const [old, fresh] = [generateSecret(), generateSecret()];
    const req = webhook([old, fresh]);
    expect(req.headers['webhook-signature']!.split(' ')).toHaveLength(2);
    for (const held of [[old], [fresh], [generateSecret(), fresh]]) {
      expect(await example.receiveWebhook(req.body, req.headers, held, seenSet(), async () => {})).toBe(200);
    }
  });

  it('acts once per webhook-id: a retry of a processed event is acknowledged and not handled again', async () => {
    const secret = generateSecret();
    const seen = seenSet();
    let handled = 0;
    const handle = async () => void handled++;
    const first = webhook([secret], { id: 'evt_dup' });
    const retry = webhook([secret], { id: 'evt_dup', at: new Date(Date.now() + 5_000) });
    expect(await example.receiveWebhook(first.body, first.headers, [secret], seen, handle)).toBe(200);
    expect(await example.receiveWebhook(retry.body, retry.headers, [secret], seen, handle)).toBe(200);
    expect(handled).toBe(1);
    expect([...seen.ids]).toEqual(['evt_dup']);
  });
});
