/**
 * The destination guard: which URLs hookrelay may POST to. Strangers register endpoint URLs, so a
 * URL is a request to make our network connect somewhere; this module refuses every destination
 * that would reach loopback, private networks, link-local or cloud metadata services (SSRF).
 *
 * Pure computation: no I/O, no DNS, no `node:*` imports, so it runs the same in the API handler,
 * the delivery worker and the tests. Names that *resolve* to forbidden addresses are caught at
 * connect time by `webhook/guarded-lookup.ts`, which classifies every resolved address with
 * {@link checkAddress} from this module. See `docs/security-destinations.md`.
 *
 * Why a hand-written IPv4/IPv6 parser instead of `node:net`'s `BlockList`: `BlockList` only says
 * "matched", not which range (we report the range to the user), it depends on Node's own idea of
 * how IPv4-mapped addresses match IPv4 rules (which changed between versions), and it cannot
 * parse the legacy IPv4 spellings (`0x7f.1`, `2130706433`) that `inet_aton` accepts. The parsers
 * here are small and are property-tested against `BlockList` and WHATWG `URL` as oracles.
 */

/** The longest URL we accept (the common de-facto limit; keeps rows and log lines bounded). */
export const MAX_URL_LENGTH = 2048;

export type DestinationRefusalCode = 'invalid_url' | 'scheme' | 'credentials' | 'private_address' | 'port' | 'hostname';

export type DestinationCheck =
  { ok: true; url: URL; host: string; port: number } | { ok: false; reason: string; code: DestinationRefusalCode };

export interface GuardOptions {
  /** Allow private, loopback and internal destinations (the local stack). Cloud metadata stays refused. */
  allowPrivate: boolean;
}

/**
 * Raised (at connect time) or reported (at registration) when a destination is refused. It lives
 * in the core so that delivery use cases can recognise it without importing an adapter.
 */
export class ForbiddenDestinationError extends Error {
  readonly code = 'ERR_FORBIDDEN_DESTINATION';
  /** The host name or address literal that was asked for. */
  readonly host: string;
  /** The offending resolved address, when the refusal came from an address. */
  readonly address: string | undefined;
  /** The named range (e.g. `loopback`), or the rule (e.g. `hostname`, `port`) that refused it. */
  readonly range: string;

  constructor(details: { host: string; address?: string; range: string; message?: string }) {
    super(
      details.message ??
        (details.address === undefined || details.address === details.host
          ? `destination ${details.host} is forbidden (${details.range})`
          : `destination ${details.host} resolves to ${details.address}, which is forbidden (${details.range})`),
    );
    this.name = 'ForbiddenDestinationError';
    this.host = details.host;
    this.address = details.address;
    this.range = details.range;
  }
}

/**
 * Finds a {@link ForbiddenDestinationError} in an error or its `cause` chain (`fetch` wraps
 * connect errors in `TypeError: fetch failed`).
 */
