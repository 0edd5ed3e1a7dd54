/**
 * `hookrelay endpoints list|show|create|update|enable|disable|delete|held|skip`: an app's endpoints, with
 * the request options a receiver needs (signature scheme, a chosen secret, custom headers, auth).
 * Values that are secrets can come from a file (`@path`), so they stay out of shell history and
 * the process list.
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { apiClient, type EndpointChange, type EndpointCreate } from '../api';
import { resolveApi } from '../context';
import { OperationError, UsageError } from '../io';
import { missingSubcommand, type Runtime } from '../runtime';

/** A value, or the contents of a file given as `@path` (one trailing newline dropped). */
function valueOf(flag: string, text: string): string {
  if (!text.startsWith('@')) return text;
  try {
    return readFileSync(text.slice(1), 'utf8').replace(/\r?\n$/, '');
  } catch (err) {
    throw new UsageError(
      `${flag} ${text}: cannot read the file (${(err as NodeJS.ErrnoException).code ?? String(err)})`,
    );
  }
}

function jsonOf(flag: string, text: string): unknown {
  try {
    return JSON.parse(valueOf(flag, text));
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new UsageError(`${flag} is not valid JSON: ${(err as Error).message}`);
  }
}

/** `--header 'Name: value'`, repeatable. */
function collectHeader(text: string, previous: Record<string, string> = {}): Record<string, string> {
  const colon = text.indexOf(':');
  if (colon < 1) throw new UsageError(`--header "${text}": expected "Name: value"`);
  return { ...previous, [text.slice(0, colon).trim()]: valueOf('--header', text.slice(colon + 1).trim()) };
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

interface OptionFlags {
  url?: string;
  eventType?: string[];
  description?: string;
  enabled?: boolean;
  signature?: string;
  signatureHeader?: string;
  signaturePrefix?: string;
  secret?: string;
  header?: Record<string, string>;
  headers?: string | false;
  auth?: string | false;
  rateLimit?: string;
  ordering?: string;
}

/** `--rate-limit 5` (requests a second) or `--rate-limit none` (update: remove it). */
function rateLimitOf(value: string): EndpointChange['rateLimit'] {
  if (value === 'none') return null;
  const perSecond = Number(value);
  if (value.trim() === '' || !Number.isFinite(perSecond))
    throw new UsageError(`--rate-limit must be a number of requests a second (0.1 to 1000) or none, got ${value}`);
  return { perSecond };
}

/**
 * The request body the flags describe (only what was given). JSON given by flags goes as it is:
 * the API validates it and its 422 names what is wrong.
 */
function bodyOf(o: OptionFlags): EndpointChange {
  const body: EndpointChange = {};
  if (o.url !== undefined) body.url = o.url;
  if (o.eventType !== undefined) body.eventTypes = o.eventType;
  if (o.description !== undefined) body.description = o.description;
  if (o.enabled !== undefined) body.enabled = o.enabled;
  if (o.signature !== undefined) {
    body.signature = {
      scheme: o.signature,
      ...(o.signatureHeader === undefined ? {} : { header: o.signatureHeader }),
      ...(o.signaturePrefix === undefined ? {} : { prefix: o.signaturePrefix }),
    } as EndpointChange['signature'];
  } else if (o.signatureHeader !== undefined || o.signaturePrefix !== undefined) {
    throw new UsageError('--signature-header and --signature-prefix go with --signature hmac-sha256');
  }
  if (o.secret !== undefined) body.secret = valueOf('--secret', o.secret);
  if (o.headers === false) body.headers = null;
  else if (o.headers !== undefined || o.header !== undefined)
    body.headers = {
      ...((o.headers === undefined ? {} : jsonOf('--headers', o.headers)) as Record<string, string>),
      ...o.header,
    };
  if (o.auth === false) body.auth = null;
  else if (o.auth !== undefined) body.auth = jsonOf('--auth', o.auth) as EndpointChange['auth'];
  if (o.rateLimit !== undefined) body.rateLimit = rateLimitOf(o.rateLimit);
  // Checked by the API (its 400 names the field), like every other value here.
  if (o.ordering !== undefined) body.ordering = o.ordering as EndpointChange['ordering'];
  return body;
}

function optionFlags(cmd: Command, update: boolean): Command {
  cmd
    .option('--event-type <type>', 'an event type it receives (repeat for more; none = every type)', collect)
    .option('--description <text>', 'a description for people')
    .option(
      '--signature <scheme>',
      'standard-webhooks (default), hmac-sha256 (X-Hub-Signature-256: sha256=<hex>), or standard-webhooks-v1a (ed25519)',
    )
    .option('--signature-header <name>', 'hmac-sha256: the header that carries it (default X-Hub-Signature-256)')
    .option('--signature-prefix <text>', 'hmac-sha256: what comes before the hex (default sha256=)')
    .option(
      '--secret <secret>',
      update
        ? 'a new signing secret of your choice, 16-256 printable characters, or @file; the old one signs beside it for 24 h'
        : 'a signing secret of your choice, 16-256 printable characters, or @file (default: one is generated)',
    )
    .option(
      '--header <name: value>',
      'a custom header sent with every webhook (repeat; the value may be @file)',
      collectHeader,
    )
    .option('--headers <json>', 'custom headers as a JSON object, or @file.json')
    .option(
      '--rate-limit <perSecond>',
      'at most this many POSTs a second, 0.1 to 1000 (first attempts and retries together); none removes it',
    )
    .option(
      '--ordering <mode>',
      'strict: the events that share an ordering key arrive one at a time, in accept order; none (the default): no order',
    )
    .option(
      '--auth <json>',
      'auth as JSON or @file.json: {"type":"basic","username","password"}, {"type":"bearer","token"}, or ' +
        '{"type":"oauth2-client-credentials","tokenUrl","clientId","clientSecret","scope"?,"audience"?}',
    );
  if (update) {
    cmd
      .option('--url <url>', 'a new URL')
      .option('--enable', 'enable it (clears why it was disabled)')
      .option('--disable', 'disable it: deliveries to it are skipped')
      .option('--no-headers', 'remove every custom header')
      .option('--no-auth', 'remove its auth');
  } else {
    cmd.option('--disabled', 'create it disabled');
  }
  return cmd;
}

export function registerEndpoints(program: Command, rt: Runtime): void {
  const endpoints = program.command('endpoints').description("register and change an app's endpoints through the API");
  missingSubcommand(endpoints);

  optionFlags(
    endpoints
      .command('create')
      .summary('register an endpoint and print it with the key to verify its webhooks by')
      .description(
        'register an endpoint (POST /v1/apps/{appId}/endpoints) and print it, with the key its receiver ' +
          'verifies webhooks with (the secret, or for standard-webhooks-v1a the whpk_ public key)',
      )
      .requiredOption('--app <appId>', 'the app the endpoint belongs to')
      .requiredOption('--url <url>', 'where webhooks go'),
    false,
  ).action(async (o: OptionFlags & { app: string; url: string; disabled?: boolean }, cmd: Command) => {
    const g = rt.globals(cmd);
    const body = bodyOf({ ...o, ...(o.disabled ? { enabled: false } : {}) });
    const api = apiClient(resolveApi(g.opts, rt.io));
    // bodyOf gives null (a removal) only for --no-headers and --no-auth, which create lacks.
    const created = await api.createEndpoint(o.app, { ...body, url: o.url } as EndpointCreate);
    const { key } = await api.endpointKey(o.app, created.id);
    print(rt, g.opts.json === true, { ...created, verifyWith: key });
  });

  optionFlags(
    endpoints
      .command('update')
      .summary("change an endpoint's options; they apply from its next attempt")
      .description(
        'change an endpoint (PATCH /v1/apps/{appId}/endpoints/{endpointId}); a new scheme, secret, headers or ' +
          'auth apply from the next attempt',
      )
      .requiredOption('--app <appId>', 'the app the endpoint belongs to')
      .requiredOption('--endpoint <endpointId>', 'the endpoint'),
    true,
  ).action(async (o: OptionFlags & { app: string; endpoint: string; enable?: boolean; disable?: boolean }, cmd) => {
    const g = rt.globals(cmd);
    if (o.enable && o.disable) throw new UsageError('--enable and --disable exclude each other');
    // --headers <json> is defined before --no-headers (and --auth before --no-auth), so commander
    // leaves them undefined unless given: false only for an explicit --no-headers / --no-auth.
    const flags: OptionFlags = { ...o };
    if (o.enable) flags.enabled = true;
    if (o.disable) flags.enabled = false;
    const body = bodyOf(flags);
    if (Object.keys(body).length === 0) throw new UsageError('nothing to change: give at least one option');
    const api = apiClient(resolveApi(g.opts, rt.io));
    const updated = await api.updateEndpoint(o.app, o.endpoint, body);
    const { key } = await api.endpointKey(o.app, o.endpoint);
    print(rt, g.opts.json === true, { ...updated, verifyWith: key });
  });

  endpoints
    .command('show')
    .summary('print an endpoint (its secrets only as set)')
    .requiredOption('--app <appId>', 'the app the endpoint belongs to')
    .requiredOption('--endpoint <endpointId>', 'the endpoint')
    .action(async (o: { app: string; endpoint: string }, cmd: Command) => {
      const g = rt.globals(cmd);
      const api = apiClient(resolveApi(g.opts, rt.io));
      const endpoint = await api.getEndpoint(o.app, o.endpoint);
      print(rt, g.opts.json === true, endpoint);
      if (g.opts.json !== true) rt.out.line(throttleLine(endpoint.throttle));
    });

  endpoints
    .command('held')
    .summary("a strict endpoint's held keys: each key whose head failed an attempt and waits")
    .requiredOption('--app <appId>', 'the app the endpoint belongs to')
    .requiredOption('--endpoint <endpointId>', 'the endpoint')
    .action(async (o: { app: string; endpoint: string }, cmd: Command) => {
      const g = rt.globals(cmd);
      const api = apiClient(resolveApi(g.opts, rt.io));
      const { items } = await api.heldKeys(o.app, o.endpoint);
      if (g.opts.json) {
        for (const h of items) rt.out.json(h);
        return;
      }
      if (items.length === 0) rt.out.line(`endpoint ${o.endpoint} holds no key`);
      for (const h of items) {
        const key = h.orderingKey ?? '(events without a key)';
        rt.out.line(
          `${key}  held by ${h.eventId}: ${h.attempts} attempt(s), next ${h.nextAttemptAt}` +
            (h.lastError ? `, last: ${h.lastError}` : ''),
        );
      }
    });

  endpoints
    .command('skip')
    .summary('fail the delivery holding a key of a strict endpoint, so the key moves on')
    .description(
      'fail the delivery now holding an ordering key (POST .../ordering/skip): it ends failed ("skipped by ..."), ' +
        'its dead letter goes to the DLQ, and the key goes on with its next event',
    )
    .requiredOption('--app <appId>', 'the app the endpoint belongs to')
    .requiredOption('--endpoint <endpointId>', 'the endpoint')
    .option('--key <orderingKey>', 'the key (default: the events without a key)')
    .action(async (o: { app: string; endpoint: string; key?: string }, cmd: Command) => {
      const g = rt.globals(cmd);
      const api = apiClient(resolveApi(g.opts, rt.io));
      const skipped = await api.skipKey(o.app, o.endpoint, o.key ?? null);
      if (g.opts.json) rt.out.json(skipped);
      else rt.out.line(`skipped ${skipped.eventId}: ${o.key ?? 'the events without a key'} moves on`);
    });

  endpoints
    .command('list')
    .summary("list an app's endpoints: id, enabled, url, event types")
    .requiredOption('--app <appId>', 'the app')
    .action(async (o: { app: string }, cmd: Command) => {
      const g = rt.globals(cmd);
      const api = apiClient(resolveApi(g.opts, rt.io));
      const all = [];
      let cursor: string | undefined;
      do {
        const page = await api.listEndpoints(o.app, cursor);
        all.push(...page.items);
        cursor = page.nextCursor ?? undefined;
      } while (cursor);
      if (g.opts.json) {
        for (const e of all) rt.out.json(e);
        return;
      }
      if (all.length === 0) {
        rt.out.line(`app ${o.app} has no endpoints`);
        return;
      }
      for (const e of all) {
        const types = e.eventTypes.length > 0 ? e.eventTypes.join(',') : 'every type';
        const state = e.enabled ? 'enabled ' : 'disabled';
        rt.out.line(`${e.id}  ${state}  ${e.url}  (${types})`);
      }
    });

  for (const [name, enabled] of [
    ['enable', true],
    ['disable', false],
  ] as const) {
    endpoints
      .command(name)
      .summary(
        enabled
          ? 'enable an endpoint (clears why it was disabled)'
          : 'disable an endpoint: its deliveries are skipped until it is enabled',
      )
      .requiredOption('--app <appId>', 'the app the endpoint belongs to')
      .requiredOption('--endpoint <endpointId>', 'the endpoint')
      .action(async (o: { app: string; endpoint: string }, cmd: Command) => {
        const g = rt.globals(cmd);
        const api = apiClient(resolveApi(g.opts, rt.io));
        print(rt, g.opts.json === true, await api.updateEndpoint(o.app, o.endpoint, { enabled }));
      });
  }

  endpoints
    .command('delete')
    .summary('delete an endpoint: it gets no more webhooks')
    .requiredOption('--app <appId>', 'the app the endpoint belongs to')
    .requiredOption('--endpoint <endpointId>', 'the endpoint')
    .option('--yes', 'do not ask for confirmation')
    .action(async (o: { app: string; endpoint: string; yes?: boolean }, cmd: Command) => {
      const g = rt.globals(cmd);
      const api = apiClient(resolveApi(g.opts, rt.io));
      if (!(await rt.confirm(`Delete endpoint ${o.endpoint} of app ${o.app}?`, o.yes)))
        throw new OperationError('not deleted: the confirmation was declined');
      await api.deleteEndpoint(o.app, o.endpoint);
      if (g.opts.json) rt.out.json({ deleted: o.endpoint });
      else rt.out.line(`deleted endpoint ${o.endpoint}`);
    });
}

/** Flow control's state in one line: `flow: paused until ... (5 failed attempts in a row ...)`. */
export function throttleLine(t: { state: string; perSecond?: number; until?: string; reason?: string }): string {
  const parts = [`flow: ${t.state}`];
  if (t.perSecond !== undefined) parts.push(`at ${t.perSecond}/s`);
  if (t.until !== undefined) parts.push(t.state === 'paused' ? `next probe ${t.until}` : `holding until ${t.until}`);
  if (t.reason !== undefined) parts.push(`(${t.reason})`);
  return parts.join(' ');
}

function print(rt: Runtime, json: boolean, value: unknown): void {
  if (json) rt.out.json(value);
  else rt.out.line(JSON.stringify(value, null, 2));
}
