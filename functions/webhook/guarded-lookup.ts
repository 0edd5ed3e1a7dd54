/**
 * The connect-time half of the destination guard (the registration-time half is the pure
 * `webhook/destination-guard.ts`). Every outbound webhook connection goes through
 * {@link createGuardedAgent}: the host is checked again, the name is resolved, and EVERY resolved
 * address is classified before a socket is opened; the socket then connects to exactly the
 * addresses that were checked. That defeats DNS rebinding (a name that was public at registration
 * and resolves to 127.0.0.1 at delivery) with no window between check and use.
 *
 * @example
 * const agent = createGuardedAgent({ allowPrivate: config.allowPrivateTargets });
 * const req = http.request(url, { method: 'POST', agent: agent.for(url) });
 * req.on('error', (err) => {
 *   const forbidden = findForbiddenDestinationError(err); // a permanent failure, with .range
 * });
 */
import { promises as dnsPromises } from 'node:dns';
import type { LookupAddress, LookupOptions } from 'node:dns';
import { Agent as HttpAgent, type AgentOptions as HttpAgentOptions, type ClientRequestArgs } from 'node:http';
import { Agent as HttpsAgent, type AgentOptions as HttpsAgentOptions } from 'node:https';
import type { LookupFunction } from 'node:net';
import type { Duplex } from 'node:stream';
import {
  ForbiddenDestinationError,
  checkAddress,
  checkHost,
  isAllowedPort,
  portReason,
  type GuardOptions,
} from './destination-guard';

export { ForbiddenDestinationError, findForbiddenDestinationError } from './destination-guard';

/** Resolves a host name to all of its addresses (the system resolver by default; a stub in tests). */
export type Resolver = (hostname: string) => Promise<readonly LookupAddress[]>;

export interface GuardedLookupOptions extends GuardOptions {
  resolver?: Resolver;
}

const systemResolver: Resolver = (hostname) => dnsPromises.lookup(hostname, { all: true });

/**
 * Resolves `hostname` and checks every address; rejects with {@link ForbiddenDestinationError} if
 * the name or ANY address is forbidden (one bad address is enough: the connection could pick it).
 * IP literals are checked without resolving. Resolver errors (e.g. `ENOTFOUND`) pass through.
 * Usable at registration too, to refuse names that already resolve to private addresses.
 */
export async function resolveAllowedAddresses(hostname: string, opts: GuardedLookupOptions): Promise<LookupAddress[]> {
  const verdict = checkHost(hostname, opts);
  if (!verdict.ok)
    throw new ForbiddenDestinationError({ host: hostname, range: verdict.range, message: verdict.reason });
  const host = verdict.host;
  if (verdict.kind === 'ipv6') return [{ address: host, family: 6 }];
  if (verdict.kind === 'ipv4') return [{ address: host, family: 4 }];

  const addresses = [...(await (opts.resolver ?? systemResolver)(host))];
  if (addresses.length === 0) {
    throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND', hostname: host });
  }
  for (const { address } of addresses) {
    const check = checkAddress(address, opts);
    if (!check.ok) throw new ForbiddenDestinationError({ host, address, range: check.range });
  }
  return addresses;
}

type LookupCallback = Parameters<LookupFunction>[2];

/**
 * A `dns.lookup`-compatible function for `net.connect({ lookup })` (and so for an http.Agent's
 * `lookup` option) that only ever answers with checked addresses. It honours `options.family` (4 or 6) and
 * `options.all` (which Node uses for happy-eyeballs `autoSelectFamily`).
 */
export function createGuardedLookup(opts: GuardedLookupOptions): LookupFunction {
  const lookup = (
    hostname: string,
    options: LookupOptions | number | LookupCallback,
    maybeCallback?: LookupCallback,
  ): void => {
    // dns.lookup's own overloads: (host, cb), (host, family, cb), (host, options, cb).
    const callback = (typeof options === 'function' ? options : maybeCallback) as LookupCallback;
    const lookupOptions: LookupOptions = typeof options === 'object' && options !== null ? options : {};
    const family = typeof options === 'number' ? options : familyNumber(lookupOptions.family);

    resolveAllowedAddresses(hostname, opts).then(
      (all) => {
        const addresses = family === 0 ? all : all.filter((a) => a.family === family);
        const first = addresses[0];
        if (first === undefined) {
          const err = Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND', hostname });
          callback(err, '');
        } else if (lookupOptions.all === true) {
          callback(null, addresses);
        } else {
          callback(null, first.address, first.family);
        }
      },
      (err: unknown) => callback(err instanceof Error ? err : new Error(String(err)), ''),
    );
  };
  return lookup as LookupFunction;
}

