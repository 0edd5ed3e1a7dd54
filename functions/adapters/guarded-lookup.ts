/**
 * The connect-time half of the destination guard (the registration-time half is the pure
 * `core/destination-guard.ts`). Every outbound webhook connection goes through
 * {@link createGuardedAgent}: the host is checked again, the name is resolved, and EVERY resolved
 * address is classified before a socket is opened; the socket then connects to exactly the
 * addresses that were checked. That defeats DNS rebinding (a name that was public at registration
 * and resolves to 127.0.0.1 at delivery) with no window between check and use.
 *
 * @example
 * const agent = createGuardedAgent({ allowPrivate: config.allowPrivateTargets, timeoutMs: 10_000 });
 * try {
 *   await request(endpoint.url, { method: 'POST', body, dispatcher: agent });
 * } catch (err) {
 *   const forbidden = findForbiddenDestinationError(err); // a permanent failure, with .range
 * }
 */
import { promises as dnsPromises } from 'node:dns';
import type { LookupAddress, LookupOptions } from 'node:dns';
import type { LookupFunction } from 'node:net';
import { Agent, buildConnector } from 'undici';
import {
  ForbiddenDestinationError,
  checkAddress,
  checkHost,
  isAllowedPort,
  portReason,
  type GuardOptions,
} from '../core/destination-guard';

export { ForbiddenDestinationError, findForbiddenDestinationError } from '../core/destination-guard';

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
  if (!verdict.ok) throw new ForbiddenDestinationError({ host: hostname, range: verdict.range, message: verdict.reason });
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
 * A `dns.lookup`-compatible function for `net.connect({ lookup })` / undici's `connect.lookup`
 * that only ever answers with checked addresses. It honours `options.family` (4 or 6) and
 * `options.all` (which Node uses for happy-eyeballs `autoSelectFamily`).
 */
export function createGuardedLookup(opts: GuardedLookupOptions): LookupFunction {
  const lookup = (hostname: string, options: LookupOptions | number | LookupCallback, maybeCallback?: LookupCallback): void => {
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

export interface GuardedConnectorOptions extends GuardedLookupOptions {
  /** Give up on a TCP/TLS connect after this long (default 10 s). */
  connectTimeoutMs?: number;
}

/**
 * An undici connector (`Agent({ connect })`) that checks the host and port of every new
 * connection and resolves names through {@link createGuardedLookup}. The host check is needed
 * as well as the lookup because Node never calls `lookup` for an IP literal.
 */
export function createGuardedConnector(opts: GuardedConnectorOptions): buildConnector.connector {
  const base = buildConnector({
    lookup: createGuardedLookup(opts),
    timeout: opts.connectTimeoutMs ?? 10_000,
    keepAlive: true,
    autoSelectFamily: true,
  });
  return (options, callback) => {
    const port = options.port === '' ? (options.protocol === 'https:' ? 443 : 80) : Number(options.port);
    let refusal: ForbiddenDestinationError | undefined;
    if (!isAllowedPort(port)) {
      refusal = new ForbiddenDestinationError({ host: options.hostname, range: 'port', message: portReason(port) });
    } else {
      const verdict = checkHost(options.hostname, opts);
      if (!verdict.ok) refusal = new ForbiddenDestinationError({ host: options.hostname, range: verdict.range, message: verdict.reason });
    }
    if (refusal !== undefined) {
      const err = refusal;
      // Never call back synchronously: undici's client expects the connector to be async.
      process.nextTick(() => callback(err, null));
      return;
    }
    base(options, callback);
  };
}

export interface GuardedAgentOptions extends GuardedConnectorOptions {
  /** Per-attempt limit on waiting for the response headers, and between body chunks. */
  timeoutMs: number;
  /** How long an idle keep-alive socket is kept (default 4 s; servers may ask for less). */
  keepAliveTimeoutMs?: number;
  /** Maximum sockets per origin (default unlimited). */
  connections?: number;
  /** Refuse response bodies larger than this many bytes (default unlimited). */
  maxResponseSize?: number;
}

/**
 * The outbound HTTP agent for webhook delivery: keep-alive, guarded connections, and no
 * redirects (undici 7's `Agent` never follows them; a 3xx is returned to the caller as-is and
 * counts as a failure). Refusals reject the request with {@link ForbiddenDestinationError};
 * through `fetch` it is the `cause` (use `findForbiddenDestinationError`).
 */
export function createGuardedAgent(opts: GuardedAgentOptions): Agent {
  return new Agent({
    connect: createGuardedConnector({
      ...opts,
      connectTimeoutMs: opts.connectTimeoutMs ?? Math.min(opts.timeoutMs, 10_000),
    }),
    headersTimeout: opts.timeoutMs,
    bodyTimeout: opts.timeoutMs,
    keepAliveTimeout: opts.keepAliveTimeoutMs ?? 4_000,
    ...(opts.connections !== undefined ? { connections: opts.connections } : {}),
    ...(opts.maxResponseSize !== undefined ? { maxResponseSize: opts.maxResponseSize } : {}),
  });
}
