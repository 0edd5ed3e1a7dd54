import type { LookupAddress } from 'node:dns';
import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  ForbiddenDestinationError,
  createGuardedAgent,
  createGuardedLookup,
  findForbiddenDestinationError,
  type GuardedAgent,
  type Resolver,
} from '../../functions/webhook/guarded-lookup';
import { HttpSender } from '../../functions/webhook/http-sender';
import { checkDestinationUrl } from '../../functions/webhook/destination-guard';

/** A receiver on 127.0.0.1 that records what reaches it. */
interface Receiver {
  server: Server;
  port: number;
  requests: Array<{ method: string; url: string; body: string }>;
  connections: number;
}

async function startReceiver(): Promise<Receiver> {
  const receiver: Receiver = { server: undefined as unknown as Server, port: 0, requests: [], connections: 0 };
  receiver.server = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      receiver.requests.push({ method: req.method ?? '', url: req.url ?? '', body: Buffer.concat(chunks).toString() });
      if (req.url === '/redirect') {
        res.writeHead(302, { location: '/elsewhere' }).end();
      } else if (req.url === '/long') {
        res.writeHead(200, { 'content-type': 'text/plain' }).end(`ok${'x'.repeat(100_000)}`);
      } else if (req.url === '/silent') {
        // never answers: the agent's timeout must fire
      } else {
        res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
      }
    });
  });
  receiver.server.on('connection', () => {
    receiver.connections++;
  });
  await new Promise<void>((resolve) => receiver.server.listen(0, '127.0.0.1', resolve));
  receiver.port = (receiver.server.address() as AddressInfo).port;
  return receiver;
}

/** A stub resolver: a fixed table of names, recording every question. */
function stubResolver(table: Record<string, LookupAddress[]>): Resolver & { calls: string[] } {
  const calls: string[] = [];
  const resolver = async (hostname: string): Promise<LookupAddress[]> => {
    calls.push(hostname);
    const answer = table[hostname];
    if (answer === undefined)
      throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
    return answer;
  };
  return Object.assign(resolver, { calls });
}

const LOOPBACK: LookupAddress = { address: '127.0.0.1', family: 4 };
const PUBLIC: LookupAddress = { address: '93.184.215.14', family: 4 };