function familyNumber(family: LookupOptions['family']): number {
  if (family === 4 || family === 'IPv4') return 4;
  if (family === 6 || family === 'IPv6') return 6;
  return 0;
}

/**
 * The connect-time check of a destination's port and host: the port must be allowed, and the host
 * (a name, or an IP literal in any spelling) must pass the guard. Needed as well as the lookup
 * because Node never calls `lookup` for an IP literal: `http://127.0.0.1/` connects directly.
 */
export function refuseConnection(
  host: string,
  port: number,
  opts: GuardOptions,
): ForbiddenDestinationError | undefined {
  if (!isAllowedPort(port)) return new ForbiddenDestinationError({ host, range: 'port', message: portReason(port) });
  const verdict = checkHost(host, opts);
  if (!verdict.ok) return new ForbiddenDestinationError({ host, range: verdict.range, message: verdict.reason });
  return undefined;
}

export interface GuardedAgentOptions extends GuardedLookupOptions {
  /** How long an idle keep-alive socket is kept (default 4 s; a server's `Keep-Alive: timeout` hint shortens it). */
  keepAliveTimeoutMs?: number;
  /** Maximum sockets per origin (default unlimited). */
  connections?: number;
}

type Callback = (err: Error | null, stream: Duplex) => void;

/**
 * Refuses a new connection whose host or port the guard forbids: calls back (asynchronously, as
 * the Agent expects) with the {@link ForbiddenDestinationError} and returns true. The request then
 * fails with that error, before any socket is opened.
 */
function refused(
  options: ClientRequestArgs,
  defaultPort: number,
  guard: GuardOptions,
  callback: Callback | undefined,
): boolean {
  const host = (options.hostname ?? options.host ?? 'localhost').replace(/^\[(.*)\]$/, '$1');
  const port =
    options.port === undefined || options.port === null || options.port === '' ? defaultPort : Number(options.port);
  const refusal = refuseConnection(host, port, guard);
  if (refusal === undefined) return false;
  process.nextTick(() => callback?.(refusal, undefined as unknown as Duplex));
  return true;
}

/** An http.Agent whose every new connection is checked; names resolve through the guarded lookup. */
class GuardedHttpAgent extends HttpAgent {
  constructor(
    options: HttpAgentOptions,
    private readonly guard: GuardOptions,
  ) {
    super(options);
  }

  override createConnection(options: ClientRequestArgs, callback?: Callback): Duplex | null | undefined {
    return refused(options, 80, this.guard, callback) ? undefined : super.createConnection(options, callback);
  }
}

/** The same for https: (`lookup` reaches tls.connect through the Agent's options). */
class GuardedHttpsAgent extends HttpsAgent {
  constructor(
    options: HttpsAgentOptions,
    private readonly guard: GuardOptions,
  ) {
    super(options);
  }

  override createConnection(options: ClientRequestArgs, callback?: Callback): Duplex | null | undefined {
    return refused(options, 443, this.guard, callback) ? undefined : super.createConnection(options, callback);
  }
}

/**
 * The connection pools for outbound webhooks, one for `http:` and one for `https:`: keep-alive,
 * and every connection guarded: its host and port, then every address its name resolves to. Node's `http.request` never follows
 * redirects, so a 3xx reaches the caller as it is and counts as a failure.
 *
 * @example
 * const agent = createGuardedAgent({ allowPrivate: false, keepAliveTimeoutMs: 30_000 });
 * http.request(url, { method: 'POST', agent: agent.for(url) }, onResponse);
 */
export class GuardedAgent {
  readonly http: HttpAgent;
  readonly https: HttpsAgent;

  constructor(opts: GuardedAgentOptions) {
    const common = {
      keepAlive: true,
      // Idle sockets are closed after this; the Agent applies the server's Keep-Alive hint too.
      timeout: opts.keepAliveTimeoutMs ?? 4_000,
      lookup: createGuardedLookup(opts),
      ...(opts.connections !== undefined ? { maxSockets: opts.connections } : {}),
    };
    this.http = new GuardedHttpAgent(common, opts);
    this.https = new GuardedHttpsAgent(common, opts);
  }

  /** The pool for a URL's scheme. */
  for(url: URL): HttpAgent {
    return url.protocol === 'https:' ? this.https : this.http;
  }

  /** Closes every pooled socket. */
  destroy(): void {
    this.http.destroy();
    this.https.destroy();
  }
}

export function createGuardedAgent(opts: GuardedAgentOptions): GuardedAgent {
  return new GuardedAgent(opts);
}
