/**
 * The consumer portal in a real Chromium against the embedded stack, screen by screen: a link
 * opens the app's endpoints; a new endpoint receives a test event; the delivery shows up in the
 * log with its attempts; resend and rotation work; the form's signature, header and auth options
 * are what the API then shows; endpoints are disabled, enabled and deleted from the list; a
 * read-only link changes nothing; expired and ended links are refused; another app's ids are
 * 404; the page can be framed only by the origins allowed, takes its colours from the link, and is
 * usable from the keyboard.
 *
 * One browser for the whole file. Chromium is Debian's /usr/bin/chromium (CI installs it), or
 * CHROMIUM_PATH, or Playwright's own; without one the tests say plainly that they did not run
 * (and fail under .ci/run, which sets HOOKRELAY_REQUIRE_TOOLS=1).
 * PORTAL_SCREENSHOTS=docs/portal writes the screenshots docs/portal.md shows.
 */
import { createHmac } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Browser, BrowserContext, BrowserType, Page } from 'playwright-core';
import { Webhook } from 'standardwebhooks';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Schemas } from '../../client';
import { hashKey } from '../../functions/access/keys';
import { useSystem } from '../helpers/e2e';

const system = useSystem({ HOOKRELAY_PORTAL_FRAME_ANCESTORS: 'http://127.0.0.1:*' });