export function findForbiddenDestinationError(err: unknown): ForbiddenDestinationError | undefined {
  let current: unknown = err;
  for (let depth = 0; depth < 8 && current instanceof Error; depth++) {
    if (current instanceof ForbiddenDestinationError) return current;
    current = current.cause;
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Ports

/**
 * Ports refused on every host: the WHATWG Fetch standard's "bad port" list (the one browsers and
 * undici's `fetch` enforce), which exists to stop HTTP requests being used for cross-protocol
 * attacks on SMTP, IRC, FTP, LDAP and the like. Port 0 is never a valid destination.
 * https://fetch.spec.whatwg.org/#port-blocking
 */
export const BAD_PORTS: ReadonlySet<number> = new Set([
  0, 1, 7, 9, 11, 13, 15, 17, 19, 20, 21, 22, 23, 25, 37, 42, 43, 53, 69, 77, 79, 87, 95, 101, 102, 103, 104, 109, 110,
  111, 113, 115, 117, 119, 123, 135, 137, 139, 143, 161, 179, 389, 427, 465, 512, 513, 514, 515, 526, 530, 531, 532,
  540, 548, 554, 556, 563, 587, 601, 636, 989, 990, 993, 995, 1719, 1720, 1723, 2049, 3659, 4045, 4190, 5060, 5061,
  6000, 6566, 6665, 6666, 6667, 6668, 6669, 6679, 6697, 10080,
]);

/** Why {@link isAllowedPort} refused `port`, for error messages. */
export function portReason(port: number): string {
  return `port ${port} is not allowed (refused: 0 and the Fetch standard's bad ports, e.g. 22, 25, 6667)`;
}

/** `true` when `port` may be used: an integer in 1..65535 that is not on the bad-port list. */
export function isAllowedPort(port: number): boolean {
  return Number.isInteger(port) && port >= 1 && port <= 65_535 && !BAD_PORTS.has(port);
}

// ---------------------------------------------------------------------------------------------
// IPv4

/**
 * Parses every IPv4 spelling that WHATWG `URL` or `inet_aton` accepts and returns the address as
 * an unsigned 32-bit number, or `null` when `host` is not an IPv4 address.
 *
 * 1 to 4 dot-separated parts, each decimal, octal (leading `0`) or hex (`0x`); the last part fills
 * the remaining bytes (`127.1` = 127.0.0.1, `2130706433` = 127.0.0.1); one trailing dot is allowed.
 *
 * @example parseIpv4Loose('0x7f.1') === 0x7f000001
 */
export function parseIpv4Loose(host: string): number | null {
  const parts = host.split('.');
  if (parts.length > 1 && parts[parts.length - 1] === '') parts.pop();
  if (parts.length === 0 || parts.length > 4) return null;
  const numbers: number[] = [];
  for (const part of parts) {
    const n = parseIpv4Part(part);
    if (n === null) return null;
    numbers.push(n);
  }
  const last = numbers.pop() as number;
  if (numbers.some((n) => n > 255)) return null;
  if (last >= 256 ** (4 - numbers.length)) return null;
  let value = last;
  numbers.forEach((n, i) => {
    value += n * 256 ** (3 - i);
  });
  return value;
}

function parseIpv4Part(part: string): number | null {
  if (part === '') return null;
  let digits = part;
  let radix = 10;
  if (/^0[xX]/.test(part)) {
    digits = part.slice(2);
    radix = 16;
    if (digits === '') return 0; // `0x` alone is 0 for both WHATWG and inet_aton
  } else if (part.length > 1 && part.startsWith('0')) {
    digits = part.slice(1);
    radix = 8;
  }
  const pattern = radix === 16 ? /^[0-9a-fA-F]+$/ : radix === 8 ? /^[0-7]+$/ : /^[0-9]+$/;
  if (!pattern.test(digits)) return null;
  // Anything this long is out of range whatever its radix; avoids precision loss below.
  if (digits.replace(/^0+/, '').length > 11) return null;
  const n = parseInt(digits, radix);
  return n <= 0xffffffff ? n : null;
}

/** Dotted-decimal form of an unsigned 32-bit IPv4 number. */
export function formatIpv4(value: number): string {
  return [value >>> 24, (value >>> 16) & 255, (value >>> 8) & 255, value & 255].join('.');
}

/** Whether a host name's last label is a number: WHATWG then parses it as IPv4 or fails. */
function endsInNumber(host: string): boolean {
  const labels = host.split('.');
  if (labels.length > 1 && labels[labels.length - 1] === '') labels.pop();
  const last = labels[labels.length - 1] ?? '';
  return /^[0-9]+$/.test(last) || /^0[xX][0-9a-fA-F]*$/.test(last);
}

interface Range4 {
  base: number;
  bits: number;
  name: string;
  /** Refused even when private targets are allowed. */
  always?: boolean;
}

const v4 = (cidr: string, name: string, always = false): Range4 => {
  const [addr, bits] = cidr.split('/') as [string, string];
  return { base: parseIpv4Loose(addr) as number, bits: Number(bits), name, always };
};

/** Most specific first: the first match names the range. */
const IPV4_RANGES: readonly Range4[] = [
  v4('169.254.169.254/32', 'cloud metadata (AWS, GCP, Azure IMDS)', true),
  v4('169.254.170.2/32', 'cloud metadata (ECS task credentials)', true),
  v4('100.100.100.200/32', 'cloud metadata (Alibaba Cloud)', true),
  v4('168.63.129.16/32', 'cloud metadata (Azure WireServer)', true),
  v4('255.255.255.255/32', 'broadcast'),
  v4('0.0.0.0/8', 'unspecified ("this network")'),
  v4('10.0.0.0/8', 'private (RFC 1918)'),
  v4('100.64.0.0/10', 'carrier-grade NAT (RFC 6598)'),
  v4('127.0.0.0/8', 'loopback'),
  v4('169.254.0.0/16', 'link-local'),
  v4('172.16.0.0/12', 'private (RFC 1918)'),
  v4('192.0.0.0/24', 'IETF protocol assignments'),
  v4('192.0.2.0/24', 'documentation (TEST-NET-1)'),
  v4('192.88.99.0/24', '6to4 relay anycast'),
  v4('192.168.0.0/16', 'private (RFC 1918)'),
  v4('198.18.0.0/15', 'benchmarking'),
  v4('198.51.100.0/24', 'documentation (TEST-NET-2)'),
  v4('203.0.113.0/24', 'documentation (TEST-NET-3)'),
  v4('224.0.0.0/4', 'multicast'),
  v4('240.0.0.0/4', 'reserved'),
];

/** The "range" of a string that is not an address at all: refused, whatever the options. */
const UNPARSEABLE = 'unparseable address';

interface Classification {
  forbidden: boolean;
  range?: string;
  always?: boolean;
}

function classifyIpv4(value: number): Classification {
  for (const r of IPV4_RANGES) {
    const mask = r.bits === 0 ? 0 : (0xffffffff << (32 - r.bits)) >>> 0;
    if ((value & mask) >>> 0 === r.base) return { forbidden: true, range: r.name, always: r.always === true };
  }
  return { forbidden: false };
}

// ---------------------------------------------------------------------------------------------
// IPv6

/**
 * Parses an IPv6 address (RFC 4291 text forms: `::` compression, 1-4 hex digits per group, an
 * embedded dotted-quad IPv4 tail; optional `[...]` brackets and `%zone`) into its eight 16-bit
 * groups, or `null` if it is not one.
 *
 * @example parseIpv6('::ffff:127.0.0.1') // [0, 0, 0, 0, 0, 0xffff, 0x7f00, 1]
 */
export function parseIpv6(input: string): number[] | null {
  let s = input;
  if (s.startsWith('[') && s.endsWith(']')) s = s.slice(1, -1);
  const zone = s.indexOf('%');
  if (zone !== -1) s = s.slice(0, zone);
  if (!s.includes(':') || s.length > 45) return null;

  const halves = s.split('::');
  if (halves.length > 2) return null;
  // A dotted-quad tail is only allowed at the very end of the address.
  const parseSide = (side: string, allowQuad: boolean): number[] | null => {
    if (side === '') return [];
    const pieces = side.split(':');
    const groups: number[] = [];
    for (let i = 0; i < pieces.length; i++) {
      const piece = pieces[i] as string;
      if (allowQuad && i === pieces.length - 1 && piece.includes('.')) {
        // Strict decimal (no leading zeros, as inet_pton): `0177` must not pass as 177 when
        // another parser could read it as octal 127.
        const quad = piece.split('.');
        if (quad.length !== 4 || quad.some((q) => !/^(0|[1-9][0-9]{0,2})$/.test(q) || Number(q) > 255)) return null;
        const [a, b, c, d] = quad.map(Number) as [number, number, number, number];
        groups.push((a << 8) | b, (c << 8) | d);
      } else if (/^[0-9a-fA-F]{1,4}$/.test(piece)) {
        groups.push(parseInt(piece, 16));
      } else {
        return null;
      }
    }
    return groups;
  };

  const head = parseSide(halves[0] as string, halves.length === 1);
  if (head === null) return null;
  if (halves.length === 1) return head.length === 8 ? head : null;
  const tail = parseSide(halves[1] as string, true);
  if (tail === null || head.length + tail.length > 7) return null;
  return [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
}

const v4From = (hi: number, lo: number): number => ((hi << 16) | lo) >>> 0;

/** Does `groups` start with the `bits`-long prefix given as `prefix` groups? */
function inPrefix(groups: readonly number[], prefix: readonly number[], bits: number): boolean {
  for (let i = 0; i < 8 && bits > 0; i++, bits -= 16) {
    const take = Math.min(16, bits);
    const mask = (0xffff << (16 - take)) & 0xffff;
    if (((groups[i] as number) & mask) !== ((prefix[i] ?? 0) & mask)) return false;
  }
  return true;
}

/** Forbidden only if the embedded IPv4 address is. */
function embedded(kind: string, value: number): Classification {
  const inner = classifyIpv4(value);
  if (!inner.forbidden) return { forbidden: false };
  return { forbidden: true, range: `${kind} of ${formatIpv4(value)}: ${inner.range}`, always: inner.always === true };
}

function classifyIpv6(g: readonly number[]): Classification {
  const [g0, g1, g2, g3, g4, g5, g6, g7] = g as [number, number, number, number, number, number, number, number];
  const no = (range: string, always = false): Classification => ({ forbidden: true, range, always });

  // Everything whose IPv4 address sits in the low 32 bits.
  if (g0 === 0 && g1 === 0 && g2 === 0 && g3 === 0 && g4 === 0) {
    if (g5 === 0xffff) return embedded('IPv4-mapped IPv6', v4From(g6, g7));
    if (g5 === 0 && g6 === 0 && g7 === 0) return no('unspecified');
    if (g5 === 0 && g6 === 0 && g7 === 1) return no('loopback');
    // Deprecated since 2006 (RFC 4291); no legitimate destination uses it.
    if (g5 === 0) return no(`IPv4-compatible IPv6 (deprecated) of ${formatIpv4(v4From(g6, g7))}`);
  }
  if (inPrefix(g, [0, 0, 0, 0, 0xffff, 0], 96))
    return no(`IPv4-translated IPv6 (SIIT) of ${formatIpv4(v4From(g6, g7))}`);
  if (inPrefix(g, [0x64, 0xff9b, 0, 0, 0, 0], 96)) return embedded('NAT64 (64:ff9b::/96)', v4From(g6, g7));
  // The local-use NAT64 prefix is private by definition and its IPv4 position is operator-chosen.
  if (inPrefix(g, [0x64, 0xff9b, 1], 48)) return no('NAT64 local-use (64:ff9b:1::/48)');
  if (inPrefix(g, [0x100, 0, 0, 0], 64)) return no('discard-only (100::/64)');
  if (inPrefix(g, [0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254], 128)) return no('cloud metadata (AWS IMDS IPv6)', true);
  if (inPrefix(g, [0xfc00], 7)) return no('unique local (fc00::/7)');
  if (inPrefix(g, [0xfe80], 10)) return no('link-local (fe80::/10)');
  if (inPrefix(g, [0xfec0], 10)) return no('site-local (fec0::/10, deprecated)');
  if (inPrefix(g, [0xff00], 8)) return no('multicast (ff00::/8)');
  // Only 2000::/3 is allocated for global unicast; everything else is reserved by the IETF.
  if (!inPrefix(g, [0x2000], 3)) return no('reserved (outside global unicast 2000::/3)');
  if (inPrefix(g, [0x2001, 0], 32)) return no('Teredo (2001::/32)');
  if (inPrefix(g, [0x2001, 0xdb8], 32)) return no('documentation (2001:db8::/32)');
  if (inPrefix(g, [0x2001, 0x2, 0], 48)) return no('benchmarking (2001:2::/48)');
  if (inPrefix(g, [0x2001, 0x10], 28) || inPrefix(g, [0x2001, 0x20], 28))
    return no('ORCHID (2001:10::/28, 2001:20::/28)');
  if (inPrefix(g, [0x2001, 0], 23)) return no('IETF protocol assignments (2001::/23)');
  if (inPrefix(g, [0x3fff, 0], 20)) return no('documentation (3fff::/20)');
  if (inPrefix(g, [0x2002], 16)) return embedded('6to4 (2002::/16)', v4From(g1, g2));
  return { forbidden: false };
}

// ---------------------------------------------------------------------------------------------
// Addresses

function classifyAddress(ip: string): Classification {
  const trimmed = ip.startsWith('[') && ip.endsWith(']') ? ip.slice(1, -1) : ip;
  if (trimmed.includes(':')) {
    const groups = parseIpv6(trimmed);
    return groups === null ? { forbidden: true, range: UNPARSEABLE } : classifyIpv6(groups);
  }
  const value = parseIpv4Loose(trimmed);
  return value === null ? { forbidden: true, range: UNPARSEABLE } : classifyIpv4(value);
}

/**
 * Classifies an IP address (IPv4 in any `inet_aton` spelling, IPv6 with or without brackets or
 * zone). Fails closed: a string that is not an address is forbidden (`unparseable address`).
 *
 * @example isForbiddenAddress('::ffff:7f00:1') // { forbidden: true, range: 'IPv4-mapped IPv6 of 127.0.0.1: loopback' }
 */
export function isForbiddenAddress(ip: string): { forbidden: boolean; range?: string } {
  const c = classifyAddress(ip);
  return c.forbidden ? { forbidden: true, range: c.range as string } : { forbidden: false };
}

/**
 * The policy decision for one address: forbidden ranges are refused unless private targets are
 * allowed, and cloud metadata addresses are refused always (no deployment needs to send webhooks
 * to the instance metadata service; it hands out credentials).
 */
export function checkAddress(ip: string, opts: GuardOptions): { ok: true } | { ok: false; range: string } {
  const c = classifyAddress(ip);
  if (!c.forbidden) return { ok: true };
  if (opts.allowPrivate && c.always !== true && c.range !== UNPARSEABLE) return { ok: true };
  return { ok: false, range: c.range as string };
}

// ---------------------------------------------------------------------------------------------
// Host names

/** Suffixes that never name a public host (RFC 6761, RFC 6762, RFC 8375, ICANN's `.internal`). */
const INTERNAL_SUFFIXES = [
  'localhost',
  'localdomain',
  'local',
  'internal',
  'intranet',
  'lan',
  'home',
  'corp',
  'private',
  'home.arpa',
  'in-addr.arpa',
  'ip6.arpa',
  'invalid',
  'onion',
];

/** Cloud metadata names: refused even when private targets are allowed. */
const METADATA_NAMES = new Set([
  'metadata.google.internal',
  'metadata.goog',
  'metadata',
  'instance-data',
  'instance-data.ec2.internal',
]);

export type HostVerdict =
  | { ok: true; host: string; kind: 'ipv4' | 'ipv6' | 'name' }
  | { ok: false; reason: string; code: DestinationRefusalCode; range: string };

/**
 * Checks a host (name or IP literal in any spelling, IPv6 with or without brackets) against the
 * policy. Shared by {@link checkDestinationUrl} (registration) and the guarded connector and
 * lookup (delivery time). `host` in the result is the canonical form: lower case, no brackets,
 * no trailing dot, IPv4 in dotted decimal.
 */
export function checkHost(rawHost: string, opts: GuardOptions): HostVerdict {
  let host = rawHost.toLowerCase();
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);

  if (host.includes(':')) {
    if (parseIpv6(host) === null)
      return { ok: false, code: 'hostname', range: 'hostname', reason: `"${rawHost}" is not a valid IPv6 address` };
    return addressVerdict(host, 'ipv6', opts);
  }

  if (host.endsWith('.')) host = host.slice(0, -1);
  if (host === '') return { ok: false, code: 'hostname', range: 'hostname', reason: 'the URL has no host' };

  const ipv4 = parseIpv4Loose(host);
  if (ipv4 !== null) return addressVerdict(formatIpv4(ipv4), 'ipv4', opts);
  if (endsInNumber(host)) {
    return {
      ok: false,
      code: 'hostname',
      range: 'hostname',
      reason: `"${rawHost}" looks like an IP address but is not a valid one`,
    };
  }

  const labels = host.split('.');
  if (host.length > 253 || labels.some((l) => l === '' || l.length > 63 || !/^[a-z0-9_-]+$/.test(l))) {
    return { ok: false, code: 'hostname', range: 'hostname', reason: `"${rawHost}" is not a valid host name` };
  }
  if (METADATA_NAMES.has(host)) {
    return { ok: false, code: 'hostname', range: 'cloud metadata', reason: `"${host}" is a cloud metadata service` };
  }
  if (!opts.allowPrivate) {
    const suffix = INTERNAL_SUFFIXES.find((s) => host === s || host.endsWith(`.${s}`));
    if (suffix !== undefined) {
      return { ok: false, code: 'hostname', range: `.${suffix}`, reason: `"${host}" is an internal name (.${suffix})` };
    }
    if (labels.length === 1) {
      return {
        ok: false,
        code: 'hostname',
        range: 'single-label name',
        reason: `"${host}" is a single-label (internal) name; use a fully qualified public name`,
      };
    }
  }
  return { ok: true, host, kind: 'name' };
}

function addressVerdict(ip: string, kind: 'ipv4' | 'ipv6', opts: GuardOptions): HostVerdict {
  const verdict = checkAddress(ip, opts);
  if (verdict.ok) return { ok: true, host: ip, kind };
  return {
    ok: false,
    code: 'private_address',
    range: verdict.range,
    reason: `${ip} is a forbidden address (${verdict.range})`,
  };
}

// ---------------------------------------------------------------------------------------------
// URLs

/**
 * The registration-time check of an endpoint URL. Syntactic only (no DNS): a name that resolves
 * to a forbidden address passes here and is refused at connect time by the guarded lookup.
 *
 * - `http:` and `https:` only; no user name or password; at most {@link MAX_URL_LENGTH} chars
 *   (both as given and once normalised).
 * - The fragment is stripped: it is never sent in an HTTP request, so it cannot matter to the
 *   receiver. Store `result.url.href` (normalised, without fragment), not the raw string.
 * - IP literals in any spelling (`0x7f.1`, `2130706433`, `[::ffff:7f00:1]`, ...) are decided
 *   by {@link checkAddress}; names by the internal-name rules; ports by {@link isAllowedPort}.
 *
 * @example checkDestinationUrl('https://hooks.example.com/x', { allowPrivate: false }) // ok, port 443
 */
export function checkDestinationUrl(raw: string, opts: GuardOptions): DestinationCheck {
  if (raw.length > MAX_URL_LENGTH) {
    return { ok: false, code: 'invalid_url', reason: `the URL is longer than ${MAX_URL_LENGTH} characters` };
  }
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { ok: false, code: 'invalid_url', reason: 'not a valid absolute URL' };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return {
      ok: false,
      code: 'scheme',
      reason: `scheme "${url.protocol.slice(0, -1)}" is not allowed; use https (or http)`,
    };
  }
  if (url.username !== '' || url.password !== '') {
    return { ok: false, code: 'credentials', reason: 'the URL must not contain a user name or password' };
  }
  url.hash = '';
  if (url.href.length > MAX_URL_LENGTH) {
    return {
      ok: false,
      code: 'invalid_url',
      reason: `the URL is longer than ${MAX_URL_LENGTH} characters once normalised`,
    };
  }
  const port = url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : Number(url.port);
  if (!isAllowedPort(port)) return { ok: false, code: 'port', reason: portReason(port) };
  const verdict = checkHost(url.hostname, opts);
  if (!verdict.ok) return { ok: false, code: verdict.code, reason: verdict.reason };
  return { ok: true, url, host: verdict.host, port };
}