/** One request through the agent, as the sender makes it: resolves with the whole answer. */
function request(
  url: string,
  opts: { agent: GuardedAgent; method?: string; body?: string },
): Promise<{ statusCode: number; body: string }> {
  const target = new URL(url);
  return new Promise((resolve, reject) => {
    const req = (target.protocol === 'https:' ? httpsRequest : httpRequest)(
      target,
      { method: opts.method ?? 'GET', agent: opts.agent.for(target) },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ statusCode: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('expected the request to be refused, but it succeeded');
}

describe('createGuardedAgent', () => {
  let receiver: Receiver;
  const agents: GuardedAgent[] = [];
  const agent = (...args: Parameters<typeof createGuardedAgent>): GuardedAgent => {
    const a = createGuardedAgent(...args);
    agents.push(a);
    return a;
  };

  beforeAll(async () => {
    receiver = await startReceiver();
  });
  afterEach(async () => {
    for (const a of agents.splice(0)) a.destroy();
    receiver.requests.length = 0;
    receiver.connections = 0;
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => receiver.server.close(() => resolve()));
  });

  it('refuses a name that resolves to 127.0.0.1 when private targets are not allowed', async () => {
    const resolver = stubResolver({ 'hooks.example.com': [LOOPBACK] });
    const pool = agent({ allowPrivate: false, resolver });

    const err = await rejection(
      request(`http://hooks.example.com:${receiver.port}/hook`, { method: 'POST', body: '{}', agent: pool }),
    );

    expect(err).toBeInstanceOf(ForbiddenDestinationError);
    expect(err).toMatchObject({
      host: 'hooks.example.com',
      address: '127.0.0.1',
      range: 'loopback',
      code: 'ERR_FORBIDDEN_DESTINATION',
    });
    expect(resolver.calls).toEqual(['hooks.example.com']);
    expect(receiver.connections).toBe(0);
  });

  it('delivers to the same name when private targets are allowed', async () => {
    const resolver = stubResolver({ 'hooks.example.com': [LOOPBACK] });
    const pool = agent({ allowPrivate: true, resolver });

    const res = await request(`http://hooks.example.com:${receiver.port}/hook`, {
      method: 'POST',
      body: '{"a":1}',
      agent: pool,
    });

    expect(res.statusCode).toBe(200);
    expect(res.body).toBe('ok');
    expect(receiver.requests).toEqual([{ method: 'POST', url: '/hook', body: '{"a":1}' }]);
  });

  it.each([
    ['public first', [PUBLIC, LOOPBACK]],
    ['loopback first', [LOOPBACK, PUBLIC]],
    ['IPv6 loopback among public', [PUBLIC, { address: '2606:4700::1111', family: 6 }, { address: '::1', family: 6 }]],
    ['IPv4-mapped loopback', [{ address: '::ffff:7f00:1', family: 6 }]],
  ] as Array<[string, LookupAddress[]]>)(
    'refuses a name with any forbidden address among its answers (%s)',
    async (_case, answers) => {
      const resolver = stubResolver({ 'mixed.example.com': answers });
      const pool = agent({ allowPrivate: false, resolver });

      const err = await rejection(request(`http://mixed.example.com:${receiver.port}/`, { agent: pool }));

      expect(err).toBeInstanceOf(ForbiddenDestinationError);
      expect((err as ForbiddenDestinationError).range).toContain('loopback');
      expect(receiver.connections).toBe(0);
    },
  );

  it('guards https connections too (the lookup is handed to tls.connect)', async () => {
    const resolver = stubResolver({ 'secure.example.com': [LOOPBACK] });
    const pool = agent({ allowPrivate: false, resolver });

    const err = await rejection(
      request(`https://secure.example.com:${receiver.port}/hook`, { method: 'POST', body: '{}', agent: pool }),
    );

    expect(err).toMatchObject({ name: 'ForbiddenDestinationError', host: 'secure.example.com', range: 'loopback' });
    expect(resolver.calls).toEqual(['secure.example.com']);
    expect(receiver.connections).toBe(0);
  });

  it('refuses at delivery a name that passed registration and now rebinds to loopback', async () => {
    const url = `http://rebind.example.com:${receiver.port}/hook`;
    expect(checkDestinationUrl(url, { allowPrivate: false }).ok).toBe(true);
    const resolver = stubResolver({ 'rebind.example.com': [LOOPBACK] });
    const pool = agent({ allowPrivate: false, resolver });

    const err = await rejection(request(url, { method: 'POST', body: '{}', agent: pool }));

    expect(err).toMatchObject({ name: 'ForbiddenDestinationError', address: '127.0.0.1' });
    expect(receiver.requests).toHaveLength(0);
  });

  it.each([
    ['IPv4 literal', (port: number) => `http://127.0.0.1:${port}/`],
    ['IPv6 literal', (port: number) => `http://[::1]:${port}/`],
    ['IPv4-mapped literal', (port: number) => `http://[::ffff:127.0.0.1]:${port}/`],
  ])('refuses an %s without asking the resolver (Node skips lookup for literals)', async (_case, url) => {
    const resolver = stubResolver({});
    const pool = agent({ allowPrivate: false, resolver });

    const err = await rejection(request(url(receiver.port), { agent: pool }));

    expect(err).toBeInstanceOf(ForbiddenDestinationError);
    expect(resolver.calls).toEqual([]);
    expect(receiver.connections).toBe(0);
  });

  it('delivers to an IPv4 literal when private targets are allowed', async () => {
    const pool = agent({ allowPrivate: true, resolver: stubResolver({}) });

    const res = await request(`http://127.0.0.1:${receiver.port}/literal`, { agent: pool });

    expect(res.statusCode).toBe(200);
    expect(receiver.requests.map((r) => r.url)).toEqual(['/literal']);
  });

  it('refuses cloud metadata even when private targets are allowed', async () => {
    const resolver = stubResolver({ 'metadata.example.com': [{ address: '169.254.169.254', family: 4 }] });
    const pool = agent({ allowPrivate: true, resolver });

    const err = await rejection(request('http://metadata.example.com/latest/meta-data/', { agent: pool }));

    expect(err).toMatchObject({ name: 'ForbiddenDestinationError', address: '169.254.169.254' });
    expect((err as ForbiddenDestinationError).range).toContain('cloud metadata');
  });

  it('refuses a bad port at connect time before resolving', async () => {
    const resolver = stubResolver({ 'hooks.example.com': [LOOPBACK] });
    const pool = agent({ allowPrivate: true, resolver });

    const err = await rejection(request('http://hooks.example.com:25/', { agent: pool }));

    expect(err).toMatchObject({ name: 'ForbiddenDestinationError', range: 'port' });
    expect(resolver.calls).toEqual([]);
  });

  it('fails the request with the refusal itself, which the sender reports as a forbidden destination', async () => {
    const resolver = stubResolver({ 'hooks.example.com': [LOOPBACK] });
    const pool = agent({ allowPrivate: false, resolver });
    const url = `http://hooks.example.com:${receiver.port}/`;

    const err = await rejection(request(url, { method: 'POST', body: '{}', agent: pool }));
    const result = await new HttpSender({ excerptBytes: 64, agent: pool }).send(
      { url, headers: {}, body: '{}' },
      5_000,
    );

    expect(findForbiddenDestinationError(err)?.range).toBe('loopback');
    expect(result).toMatchObject({ kind: 'forbidden_destination' });
    expect(receiver.connections).toBe(0);
  });

  it('passes resolver failures through unchanged', async () => {
    const pool = agent({ allowPrivate: false, resolver: stubResolver({}) });

    const err = await rejection(request('http://nowhere.example.com/', { agent: pool }));

    expect(err).toMatchObject({ code: 'ENOTFOUND' });
    expect(findForbiddenDestinationError(err)).toBeUndefined();
  });

  it('never follows a redirect: the 3xx is the response', async () => {
    const pool = agent({ allowPrivate: true, resolver: stubResolver({ 'hooks.example.com': [LOOPBACK] }) });

    const res = await request(`http://hooks.example.com:${receiver.port}/redirect`, {
      method: 'POST',
      body: '{}',
      agent: pool,
    });

    expect(res.statusCode).toBe(302);
    expect(receiver.requests.map((r) => r.url)).toEqual(['/redirect']);
  });

  it('keeps the connection alive between deliveries to the same origin', async () => {
    const resolver = stubResolver({ 'hooks.example.com': [LOOPBACK] });
    // One socket per origin: otherwise the agent may open a second one while the first is still
    // finishing its response, which would hide whether sockets are reused at all.
    const pool = agent({ allowPrivate: true, resolver, connections: 1 });

    for (let i = 0; i < 3; i++) {
      await request(`http://hooks.example.com:${receiver.port}/k${i}`, { agent: pool });
      await new Promise((resolve) => setTimeout(resolve, 50)); // idle, well inside the keep-alive window
    }

    expect(receiver.requests).toHaveLength(3);
    expect(receiver.connections).toBe(1);
    expect(resolver.calls).toHaveLength(1);
  });

  it('gives up on a receiver that does not answer within the attempt timeout', async () => {
    const sender = new HttpSender({
      excerptBytes: 64,
      agent: agent({ allowPrivate: true, resolver: stubResolver({}) }),
    });

    const result = await sender.send({ url: `http://127.0.0.1:${receiver.port}/silent`, headers: {}, body: '{}' }, 300);

    expect(result).toMatchObject({ kind: 'timeout', timeoutMs: 300 });
    expect(receiver.requests.map((r) => r.url)).toEqual(['/silent']);
  });

  it('keeps only the first bytes of a long answer, as the excerpt', async () => {
    const sender = new HttpSender({
      excerptBytes: 2,
      agent: agent({ allowPrivate: true, resolver: stubResolver({}) }),
    });

    const result = await sender.send({ url: `http://127.0.0.1:${receiver.port}/long`, headers: {}, body: '{}' }, 5_000);

    expect(result).toMatchObject({ kind: 'response', statusCode: 200, bodyExcerpt: 'ok' });
  });
});

describe('createGuardedLookup', () => {
  const lookupOnce = (lookup: ReturnType<typeof createGuardedLookup>, host: string, options: object) =>
    new Promise<{ err: NodeJS.ErrnoException | null; address: unknown; family: unknown }>((resolve) => {
      lookup(host, options, (err, address, family) => resolve({ err, address, family }));
    });
  const dual: LookupAddress[] = [PUBLIC, { address: '2606:4700::1111', family: 6 }];

  it('answers with every address when asked for all, as happy eyeballs does', async () => {
    const lookup = createGuardedLookup({ allowPrivate: false, resolver: stubResolver({ 'dual.example.com': dual }) });
    expect(await lookupOnce(lookup, 'dual.example.com', { all: true })).toEqual({
      err: null,
      address: dual,
      family: undefined,
    });
  });

  it('answers with the first address of the asked family otherwise', async () => {
    const lookup = createGuardedLookup({ allowPrivate: false, resolver: stubResolver({ 'dual.example.com': dual }) });
    expect(await lookupOnce(lookup, 'dual.example.com', {})).toEqual({ err: null, address: PUBLIC.address, family: 4 });
    expect(await lookupOnce(lookup, 'dual.example.com', { family: 6 })).toEqual({
      err: null,
      address: '2606:4700::1111',
      family: 6,
    });
  });

  it('reports ENOTFOUND when no address of the asked family exists', async () => {
    const lookup = createGuardedLookup({ allowPrivate: false, resolver: stubResolver({ 'v4.example.com': [PUBLIC] }) });
    const { err } = await lookupOnce(lookup, 'v4.example.com', { family: 6 });
    expect(err).toMatchObject({ code: 'ENOTFOUND' });
  });

  it('refuses internal names without resolving them', async () => {
    const resolver = stubResolver({ localhost: [LOOPBACK] });
    const lookup = createGuardedLookup({ allowPrivate: false, resolver });
    const { err } = await lookupOnce(lookup, 'localhost', { all: true });
    expect(err).toBeInstanceOf(ForbiddenDestinationError);
    expect(resolver.calls).toEqual([]);
  });

  it('uses the system resolver by default', async () => {
    const lookup = createGuardedLookup({ allowPrivate: true });
    const { err, address } = await lookupOnce(lookup, 'localhost', { all: true });
    expect(err).toBeNull();
    expect((address as LookupAddress[]).map((a) => a.address)).toEqual(
      expect.arrayContaining([expect.stringMatching(/^(127\.0\.0\.1|::1)$/)]),
    );
  });
});