function chromiumPath(): string | undefined {
  for (const p of [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser']) {
    if (p && existsSync(p)) return p;
  }
  return undefined;
}

let browser: Browser | undefined;
let skipped: string | undefined;
const shots = process.env.PORTAL_SCREENSHOTS ?? mkdtempSync(path.join(tmpdir(), 'portal-shots-'));
const ids: Record<string, string> = {};
/** How long a screen may take to show what a step expects (the machine may be busy). */
const WAIT = { timeout: 20_000, interval: 100 };

/** The browser, or a plain notice that these tests did not run (a failure under .ci/run). */
async function ready(): Promise<Browser | undefined> {
  if (browser) return browser;
  const message = `the portal's browser tests did not run: ${skipped}`;
  if (process.env.HOOKRELAY_REQUIRE_TOOLS === '1')
    throw new Error(`${message}; HOOKRELAY_REQUIRE_TOOLS=1 requires Chromium`);
  console.warn(`NOTICE: ${message}`);
  return undefined;
}

async function shot(page: Page, name: string, fullPage = false) {
  await page.screenshot({ path: path.join(shots, `${name}.png`), fullPage });
}

/** The page's width as laid out: more than the viewport means it scrolls sideways. */
const scrollWidth = (page: Page) => page.evaluate(`document.scrollingElement.scrollWidth`) as Promise<number>;

async function mint(appId: string, capabilities: Schemas['PortalAccess']['capabilities']) {
  const r = await system.api.hr.POST('/v1/apps/{appId}/portal-access', {
    params: { path: { appId } },
    body: { capabilities },
  });
  expect(r.response.status).toBe(201);
  return r.data!;
}

/** An endpoint of app A as the API shows it. */
async function endpointA(endpointId: string) {
  const r = await system.api.hr.GET('/v1/apps/{appId}/endpoints/{endpointId}', {
    params: { path: { appId: ids.appA!, endpointId } },
  });
  return { status: r.response.status, endpoint: r.data };
}

/** What a page shows, for a failure's message. */
const pages = new Set<Page>();
afterEach(async (ctx) => {
  if (ctx.task.result?.state === 'fail') {
    for (const p of pages)
      console.error(
        `page ${p.url()} shows: ${(
          await p
            .locator('body')
            .innerText()
            .catch(() => '?')
        ).slice(0, 800)}`,
      );
  }
  pages.clear();
});

/** A new manage link of app A (each test its own: a link's calls are rate-limited). */
async function manageLink(): Promise<string> {
  return (await mint(ids.appA!, ['read', 'manage'])).url;
}

/**
 * A fresh context (no session storage) on `url`, 1280 px wide unless `options` say otherwise,
 * with CSP violations and console errors collected.
 */
async function open(
  url: string,
  options: { width?: number; height?: number; timezoneId?: string } = {},
): Promise<{ context: BrowserContext; page: Page; violations: string[]; errors: string[] }> {
  const context = await browser!.newContext({
    viewport: { width: options.width ?? 1280, height: options.height ?? 800 },
    ...(options.timezoneId ? { timezoneId: options.timezoneId } : {}),
  });
  const page = await context.newPage();
  page.setDefaultTimeout(20_000);
  pages.add(page);
  const violations: string[] = [];
  const errors: string[] = [];
  page.on('console', (m) => {
    if (/Content.Security.Policy|Refused to/i.test(m.text())) violations.push(m.text());
    if (m.type() === 'error') errors.push(`${m.text()} ${m.location().url}`);
  });
  page.on('pageerror', (e) => violations.push(`page error: ${e.message}`));
  await page.goto(url);
  return { context, page, violations, errors };
}

beforeAll(async () => {
  const executablePath = chromiumPath();
  let chromium: BrowserType;
  try {
    chromium = (await import('playwright-core')).chromium;
  } catch (err) {
    skipped = `playwright-core cannot load (${String(err)})`;
    return;
  }
  try {
    browser = await chromium.launch({
      ...(executablePath ? { executablePath } : {}),
      args: ['--no-sandbox'],
    });
  } catch (err) {
    skipped = `no Chromium found (tried CHROMIUM_PATH, /usr/bin/chromium and Playwright's own): ${(err as Error).message.split('\n')[0]}`;
    return;
  }
  if (process.env.PORTAL_SCREENSHOTS) mkdirSync(shots, { recursive: true });

  // The platform's side: a catalog, two apps, an endpoint in the other app.
  const created = await system.api.hr.POST('/v1/event-types', {
    body: {
      name: 'order.created',
      description: 'A customer placed an order.',
      schema: {
        type: 'object',
        properties: { orderId: { type: 'string' }, total: { type: 'number' } },
        required: ['orderId', 'total'],
      },
      examples: [{ orderId: 'ord_1001', total: 42.5 }],
    },
  });
  expect([201, 409]).toContain(created.response.status);
  await system.api.hr.POST('/v1/event-types', {
    body: {
      name: 'invoice.paid',
      description: 'An invoice was paid in full.',
      examples: [{ invoiceId: 'in_7', amount: 1200 }],
    },
  });
  ids.appA = await system.api.createApp('Acme Shop');
  ids.appB = await system.api.createApp('Other tenant');
  ids.endpointB = (await system.api.createEndpoint(ids.appB, system.hook())).id;
}, 60_000);

afterAll(async () => {
  await browser?.close();
});

describe('the portal, in Chromium', { timeout: 90_000 }, () => {
  it('opens the app’s endpoints from a link, wipes the token from the address bar, with a strict CSP', async () => {
    if (!(await ready())) return;
    const link = await mint(ids.appA!, ['read', 'manage']);
    ids.manageUrl = link.url;
    const res = await fetch(`${system.target.apiUrl}/portal`);
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
    expect(await res.text()).not.toMatch(/<script>(?!<)/);

    const { context, page, violations } = await open(link.url);
    await expect.poll(() => page.getByRole('heading', { level: 1 }).textContent(), WAIT).toBe('Endpoints');
    expect(page.url()).not.toContain(link.token);
    expect(await page.getByText('Acme Shop').count()).toBe(1);
    expect(await page.getByTestId('access').textContent()).toContain('Manage access');
    expect(violations).toEqual([]);
    await context.close();
  });

  it('creates an endpoint with the event-type picker, from the keyboard, every control labelled', async () => {
    if (!(await ready())) return;
    const { context, page } = await open(await manageLink());
    await page.getByRole('link', { name: 'Add endpoint' }).waitFor();
    // Keyboard only: Tab to "Add endpoint", Enter, type into the focused fields.
    for (let i = 0; i < 10 && (await page.evaluate(`document.activeElement?.textContent`)) !== 'Add endpoint'; i++)
      await page.keyboard.press('Tab');
    await page.keyboard.press('Enter');
    await page.getByLabel('URL').waitFor();
    // (Browser code as a string: this file is type-checked for Node, without the DOM's types.)
    const unlabelled = await page.evaluate(
      `[...document.querySelectorAll('input, select, textarea')]
        .filter((el) => el.labels.length === 0 && !el.getAttribute('aria-label'))
        .map((el) => el.outerHTML)`,
    );
    expect(unlabelled).toEqual([]);
    ids.hook = system.hook();
    await page.getByLabel('URL').fill(ids.hook);
    await page.getByLabel('Description').fill('Orders to the warehouse');
    await page.getByLabel('order.created').check();
    await shot(page, 'endpoint-form');
    await page.getByLabel('Description').focus();
    await page.keyboard.press('Enter'); // submits the form
    await expect.poll(() => page.getByRole('heading', { level: 1 }).textContent(), WAIT).toBe(ids.hook);
    ids.endpointA = decodeURIComponent(page.url().split('/').at(-1)!);
    expect((await endpointA(ids.endpointA!)).endpoint).toMatchObject({
      eventTypes: ['order.created'],
      description: 'Orders to the warehouse',
    });
    await context.close();
  });

  it('sends a test event that the new endpoint receives; the delivery shows its attempts; resend works', async () => {
    if (!(await ready())) return;
    const { context, page } = await open(await manageLink());
    await page.goto(`${system.target.apiUrl}/portal#/endpoints/${ids.endpointA}`);
    await page.getByLabel('Event type', { exact: true }).first().waitFor();
    await page.locator('#test-type').selectOption('order.created');
    await page.getByRole('button', { name: 'Send test event' }).click();
    await system.receiver.waitFor(() => system.receiver.on(ids.hook!).length === 1, 30_000, 'the test event');
    const got = JSON.parse(system.receiver.on(ids.hook!)[0]!.body) as { data: unknown };
    expect(got.data).toEqual({ orderId: 'ord_1001', total: 42.5 });

    await page.getByRole('link', { name: 'See the test delivery' }).click();
    await expect
      .poll(
        async () => {
          await page.getByRole('button', { name: 'Refresh' }).click();
          return page.getByTestId('delivery-status').textContent();
        },
        { timeout: 30_000, interval: 500 },
      )
      .toBe('succeeded');
    const attemptRows = page.locator('section[aria-labelledby="attempts-title"] tbody tr');
    expect(await attemptRows.count()).toBe(1);
    expect(await attemptRows.first().textContent()).toContain('200');
    // A test event says so on its delivery.
    expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('Delivery of order.createdtest');
    await shot(page, 'delivery');

    await page.getByRole('button', { name: 'Resend' }).click();
    await system.receiver.waitFor(() => system.receiver.on(ids.hook!).length === 2, 30_000, 'the resent event');
    const [first, second] = system.receiver.on(ids.hook!);
    expect(second!.headers['webhook-id']).toBe(first!.headers['webhook-id']);
    await expect
      .poll(
        async () => {
          await page.getByRole('button', { name: 'Refresh' }).click();
          return attemptRows.count();
        },
        { timeout: 30_000, interval: 500 },
      )
      .toBe(2);
    ids.eventA = first!.headers['webhook-id']!;

    // The endpoint's log: the delivery, newest first, with its status; filters narrow it.
    await page.getByRole('link', { name: '← Endpoint' }).click();
    const log = page.locator('section[aria-labelledby="log-title"]');
    const row = log.locator('tbody tr').filter({ hasText: ids.eventA });
    await expect.poll(() => row.count(), WAIT).toBe(1);
    await expect.poll(() => row.textContent(), WAIT).toContain('succeeded');
    expect(await row.textContent()).toContain('order.created');
    await page.getByLabel('Status').selectOption('failed');
    await log.getByText('No deliveries match.').waitFor();
    await page.getByLabel('Status').selectOption('succeeded');
    await page.getByLabel('Time window').selectOption('custom');
    await page.getByLabel('From').fill('2020-01-01T00:00');
    await expect.poll(() => row.count(), WAIT).toBe(1);
    await page.getByLabel('Until').fill('2021-01-01T00:00');
    await log.getByText('No deliveries match.').waitFor();
    await page.getByLabel('Time window').selectOption('24h');
    await expect.poll(() => row.count(), WAIT).toBe(1);
    // Its statistics count it, and its row opens it with its attempts.
    expect(Number(await page.getByTestId('stat-total').textContent())).toBeGreaterThanOrEqual(1);
    await row.getByRole('link', { name: ids.eventA }).click();
    await expect.poll(() => attemptRows.count(), WAIT).toBe(2);
    await context.close();
  });

  it('reveals and rotates the secret; the next webhook is signed with the new one', async () => {
    if (!(await ready())) return;
    const { context, page } = await open(await manageLink());
    await page.goto(`${system.target.apiUrl}/portal#/endpoints/${ids.endpointA}`);
    await page.getByRole('button', { name: 'Reveal secret' }).click();
    const before = await page.getByTestId('secret').textContent();
    expect(before).toMatch(/^whsec_/);
    await page.getByRole('button', { name: 'Rotate secret' }).click();
    await page.getByRole('button', { name: 'Confirm rotation' }).click();
    const outcome = page.locator('section[aria-labelledby="secret-title"] .notice');
    await expect.poll(() => outcome.textContent(), WAIT).toMatch(/rotated|\w/);
    expect(await outcome.textContent()).toMatch(/^Secret rotated/);
    expect(await page.getByTestId('secret').textContent()).not.toBe(before);
    const after = (await page.getByTestId('secret').textContent())!;
    expect(after).toMatch(/^whsec_/);
    const current = await system.api.hr.GET('/v1/apps/{appId}/endpoints/{endpointId}/secret', {
      params: { path: { appId: ids.appA!, endpointId: ids.endpointA! } },
    });
    expect(current.data?.key).toBe(after);
    await shot(page, 'endpoint');

    await page.locator('#test-type').selectOption('order.created');
    await page.getByRole('button', { name: 'Send test event' }).click();
    await system.receiver.waitFor(() => system.receiver.on(ids.hook!).length === 3, 30_000, 'a webhook after rotation');
    const third = system.receiver.on(ids.hook!)[2]!;
    const signatures = third.headers['webhook-signature']!.split(' ');
    expect(signatures).toHaveLength(2); // the old and the new secret, during the overlap
    expect(() => new Webhook(after).verify(third.body, third.headers)).not.toThrow();
    await context.close();
  });

  it('recovers since a time, and shows the catalog with each schema and example', async () => {
    if (!(await ready())) return;
    const { context, page } = await open(await manageLink());
    await page.goto(`${system.target.apiUrl}/portal#/endpoints/${ids.endpointA}`);
    await page.getByLabel('Since').fill('2026-01-01T00:00');
    await page.getByRole('button', { name: 'Recover' }).click();
    await page.getByText(/failed deliver(y|ies) sent again/).waitFor();

    // Edit: the form starts from the endpoint; saving changes what was changed, and nothing else.
    const before = (await endpointA(ids.endpointA!)).endpoint;
    await page.getByRole('link', { name: 'Edit' }).click();
    await expect.poll(() => page.getByLabel('Description').inputValue(), WAIT).toBe('Orders to the warehouse');
    await page.getByLabel('Description').fill('Orders, to the new warehouse');
    await page.getByRole('button', { name: 'Save changes' }).click();
    await expect.poll(() => page.getByRole('heading', { level: 1 }).textContent(), WAIT).toBe(ids.hook);
    expect((await endpointA(ids.endpointA!)).endpoint).toMatchObject({
      ...before,
      description: 'Orders, to the new warehouse',
      updatedAt: expect.any(String),
    });

    await page.getByRole('link', { name: 'Event catalog' }).click();
    await expect.poll(() => page.getByRole('heading', { level: 1 }).textContent(), WAIT).toBe('Event catalog');
    expect(await page.getByLabel('JSON Schema of order.created').textContent()).toContain('"orderId"');
    expect(await page.getByLabel('Example data of order.created').textContent()).toContain('ord_1001');
    await shot(page, 'catalog');
    await context.close();
  });

  it('creates and edits the signature scheme, custom headers and auth: the API returns what the form set', async () => {
    if (!(await ready())) return;
    const { context, page } = await open(await manageLink());
    await page.getByRole('link', { name: 'Add endpoint' }).click();
    const url = system.hook();
    await page.getByLabel('URL').fill(url);
    await page.getByLabel('Scheme').selectOption('hmac-sha256');
    await page.getByLabel('Header', { exact: true }).fill('X-Shop-Signature');
    await page.getByLabel('Prefix').fill('sha256:');
    await page.getByLabel(/Signing secret of your choice/).fill('a-secret-the-shop-chose');
    await page.getByLabel('One per line, as Name: value').fill('X-Tenant: acme\nX-Api-Key: k-123456');
    await page.getByLabel('Method').selectOption('basic');
    await page.getByLabel('Username').fill('relay');
    await page.getByLabel('Password').fill('basic-pass-word');
    await shot(page, 'endpoint-form-options');
    await page.getByRole('button', { name: 'Create endpoint' }).click();
    await expect.poll(() => page.getByRole('heading', { level: 1 }).textContent(), WAIT).toBe(url);
    const endpointId = decodeURIComponent(page.url().split('/').at(-1)!);
    const created = (await endpointA(endpointId)).endpoint;
    expect(created).toMatchObject({
      url,
      signature: { scheme: 'hmac-sha256', header: 'X-Shop-Signature', prefix: 'sha256:' },
      headerNames: ['X-Tenant', 'X-Api-Key'],
      auth: { type: 'basic', username: 'relay', passwordSet: true },
    });
    // And deliveries carry them: the chosen secret signs, the headers and Basic credentials go along.
    const path = { appId: ids.appA!, endpointId };
    await system.api.hr.POST('/v1/apps/{appId}/endpoints/{endpointId}/send-example', {
      params: { path },
      body: { eventType: 'order.created' },
    });
    await system.receiver.waitFor(() => system.receiver.on(url).length === 1, 30_000, 'the webhook');
    const got = system.receiver.on(url)[0]!;
    const hex = createHmac('sha256', 'a-secret-the-shop-chose').update(got.body).digest('hex');
    expect(got.headers['x-shop-signature']).toBe(`sha256:${hex}`);
    expect(got.headers['x-tenant']).toBe('acme');
    expect(got.headers.authorization).toBe(`Basic ${Buffer.from('relay:basic-pass-word').toString('base64')}`);

    // Edit: another scheme, other headers, bearer auth; the form starts from what the API shows.
    await page.getByRole('link', { name: 'Edit' }).click();
    await expect.poll(() => page.getByLabel('Scheme').inputValue(), WAIT).toBe('hmac-sha256');
    expect(await page.getByLabel('Header', { exact: true }).inputValue()).toBe('X-Shop-Signature');
    expect(await page.getByLabel('Username').inputValue()).toBe('relay');
    await page.getByLabel('Scheme').selectOption('standard-webhooks');
    await page.getByLabel('One per line, as Name: value').fill('X-Region: eu');
    await page.getByLabel('Method').selectOption('bearer');
    await page.getByLabel('Token').fill('bearer-from-the-portal');
    await page.getByRole('button', { name: 'Save changes' }).click();
    await expect.poll(() => page.getByRole('heading', { level: 1 }).textContent(), WAIT).toBe(url);
    expect((await endpointA(endpointId)).endpoint).toMatchObject({
      signature: { scheme: 'standard-webhooks' },
      headerNames: ['X-Region'],
      auth: { type: 'bearer', tokenSet: true },
    });
    // Removing auth in the form removes it from the endpoint.
    await page.getByRole('link', { name: 'Edit' }).click();
    await expect.poll(() => page.getByLabel('Method').inputValue(), WAIT).toBe('bearer');
    await page.getByLabel('Method').selectOption('none');
    await page.getByRole('button', { name: 'Save changes' }).click();
    await expect.poll(() => page.getByRole('heading', { level: 1 }).textContent(), WAIT).toBe(url);
    const edited = (await endpointA(endpointId)).endpoint;
    expect(edited?.auth).toBeUndefined();
    expect(edited?.headerNames).toEqual(['X-Region']);
    ids.optionsEndpoint = endpointId;
    ids.optionsUrl = url;
    await context.close();
  });

  it('disables, enables and deletes an endpoint from the list', async () => {
    if (!(await ready())) return;
    const { context, page } = await open(await manageLink());
    const url = ids.optionsUrl!;
    const row = page.locator('tbody tr').filter({ has: page.getByRole('link', { name: url, exact: true }) });
    await expect.poll(() => row.count(), WAIT).toBe(1);
    await row.getByRole('button', { name: `Disable ${url}` }).click();
    await page.getByText(`${url} is disabled.`).waitFor();
    expect((await endpointA(ids.optionsEndpoint!)).endpoint?.enabled).toBe(false);
    await expect.poll(() => row.textContent(), WAIT).toContain('disabled');
    await row.getByRole('button', { name: `Enable ${url}` }).click();
    await page.getByText(`${url} is enabled.`).waitFor();
    expect((await endpointA(ids.optionsEndpoint!)).endpoint?.enabled).toBe(true);

    await row.getByRole('button', { name: `Delete ${url}` }).click();
    // Nothing is deleted before the confirmation; Cancel keeps it.
    expect((await endpointA(ids.optionsEndpoint!)).status).toBe(200);
    await row.getByRole('button', { name: 'Cancel' }).click();
    await row.getByRole('button', { name: `Delete ${url}` }).click();
    await row.getByRole('button', { name: `Confirm delete ${url}` }).click();
    await page.getByText(`${url} was deleted.`).waitFor();
    await expect.poll(() => row.count(), WAIT).toBe(0);
    expect((await endpointA(ids.optionsEndpoint!)).status).toBe(404);
    // The other endpoints are still there.
    expect(await page.getByRole('link', { name: ids.hook!, exact: true }).count()).toBe(1);
    await context.close();
  });

  it('shows a delivery’s payload and every attempt: status code, duration, error, response excerpt', async () => {
    if (!(await ready())) return;
    const url = system.hook([
      { status: 500, body: 'warehouse is down' },
      { status: 200, body: 'stored, thanks' },
    ]);
    const ep = await system.api.createEndpoint(ids.appA!, url, { eventTypes: ['invoice.paid'] });
    const sent = await system.api.sendEvent(ids.appA!, { type: 'invoice.paid', data: { invoiceId: 'in_42' } });
    await system.api.waitForStatus(
      ids.appA!,
      sent.id,
      (s) => s.deliveries.find((d) => d.endpointId === ep.id)?.status === 'succeeded',
    );
    const { context, page } = await open(await manageLink());
    await page.goto(`${system.target.apiUrl}/portal#/endpoints/${ep.id}/deliveries/${sent.id}`);
    await expect.poll(() => page.getByTestId('delivery-status').textContent(), WAIT).toBe('succeeded');
    expect(await page.getByRole('heading', { level: 1 }).textContent()).not.toContain('test');
    expect(await page.getByLabel("The webhook's body").textContent()).toContain('"in_42"');
    const rows = page.locator('section[aria-labelledby="attempts-title"] tbody tr');
    await expect.poll(() => rows.count(), WAIT).toBe(2);
    const first = await rows.nth(0).innerText();
    expect(first).toMatch(/^1\t.*\t500\t\d+ ms\tfailed, retried\tHTTP 500\twarehouse is down$/);
    const second = await rows.nth(1).innerText();
    expect(second).toMatch(/^2\t.*\t200\t\d+ ms\tsucceeded\t—\tstored, thanks$/);
    await context.close();
  });

  it('a read-only link shows no control that changes anything, and changes nothing', async () => {
    if (!(await ready())) return;
    const link = await mint(ids.appA!, ['read']);
    const { context, page } = await open(link.url);
    const changing = /add|disable|enable|delete|rotate|reveal|resend|send|recover|save|create|edit/i;
    await expect.poll(() => page.getByRole('heading', { level: 1 }).textContent(), WAIT).toBe('Endpoints');
    await page.getByRole('link', { name: ids.hook! }).waitFor();
    expect(await page.getByRole('button', { name: changing }).count()).toBe(0);
    expect(await page.getByRole('link', { name: changing }).count()).toBe(0);
    expect(await page.getByTestId('access').textContent()).toContain('Read-only');
    await expect.poll(() => page.getByTestId('health').count(), WAIT).toBeGreaterThan(0);
    await shot(page, 'endpoints-read-only');

    await page.getByRole('link', { name: ids.hook! }).click();
    await expect.poll(() => page.getByRole('heading', { level: 1 }).textContent(), WAIT).toBe(ids.hook);
    expect(await page.getByRole('button', { name: changing }).count()).toBe(0);
    expect(await page.getByRole('link', { name: changing }).count()).toBe(0);
    await page.goto(`${system.target.apiUrl}/portal#/endpoints/${ids.endpointA}/deliveries/${ids.eventA}`);
    await page.getByTestId('delivery-status').waitFor();
    expect(await page.getByRole('button', { name: changing }).count()).toBe(0);
    await page.goto(`${system.target.apiUrl}/portal#/endpoints/new`);
    await page.getByText('This portal link is read-only.').waitFor();
    // And the API refuses the link's token for a change, whatever the page shows.
    const status = await page.evaluate(
      async ([appId, endpointId, token]) =>
        (
          await fetch(`/v1/apps/${appId}/endpoints/${endpointId}`, {
            method: 'PATCH',
            headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
            body: JSON.stringify({ enabled: false }),
          })
        ).status,
      [ids.appA!, ids.endpointA!, link.token],
    );
    expect(status).toBe(403);
    expect((await endpointA(ids.endpointA!)).endpoint?.enabled).toBe(true);
    await context.close();
  });

  it('another app’s ids are 404 to a link', async () => {
    if (!(await ready())) return;
    const url = await manageLink();
    const { context, page } = await open(url);
    await page.goto(`${system.target.apiUrl}/portal#/endpoints/${ids.endpointB}`);
    await page.getByRole('alert').filter({ hasText: 'not found' }).waitFor();
    const token = new URL(url).hash.replace('#token=', '');
    const statuses = await page.evaluate(
      async ([appB, endpointB, t]) =>
        Promise.all(
          [`/v1/apps/${appB}`, `/v1/apps/${appB}/endpoints`, `/v1/apps/${appB}/endpoints/${endpointB}`].map(
            async (p) => (await fetch(p, { headers: { authorization: `Bearer ${t}` } })).status,
          ),
        ),
      [ids.appB!, ids.endpointB!, token],
    );
    expect(statuses).toEqual([404, 404, 404]);
    await context.close();
  });

  it('refuses an expired link and an ended one, saying which', async () => {
    if (!(await ready())) return;
    // An expired link, written as minting writes it, a day old.
    const { DynamoDBClient } = await import('@aws-sdk/client-dynamodb');
    const { DynamoDBDocumentClient } = await import('@aws-sdk/lib-dynamodb');
    const { DynamoCatalogStore } = await import('../../functions/catalog/dynamo-catalog-store');
    const { DynamoTable } = await import('../../functions/shared/dynamo-table');
    const stack = system.target as unknown as { embedded: boolean };
    expect(stack.embedded).toBe(true);
    // The embedded stack's emulator (its functions run with their own environment, not this process's).
    const endpoint = system.target.local!.dynamodb;
    const db = DynamoDBDocumentClient.from(new DynamoDBClient({ endpoint, region: 'us-east-1' }));
    const store = new DynamoCatalogStore(
      new DynamoTable(db, { tableName: system.target.local!.tableName, retentionDays: 30 }),
    );
    const expired = `hrp_${'e'.repeat(43)}`;
    await store.putPortalToken({
      hash: hashKey(expired),
      appId: ids.appA!,
      capabilities: ['read'],
      createdAt: new Date(Date.now() - 2 * 86_400_000).toISOString(),
      expiresAt: new Date(Date.now() - 86_400_000).toISOString(),
      generation: await store.portalGeneration(ids.appA!),
    });
    db.destroy();
    const old = await open(`${system.target.apiUrl}/portal#token=${expired}`);
    // The API's words, as a sentence with the page's time format.
    expect(await old.page.getByTestId('refused').textContent()).toMatch(
      /^This portal link expired at \d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC; ask for a new one\.$/,
    );
    // And what to do about it: a new link comes from the service that sent the customer here.
    expect(await old.page.getByTestId('refused-help').textContent()).toMatch(
      /What to do.*service that sent you here.*open its webhooks page again/,
    );
    await shot(old.page, 'link-expired');
    await old.context.close();

    const { context, page } = await open(await manageLink());
    await page.getByRole('link', { name: 'Add endpoint' }).waitFor();
    const ended = await system.api.hr.DELETE('/v1/apps/{appId}/portal-access', {
      params: { path: { appId: ids.appA! } },
    });
    expect(ended.response.status).toBe(204);
    await page.reload();
    expect(await page.getByTestId('refused').textContent()).toMatch(/ended/);
    await context.close();
  });

  it('takes a primary colour and dark mode from the link, and can be framed only by the allowed origins', async () => {
    if (!(await ready())) return;
    const link = await mint(ids.appA!, ['read', 'manage']);
    const { context, page } = await open(`${link.url}&primary=%23d9480f&theme=dark`);
    await page.getByRole('link', { name: 'Add endpoint' }).waitFor();
    expect(await page.locator('html').getAttribute('data-theme')).toBe('dark');
    const colour = await page.evaluate(`getComputedStyle(document.querySelector('.button.primary')).backgroundColor`);
    expect(colour).toBe('rgb(217, 72, 15)');
    await expect.poll(() => page.getByTestId('health').count(), WAIT).toBeGreaterThan(0);
    await shot(page, 'endpoints-dark');
    await context.close();

    // A platform's page that frames the portal, served on another port (127.0.0.1 is allowed here).
    const host: Server = createServer((_req, res) => {
      res.setHeader('content-type', 'text/html');
      res.end(`<!doctype html><title>platform</title><iframe width="900" height="600" src="${link.url}"></iframe>`);
    });
    await new Promise<void>((r) => host.listen(0, '127.0.0.1', r));
    const port = (host.address() as AddressInfo).port;
    try {
      const framed = await open(`http://127.0.0.1:${port}/`);
      const frame = framed.page.frameLocator('iframe');
      await frame.getByRole('heading', { name: 'Endpoints' }).waitFor();
      await framed.context.close();
      // localhost is not in HOOKRELAY_PORTAL_FRAME_ANCESTORS: Chromium refuses to show it there.
      const refused = await open(`http://localhost:${port}/`);
      await refused.page.waitForTimeout(500);
      const child = refused.page.frames().find((f) => f !== refused.page.mainFrame());
      const shown = await child
        ?.getByRole('heading', { name: 'Endpoints' })
        .count()
        .catch(() => 0);
      expect(shown, `the frame shows ${child?.url()}`).toBe(0);
      expect(refused.violations.join('\n')).toMatch(/frame-ancestors/);
      await refused.context.close();
    } finally {
      await new Promise((r) => host.close(r));
    }
  });
});

/**
 * Issue 22's portal: health in the list, an error column and event-id search in the log, a
 * delivery's request and final attempt, the API's error details in forms, statistics with
 * charts, UTC where times are entered, 390 px without sideways scrolling, and a favicon. One
 * app of its own, so its deliveries never reach the endpoints the tests above count.
 */
describe('the portal, as a customer meets it', { timeout: 120_000 }, () => {
  const c: Record<string, string> = {};

  beforeAll(async () => {
    if (!browser) return;
    c.app = await system.api.createApp('Northwind Traders');
    // A port nothing listens on: every attempt is a refused connection.
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    c.failingUrl = `http://127.0.0.1:${port}/webhooks`;
    c.failing = (
      await system.api.createEndpoint(c.app, c.failingUrl, {
        eventTypes: ['invoice.paid'],
        description: 'Billing (down)',
        headers: { 'X-Api-Key': 'k-secret-1234567' },
        auth: { type: 'bearer', token: 'bearer-secret-7654321' },
      })
    ).id;
    c.healthyUrl = system.hook([200]);
    c.healthy = (
      await system.api.createEndpoint(c.app, c.healthyUrl, { eventTypes: ['order.created'], description: 'Warehouse' })
    ).id;
    const lost = await system.api.sendEvent(c.app, { type: 'invoice.paid', data: { invoiceId: 'in_77', amount: 990 } });
    c.lost = lost.id;
    for (const n of [1, 2, 3]) {
      const ok = await system.api.sendEvent(c.app, { type: 'order.created', data: { orderId: `ord_${n}`, total: n } });
      c.ok = ok.id;
      await system.api.waitForStatus(c.app, ok.id, (st) => st.deliveries[0]?.status === 'succeeded');
    }
    // The retry schedule of the test stack is 1,1,1: four attempts, then failed.
    await system.api.waitForStatus(c.app, lost.id, (st) => st.deliveries[0]?.status === 'failed', 30_000);
    await seedHistory();
  }, 90_000);

  /**
   * A day of history for a third endpoint, so that its statistics have a shape (the stack cannot
   * backdate events): a delivery every 6 minutes, written through the delivery store as the
   * workers write them, with an hour of 503s eight hours ago. Its log rows have no event behind
   * them; only its list row and statistics are looked at.
   */
  async function seedHistory() {
    c.shippingUrl = system.hook([200]);
    c.shipping = (
      await system.api.createEndpoint(c.app!, c.shippingUrl, { eventTypes: ['shipment.sent'], description: 'Shipping' })
    ).id;
    const { DynamoDBClient } = await import('@aws-sdk/client-dynamodb');
    const { DynamoDBDocumentClient } = await import('@aws-sdk/lib-dynamodb');
    const { DynamoDeliveryStore } = await import('../../functions/delivery/dynamo-delivery-store');
    const { DynamoTable } = await import('../../functions/shared/dynamo-table');
    const db = DynamoDBDocumentClient.from(
      new DynamoDBClient({ endpoint: system.target.local!.dynamodb, region: 'us-east-1' }),
    );
    const store = new DynamoDeliveryStore(
      new DynamoTable(db, { tableName: system.target.local!.tableName, retentionDays: 30 }),
    );
    const now = Date.now();
    const writes: Promise<unknown>[] = [];
    for (let n = 1; n <= 235; n++) {
      const eventAt = new Date(now - n * 6 * 60_000 - 30_000);
      const hoursAgo = (now - eventAt.getTime()) / 3_600_000;
      const incident = hoursAgo > 8 && hoursAgo < 9;
      const failed = incident && n % 5 !== 0;
      const durationMs = Math.round(45 + 25 * Math.sin(n / 9) + (n % 7) * 4 + (incident ? 120 : 0));
      const key = { appId: c.app!, endpointId: c.shipping, eventId: `evt_seed_${n}`, eventAt: eventAt.toISOString() };
      const lastAttemptAt = new Date(eventAt.getTime() + (failed ? 3_000 : durationMs)).toISOString();
      writes.push(
        store.finish(
          key,
          { unleased: { attempt: 1, now: new Date(now).toISOString() } },
          {
            status: failed ? 'failed' : 'succeeded',
            eventType: 'shipment.sent',
            attempts: failed ? 4 : 1,
            lastStatusCode: failed ? 503 : 200,
            lastAttemptAt,
            nextAttemptAt: null,
            ...(failed ? {} : { success: { durationMs, responseExcerpt: 'ok' } }),
            dueAt: null,
          },
        ),
      );
      if (failed) {
        writes.push(
          store.recordAttempt({
            appId: c.app!,
            eventId: key.eventId,
            endpointId: c.shipping,
            attempt: 4,
            at: lastAttemptAt,
            statusCode: 503,
            durationMs: 30,
            outcome: 'retryable',
            error: 'HTTP 503',
            responseExcerpt: 'upstream unavailable',
          }),
        );
      }
    }
    await Promise.all(writes);
    db.destroy();
  }

  const link = async () => (await mint(c.app!, ['read', 'manage'])).url;
  const onEndpoint = async (page: Page, endpointId: string) => {
    await page.goto(`${system.target.apiUrl}/portal#/endpoints/${endpointId}`);
    await page.getByTestId('stats-headline').waitFor();
  };

  it('shows each endpoint’s health in the list: success rate and latest failure, and the throttle state once the API gives it', async () => {
    if (!(await ready())) return;
    const { context, page } = await open(await link());
    const row = (url: string) =>
      page.locator('tbody tr').filter({ has: page.getByRole('link', { name: url, exact: true }) });
    await expect.poll(() => row(c.healthyUrl!).getByTestId('health').textContent(), WAIT).toMatch(/^100 %/);
    const failing = row(c.failingUrl!);
    await expect.poll(() => failing.getByTestId('health').textContent(), WAIT).toMatch(/^0\.0 % of 1 finished/);
    expect(await failing.getByTestId('last-failure').textContent()).toMatch(
      /^Last failure \d+ (s|min) ago: connection refused$/,
    );
    expect(await row(c.healthyUrl!).getByTestId('last-failure').count()).toBe(0);
    await shot(page, 'endpoints');
    // The latest failure opens that delivery.
    await failing.getByTestId('last-failure').getByRole('link').click();
    await expect.poll(() => page.getByTestId('delivery-status').textContent(), WAIT).toBe('failed');
    expect(page.url()).toContain(`/deliveries/${c.lost}`);

    // Flow control's state (issue 19 adds `throttle` to the endpoint view): the list shows it
    // from the API's answer. Here the answer is given the field, as that API will send it.
    await page.route(/\/v1\/apps\/[^/]+\/endpoints\?/, async (route) => {
      const res = await route.fetch();
      const body = (await res.json()) as { items: { id: string }[] };
      for (const ep of body.items) {
        if (ep.id === c.failing) {
          Object.assign(ep, {
            throttle: { state: 'paused', until: '2030-01-01T00:00:00.000Z', reason: 'every attempt failed for 5 min' },
          });
        }
        if (ep.id === c.healthy) Object.assign(ep, { throttle: { state: 'throttled', perSecond: 2.5 } });
      }
      await route.fulfill({ response: res, json: body });
    });
    await page.goto(`${system.target.apiUrl}/portal#/`);
    await expect
      .poll(() => failing.getByTestId('throttle').textContent(), WAIT)
      .toBe(
        'paused Deliveries wait until 2030-01-01 00:00:00 UTC; a probe resumes them. every attempt failed for 5 min',
      );
    expect(await row(c.healthyUrl!).getByTestId('throttle').textContent()).toBe('throttled Slowed to 2.5/s.');
    await context.close();
  });

  it('gives the log an error column and a search by event id; a delivery shows its request, secrets hidden, and its final attempt as final', async () => {
    if (!(await ready())) return;
    const { context, page } = await open(await link());
    await onEndpoint(page, c.failing!);
    const log = page.locator('section[aria-labelledby="log-title"]');
    const row = log.locator('tbody tr').filter({ hasText: c.lost! });
    await expect.poll(() => row.count(), WAIT).toBe(1);
    const cells = await row.locator('td').allInnerTexts();
    expect(cells).toEqual([
      c.lost,
      'invoice.paid',
      'failed',
      '4',
      '—',
      'connection refused',
      expect.stringMatching(/UTC$/),
    ]);

    // By event id: found whatever the window; an id with no delivery here says so.
    await page.getByLabel('Time window').selectOption('1h');
    await page.getByLabel('Event id').fill(c.ok!);
    await page.getByRole('button', { name: 'Find' }).click();
    await log.getByText('No delivery of that event to this endpoint.').waitFor();
    await page.getByLabel('Event id').fill(c.lost!);
    await page.getByRole('button', { name: 'Find' }).click();
    await expect.poll(() => log.getByTestId('log-searching').textContent(), WAIT).toContain(c.lost!);
    await expect.poll(() => log.locator('tbody tr').count(), WAIT).toBe(1);
    await page.getByRole('button', { name: 'Show all' }).click();
    await page.getByLabel('Status').waitFor();

    await row.getByRole('link', { name: c.lost! }).click();
    await expect.poll(() => page.getByTestId('delivery-status').textContent(), WAIT).toBe('failed');
    expect(await page.getByTestId('delivery-error').textContent()).toBe('connection refused');
    const headers = page.getByTestId('request-headers');
    await headers.waitFor();
    const header = async (name: string) =>
      (await headers.locator('tr').filter({ hasText: name }).locator('td').textContent())?.trim();
    expect(await header('webhook-id')).toBe(c.lost);
    expect(await header('webhook-signature')).toBe('v1,•••');
    expect(await header('authorization')).toBe('Bearer •••');
    expect(await header('x-api-key')).toBe('•••');
    expect(await header('content-type')).toBe('application/json');
    expect(await header('webhook-timestamp')).toMatch(/^\d{10}$/);
    expect(await page.locator('.request-line').textContent()).toBe(`POST ${c.failingUrl}`);
    const text = await page.locator('main').innerText();
    expect(text).not.toMatch(/k-secret|bearer-secret|whsec_/);
    // Four attempts: three retried, the last one final, never "retryable".
    const outcomes = await page
      .locator('section[aria-labelledby="attempts-title"] tbody tr td:nth-child(5)')
      .allInnerTexts();
    expect(outcomes).toEqual(['failed, retried', 'failed, retried', 'failed, retried', 'failed, no retry left']);
    expect(text).not.toContain('retryable');
    await shot(page, 'delivery', true);
    await context.close();
  });

  it('shows the API’s error details in the form (a metadata address says why it is refused) and edits the rate limit', async () => {
    if (!(await ready())) return;
    const { context, page } = await open(await link());
    await page.getByRole('link', { name: 'Add endpoint' }).click();
    await page.getByLabel('URL').fill('http://169.254.169.254/latest');
    await page.getByRole('button', { name: 'Create endpoint' }).click();
    const alert = page.locator('#ep-form-notice [role="alert"]');
    await expect.poll(() => alert.textContent(), WAIT).toContain('not an allowed destination');
    expect(await alert.locator('li').allInnerTexts()).toEqual([
      expect.stringMatching(/^url 169\.254\.169\.254 is a forbidden address \(.+\)$/),
    ]);
    expect(await page.getByLabel('URL').getAttribute('aria-invalid')).toBe('true');
    // The reason is under the field too, and the field has the focus.
    expect(await page.getByTestId('url-error').textContent()).toMatch(/^169\.254\.169\.254 is a forbidden address/);
    await expect.poll(() => page.evaluate(`document.activeElement?.id`), WAIT).toBe('ep-url');
    await shot(page, 'endpoint-form-refused');
    // Fixed, the field is no longer marked; a rate limit out of range is refused in its turn.
    const rate = page.getByLabel(/requests a second/);
    await page.getByLabel('URL').fill(system.hook());
    await rate.fill('5000');
    await page.getByRole('button', { name: 'Create endpoint' }).click();
    await expect
      .poll(() => alert.locator('li').allInnerTexts(), WAIT)
      .toEqual([expect.stringMatching(/^rateLimit\.perSecond .*1000/)]);
    expect(await rate.getAttribute('aria-invalid')).toBe('true');
    expect(await page.getByLabel('URL').getAttribute('aria-invalid')).toBeNull();
    await rate.fill('2.5');
    await page.getByRole('button', { name: 'Create endpoint' }).click();
    await page.getByTestId('stats-headline').waitFor();
    expect(await page.getByTestId('rate-limit').textContent()).toBe('at most 2.5 requests a second');
    expect(await page.getByTestId('flow').textContent()).toBe('normal');
    const endpointId = decodeURIComponent(page.url().split('/').at(-1)!);
    const read = async () =>
      (
        await system.api.hr.GET('/v1/apps/{appId}/endpoints/{endpointId}', {
          params: { path: { appId: c.app!, endpointId } },
        })
      ).data;
    expect((await read())?.rateLimit).toEqual({ perSecond: 2.5 });
    // Emptied in the edit form, the limit is removed.
    await page.getByRole('link', { name: 'Edit' }).click();
    await expect.poll(() => rate.inputValue(), WAIT).toBe('2.5');
    await rate.fill('');
    await page.getByRole('button', { name: 'Save changes' }).click();
    await expect.poll(() => page.getByTestId('rate-limit').textContent(), WAIT).toBe('none');
    expect((await read())?.rateLimit).toBeNull();
    await context.close();
  });

  it('groups the statistics, with a chart of deliveries by outcome and of latency for the chosen window', async () => {
    if (!(await ready())) return;
    const { context, page } = await open(await link());
    await onEndpoint(page, c.healthy!);
    expect(await page.getByTestId('stat-total').textContent()).toBe('3');
    expect(await page.getByTestId('stat-rate').textContent()).toBe('100 %');
    const chart = page.getByTestId('deliveries-chart');
    expect(await chart.locator('rect.bar-succeeded').count()).toBeGreaterThanOrEqual(1);
    expect(await chart.locator('rect.bar-failed').count()).toBe(0);
    const heights = await chart
      .locator('rect.bar-succeeded')
      .evaluateAll((rs) => rs.map((r) => Number(r.getAttribute('height'))));
    expect(heights.reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
    expect(await chart.locator('figcaption').textContent()).toContain('each bar 30 min');
    expect(await chart.locator('svg').getAttribute('aria-label')).toBe('Deliveries over time: 3 succeeded');
    expect(await page.getByTestId('latency-chart').locator('path.line-p50').getAttribute('d')).toMatch(
      /^M[\d.]+,[\d.]+/,
    );
    // Statuses apart from HTTP codes.
    expect(await page.getByTestId('stats-by-status').innerText()).toMatch(
      /pending\s+0\s+retrying\s+0\s+succeeded\s+3\s+failed\s+0\s+skipped\s+0/,
    );
    expect(await page.getByTestId('stats-by-code').innerText()).toMatch(/^2xx\s+200 × 3$/);
    expect(await page.getByTestId('stats-by-status').innerText()).not.toContain('200');
    // Another window asks the API for it, and the bars widen.
    const asked = page.waitForRequest((r) => r.url().includes('/stats?'));
    await page.getByLabel('Window', { exact: true }).selectOption('7d');
    const since = new URL((await asked).url()).searchParams.get('since')!;
    expect(Math.abs(Date.now() - 7 * 86_400_000 - Date.parse(since))).toBeLessThan(60_000);
    await expect.poll(() => chart.locator('figcaption').textContent(), WAIT).toContain('each bar 3 h');
    await page.getByLabel('Window', { exact: true }).selectOption('24h');
    await expect.poll(() => chart.locator('figcaption').textContent(), WAIT).toContain('each bar 30 min');

    // A day with an incident: the chart shows it where it happened, and the list says so.
    await onEndpoint(page, c.shipping!);
    await expect.poll(() => page.getByTestId('stat-total').textContent(), WAIT).toBe('235');
    const failedAt = await page
      .getByTestId('deliveries-chart')
      .locator('g', { has: page.locator('rect.bar-failed') })
      .evaluateAll((gs) => gs.map((g) => Date.parse(g.getAttribute('data-at')!)));
    expect(failedAt.length).toBeGreaterThanOrEqual(2);
    for (const at of failedAt) expect((Date.now() - at) / 3_600_000).toBeGreaterThan(7.4);
    expect(await page.getByTestId('stat-last-failure').textContent()).toMatch(
      /\(8 h ago\), HTTP 503; no retry left\.$/,
    );
    await shot(page, 'endpoint', true);

    await onEndpoint(page, c.failing!);
    await expect.poll(() => page.getByTestId('deliveries-chart').locator('rect.bar-failed').count(), WAIT).toBe(1);
    expect(await page.getByTestId('stat-last-failure').textContent()).toMatch(/connection refused; no retry left\.$/);
    expect(await page.getByTestId('latency-chart').textContent()).toContain('No successful delivery in this window.');
    await context.close();
  });

  it('fits 390 px without scrolling sideways, on every screen', async () => {
    if (!(await ready())) return;
    const { context, page } = await open(await link(), { width: 390, height: 844 });
    const screens: [string, () => Promise<void>, string?][] = [
      ['endpoints', () => page.getByTestId('health').first().waitFor(), 'endpoints-390'],
      [`endpoints/${c.failing}`, () => page.getByTestId('deliveries-chart').waitFor()],
      [`endpoints/${c.shipping}`, () => page.getByTestId('deliveries-chart').waitFor(), 'endpoint-390'],
      [
        `endpoints/${c.failing}/deliveries/${c.lost}`,
        () => page.getByTestId('request-headers').waitFor(),
        'delivery-390',
      ],
      ['endpoints/new', () => page.getByLabel('URL').waitFor()],
      [`endpoints/${c.failing}/edit`, () => page.getByLabel('URL').waitFor()],
      ['catalog', () => page.getByText('order.created').first().waitFor()],
    ];
    for (const [route, ready_, name] of screens) {
      await page.goto(`${system.target.apiUrl}/portal#/${route}`);
      await ready_();
      await page.waitForTimeout(300);
      expect(await scrollWidth(page), `#/${route} at 390 px`).toBeLessThanOrEqual(390);
      if (name === 'endpoint-390') await page.locator('#stats-title').evaluate((h) => h.scrollIntoView());
      if (name) await shot(page, name, name === 'delivery-390');
    }
    await context.close();
    const refused = await open(`${system.target.apiUrl}/portal#token=hrp_${'x'.repeat(43)}`, { width: 390 });
    await refused.page.getByTestId('refused-help').waitFor();
    expect(await scrollWidth(refused.page)).toBeLessThanOrEqual(390);
    await refused.context.close();
  });

  it('has a favicon: the page links one, /favicon.ico answers an icon without a key, and loading logs no error', async () => {
    if (!(await ready())) return;
    const ico = await fetch(`${system.target.apiUrl}/favicon.ico`);
    expect(ico.status).toBe(200);
    expect(ico.headers.get('content-type')).toBe('image/x-icon');
    const bytes = Buffer.from(await ico.arrayBuffer());
    expect([...bytes.subarray(0, 8)]).toEqual([0, 0, 1, 0, 1, 0, 32, 32]); // an icon, one image, 32 x 32
    expect((await fetch(`${system.target.apiUrl}/favicon.ico`, { method: 'HEAD' })).status).toBe(200);
    const { context, page, errors } = await open(await link());
    await page.getByTestId('health').first().waitFor();
    const icon = await page.locator('link[rel="icon"]').getAttribute('href');
    const svg = await page.evaluate(async (href) => {
      const r = await fetch(href);
      return { status: r.status, type: r.headers.get('content-type'), text: await r.text() };
    }, icon!);
    expect(svg).toMatchObject({ status: 200, type: 'image/svg+xml' });
    expect(svg.text).toMatch(/^<svg /);
    await page.reload();
    await page.getByTestId('health').first().waitFor();
    expect(errors).toEqual([]);
    await context.close();
  });
  it('reads times entered as UTC and says so, whatever the browser’s zone', async () => {
    if (!(await ready())) return;
    const { context, page } = await open(await link(), { timezoneId: 'America/Los_Angeles' });
    expect(await page.evaluate(`new Date('2026-12-01T09:30').getTimezoneOffset()`)).not.toBe(0);
    await onEndpoint(page, c.failing!);
    expect(await page.getByTestId('access').textContent()).toContain('all times UTC');
    const recovered = page.waitForRequest((r) => r.url().endsWith('/recover') && r.method() === 'POST');
    await page.getByLabel('Since (UTC)').fill('2026-12-01T09:30');
    await page.getByRole('button', { name: 'Recover' }).click();
    expect(JSON.parse((await recovered).postData()!)).toEqual({ since: '2026-12-01T09:30:00.000Z' });
    await page.getByText(/sent again, of events since 2026-12-01 09:30:00 UTC/).waitFor();
    expect(await page.locator('#recover-help').textContent()).toContain('in UTC');

    const listed = page.waitForRequest((r) => r.url().includes('/deliveries?') && r.url().includes('until='));
    await page.getByLabel('Time window').selectOption('custom');
    await page.getByLabel('Until (UTC)').fill('2026-12-02T18:00');
    expect(new URL((await listed).url()).searchParams.get('until')).toBe('2026-12-02T18:00:00.000Z');
    await context.close();
  });
});
