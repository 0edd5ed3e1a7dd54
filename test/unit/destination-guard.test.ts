import { BlockList } from 'node:net';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  BAD_PORTS,
  ForbiddenDestinationError,
  MAX_URL_LENGTH,
  checkAddress,
  checkDestinationUrl,
  findForbiddenDestinationError,
  isAllowedPort,
  isForbiddenAddress,
  parseIpv4Loose,
  parseIpv6,
} from '../../functions/webhook/destination-guard';

const STRICT = { allowPrivate: false };
const LOCAL = { allowPrivate: true };

// ---------------------------------------------------------------------------------------------
// Independent test oracles: the ranges as the requirement lists them, and spellings built here.

const FORBIDDEN_V4_CIDRS: ReadonlyArray<[string, number]> = [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.88.99.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
  ['255.255.255.255', 32],
  ['100.100.100.200', 32],
  ['168.63.129.16', 32],
];
const v4Oracle = new BlockList();
for (const [net, bits] of FORBIDDEN_V4_CIDRS) v4Oracle.addSubnet(net, bits, 'ipv4');

const toInt = (dotted: string): number => dotted.split('.').reduce((acc, p) => acc * 256 + Number(p), 0);
const dotted = (n: number): string => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
const hex16 = (n: number): string => [(n >>> 16).toString(16), (n & 0xffff).toString(16)].join(':');
const bytes = (n: number): number[] => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255];

/** Every fixed IPv4 spelling of `n` the URL parser or inet_aton accepts, by name. */
function ipv4Spellings(n: number): Record<string, string> {
  const [a, b, c, d] = bytes(n) as [number, number, number, number];
  return {
    dotted: dotted(n),
    octal: bytes(n)
      .map((x) => `0${x.toString(8)}`)
      .join('.'),
    hex: bytes(n)
      .map((x) => `0x${x.toString(16)}`)
      .join('.'),
    'decimal 32-bit': String(n),
    'hex 32-bit': `0x${n.toString(16).toUpperCase()}`,
    'octal 32-bit': `0${n.toString(8)}`,
    'short a.b.c16': `${a}.${b}.${(c << 8) | d}`,
    'short a.b24': `${a}.${(b << 16) | (c << 8) | d}`,
    mixed: `0x${a.toString(16)}.0${b.toString(8)}.${(c << 8) | d}`,
    'trailing dot': `${dotted(n)}.`,
  };
}

/** IPv6 spellings that embed `n` and must be decided by the embedded address. */
function embeddingSpellings(n: number): Record<string, string> {
  return {
    'IPv4-mapped': `::ffff:${dotted(n)}`,
    'IPv4-mapped hex': `::ffff:${hex16(n)}`,
    'IPv4-mapped expanded upper': `0:0:0:0:0:FFFF:${hex16(n).toUpperCase()}`,
    'NAT64 64:ff9b::/96': `64:ff9b::${dotted(n)}`,
    '6to4 2002::/16': `2002:${hex16(n)}::1`,
  };
}

// A representative address in each forbidden IPv4 range, with the range name it must report.
const FORBIDDEN_V4: ReadonlyArray<[string, string]> = [
  ['127.0.0.1', 'loopback'],
  ['127.255.1.2', 'loopback'],
  ['0.0.0.0', 'unspecified'],
  ['0.1.2.3', 'unspecified'],
  ['10.20.30.40', 'private'],
  ['172.16.0.1', 'private'],
  ['172.31.255.254', 'private'],
  ['192.168.1.1', 'private'],
  ['100.64.0.1', 'carrier-grade NAT'],
  ['100.127.255.255', 'carrier-grade NAT'],
  ['169.254.1.1', 'link-local'],
  ['224.0.0.1', 'multicast'],
  ['239.255.255.250', 'multicast'],
  ['255.255.255.255', 'broadcast'],
  ['240.0.0.1', 'reserved'],
  ['192.0.2.1', 'documentation'],
  ['198.51.100.7', 'documentation'],
  ['203.0.113.9', 'documentation'],
  ['198.18.0.1', 'benchmarking'],
  ['198.19.255.255', 'benchmarking'],
  ['192.0.0.8', 'IETF protocol assignments'],
  ['192.88.99.1', '6to4 relay'],
  ['169.254.169.254', 'cloud metadata'],
  ['169.254.170.2', 'cloud metadata'],
  ['100.100.100.200', 'cloud metadata'],
];

const PUBLIC_V4 = [
  '8.8.8.8',
  '1.1.1.1',
  '93.184.215.14',
  '172.15.255.255',
  '172.32.0.0',
  '100.63.255.255',
  '100.128.0.0',
  '192.169.0.1',
  '198.17.255.255',
  '198.20.0.0',
  '223.255.255.255',
  '11.0.0.0',
  '126.255.255.255',
  '128.0.0.0',
  '169.253.255.255',
  '169.255.0.0',
];

// ---------------------------------------------------------------------------------------------

describe('isForbiddenAddress', () => {
  describe.each(FORBIDDEN_V4)('%s (%s)', (address, range) => {
    const n = toInt(address);
    it.each(Object.entries(ipv4Spellings(n)))('is forbidden spelled %s (%s)', (_name, spelling) => {
      const result = isForbiddenAddress(spelling);
      expect(result.forbidden).toBe(true);
      expect(result.range).toContain(range);
    });
    it.each(Object.entries(embeddingSpellings(n)))('is forbidden inside %s (%s)', (_name, spelling) => {
      const result = isForbiddenAddress(spelling);
      expect(result.forbidden).toBe(true);
      expect(result.range).toContain(range);
    });
  });

  it.each(PUBLIC_V4)('allows the public address %s', (address) => {
    expect(isForbiddenAddress(address)).toEqual({ forbidden: false });
  });

  it.each(PUBLIC_V4)('allows the public address %s inside IPv4-mapped, NAT64 and 6to4 IPv6', (address) => {
    for (const spelling of Object.values(embeddingSpellings(toInt(address)))) {
      expect(isForbiddenAddress(spelling), spelling).toEqual({ forbidden: false });
    }
  });

  it.each([
    ['::1', 'loopback'],
    ['0:0:0:0:0:0:0:1', 'loopback'],
    ['[::1]', 'loopback'],
    ['::', 'unspecified'],
    ['0:0:0:0:0:0:0:0', 'unspecified'],
    ['fe80::1', 'link-local'],
    ['FE80::1%eth0', 'link-local'],
    ['febf:ffff::1', 'link-local'],
    ['fec0::1', 'site-local'],
    ['fc00::1', 'unique local'],
    ['fd12:3456:789a::1', 'unique local'],
    ['fd00:ec2::254', 'cloud metadata'],
    ['fd00:0ec2:0000:0000:0000:0000:0000:0254', 'cloud metadata'],
    ['ff02::1', 'multicast'],
    ['ff05::1:3', 'multicast'],
    ['2001:db8::1', 'documentation'],
    ['2001:0db8:ffff::1', 'documentation'],
    ['3fff::1', 'documentation'],
    ['2001::1', 'Teredo'],
    ['2001:0:4136:e378:8000:63bf:3fff:fdd2', 'Teredo'],
    ['2001:2::1', 'benchmarking'],
    ['2001:10::1', 'ORCHID'],
    ['100::1', 'discard'],
    ['100::ffff:ffff:ffff:ffff', 'discard'],
    ['::127.0.0.1', 'IPv4-compatible'],
    ['::8.8.8.8', 'IPv4-compatible'],
    ['::7f00:1', 'IPv4-compatible'],
    ['::ffff:0:7f00:1', 'IPv4-translated'],
    ['64:ff9b:1::a00:1', 'NAT64 local-use'],
    ['64:ff9b:1:ffff::8.8.8.8', 'NAT64 local-use'],
    ['5f00::1', 'reserved'],
    ['4000::1', 'reserved'],
    ['::2', 'IPv4-compatible'],
    ['::1:0:0:0', 'reserved'],
  ])('refuses the IPv6 address %s as %s', (address, range) => {
    const result = isForbiddenAddress(address);
    expect(result.forbidden).toBe(true);
    expect(result.range).toContain(range);
  });

  it.each([
    '2606:4700::1111',
    '2606:4700:4700::1001',
    '2a00:1450:4001:82b::200e',
    '2600:1f18::1',
    '2002:808:808::1',
    '64:ff9b::808:808',
    '::ffff:1.1.1.1',
    '2001:200::1',
  ])('allows the public IPv6 address %s', (address) => {
    expect(isForbiddenAddress(address)).toEqual({ forbidden: false });
  });

  it.each([
    '',
    'example.com',
    '1.2.3.4.5',
    '256.0.0.1',
    '08.0.0.1',
    '1::2::3',
    '12345::',
    ':::',
    '1.2.3.4::',
    '::ffff:0177.0.0.1',
    'g::1',
    '1:2:3:4:5:6:7:8:9',
  ])('fails closed on the non-address %j', (input) => {
    expect(isForbiddenAddress(input)).toEqual({ forbidden: true, range: 'unparseable address' });
  });
});

describe('checkAddress', () => {
  it('lets private targets through when they are allowed', () => {
    expect(checkAddress('127.0.0.1', LOCAL)).toEqual({ ok: true });
    expect(checkAddress('::1', LOCAL)).toEqual({ ok: true });
    expect(checkAddress('10.0.0.1', STRICT)).toEqual({ ok: false, range: 'private (RFC 1918)' });
  });

  it.each([
    '169.254.169.254',
    '169.254.170.2',
    '100.100.100.200',
    'fd00:ec2::254',
    '::ffff:a9fe:a9fe',
    '64:ff9b::169.254.169.254',
  ])('refuses the cloud metadata address %s even when private targets are allowed', (address) => {
    const result = checkAddress(address, LOCAL);
    expect(result.ok).toBe(false);
    expect(!result.ok && result.range).toContain('cloud metadata');
  });
});

describe('parseIpv4Loose', () => {
  it.each([
    ['127.0.0.1', 0x7f000001],
    ['0177.0.0.1', 0x7f000001],
    ['0x7f.0.0.1', 0x7f000001],
    ['0X7F.0.0.1', 0x7f000001],
    ['0x7f000001', 0x7f000001],
    ['2130706433', 0x7f000001],
    ['017700000001', 0x7f000001],
    ['127.1', 0x7f000001],
    ['127.0.1', 0x7f000001],
    ['0x7f.1', 0x7f000001],
    ['127.0.0.1.', 0x7f000001],
    ['00000177.0x0000.0.1', 0x7f000001],
    ['0x', 0],
    ['0', 0],
    ['4294967295', 0xffffffff],
    ['255.16777215', 0xffffffff],
  ])('reads %s as %i', (input, expected) => {
    expect(parseIpv4Loose(input)).toBe(expected);
  });

  it.each([
    '',
    '.',
    '1..1',
    '1.2.3.4.5',
    '256.1.1.1',
    '1.256.1.1',
    '1.2.65536',
    '4294967296',
    '08',
    '0x7g',
    '1.2.3.4..',
    'example.com',
    '1.2.3.a',
    ' 1.2.3.4',
    '-1',
    '1e3',
    '99999999999999999999',
  ])('refuses %j', (input) => {
    expect(parseIpv4Loose(input)).toBeNull();
  });
});

describe('parseIpv6', () => {
  it.each([
    ['::', [0, 0, 0, 0, 0, 0, 0, 0]],
    ['::1', [0, 0, 0, 0, 0, 0, 0, 1]],
    ['[::1]', [0, 0, 0, 0, 0, 0, 0, 1]],
    ['1::', [1, 0, 0, 0, 0, 0, 0, 0]],
    ['1:2:3:4:5:6:7::', [1, 2, 3, 4, 5, 6, 7, 0]],
    ['::2:3:4:5:6:7:8', [0, 2, 3, 4, 5, 6, 7, 8]],
    ['2001:DB8::a:b', [0x2001, 0xdb8, 0, 0, 0, 0, 0xa, 0xb]],
    ['::ffff:127.0.0.1', [0, 0, 0, 0, 0, 0xffff, 0x7f00, 1]],
    ['1:2:3:4:5:6:1.2.3.4', [1, 2, 3, 4, 5, 6, 0x102, 0x304]],
    ['fe80::1%25eth0', [0xfe80, 0, 0, 0, 0, 0, 0, 1]],
    ['0000:0000:0000:0000:0000:0000:0000:0001', [0, 0, 0, 0, 0, 0, 0, 1]],
  ])('reads %s', (input, groups) => {
    expect(parseIpv6(input)).toEqual(groups);
  });

  it.each([
    '',
    '1',
    '1:2:3:4:5:6:7',
    '1:2:3:4:5:6:7:8:9',
    '1::2::3',
    ':1::',
    '1::2:',
    '12345::',
    '::1.2.3',
    '::1.2.3.256',
    '1.2.3.4::',
    '::1.2.3.4:5',
    'x::',
  ])('refuses %j', (input) => {
    expect(parseIpv6(input)).toBeNull();
  });
});

describe('checkDestinationUrl', () => {
  it.each([
    ['https://example.com/hook', 'example.com', 443],
    ['https://hooks.example.com:8443/x', 'hooks.example.com', 8443],
    ['http://example.com:8080/a?b=c', 'example.com', 8080],
    ['https://8.8.8.8/hook', '8.8.8.8', 443],
    ['https://[2606:4700::1111]/hook', '2606:4700::1111', 443],
    ['https://EXAMPLE.com./hook', 'example.com', 443],
    ['https://xn--bcher-kva.example/hook', 'xn--bcher-kva.example', 443],
    ['https://bücher.example/hook', 'xn--bcher-kva.example', 443],
    ['https://my_host.example.com/hook', 'my_host.example.com', 443],
    ['https://rebind.example.com/hook', 'rebind.example.com', 443],
    ['https://0x7f.example.com/hook', '0x7f.example.com', 443],
  ])('accepts %s', (raw, host, port) => {
    const result = checkDestinationUrl(raw, STRICT);
    expect(result).toMatchObject({ ok: true, host, port });
  });

  it('strips the fragment, which is never sent', () => {
    const result = checkDestinationUrl('https://example.com/hook?x=1#section', STRICT);
    expect(result.ok && result.url.href).toBe('https://example.com/hook?x=1');
  });

  describe.each(FORBIDDEN_V4)('a URL to %s (%s)', (address, range) => {
    const n = toInt(address);
    const spellings = {
      ...ipv4Spellings(n),
      ...Object.fromEntries(Object.entries(embeddingSpellings(n)).map(([k, v]) => [k, `[${v}]`])),
    };
    it.each(Object.entries(spellings))('is refused spelled %s (%s)', (_name, spelling) => {
      const result = checkDestinationUrl(`http://${spelling}:8080/hook`, STRICT);
      expect(result).toMatchObject({ ok: false, code: 'private_address' });
      expect(!result.ok && result.reason).toContain(range);
    });
  });

  it.each([
    ['http://%31%32%37.0.0.1/', 'percent-encoded'],
    ['http://１２７.０.０.１/', 'full-width digits'],
    ['http://[::ffff:127.0.0.1]/', 'mapped'],
    ['http://[0:0:0:0:0:ffff:7f00:1]/', 'mapped expanded'],
    ['http://[::1]:3000/', 'IPv6 loopback'],
    ['http://[fe80::1]/', 'IPv6 link-local'],
    ['http://[fd00:ec2::254]/latest/meta-data/', 'AWS IMDS IPv6'],
    ['http://[::]/', 'IPv6 unspecified'],
    ['http://0/', 'zero'],
    ['http://0x/', 'empty hex'],
    ['https://127.0.0.1../', 'double trailing dot'],
  ])('refuses the private address %s (%s)', (raw) => {
    expect(checkDestinationUrl(raw, STRICT)).toMatchObject({ ok: false, code: 'private_address' });
  });

  it.each([
    'http://localhost/',
    'http://LOCALHOST:3000/',
    'http://localhost./',
    'http://api.localhost/',
    'http://printer.local/',
    'http://db.internal/',
    'http://metadata.google.internal/computeMetadata/v1/',
    'http://metadata/',
    'http://router.home.arpa/',
    'http://intranet/',
    'http://myservice/',
    'http://x.onion/',
    'http://a..b/',
    'http://-/',
    'http://*.example.com/',
    `http://${'a'.repeat(64)}.example.com/`,
  ])('refuses the internal or invalid host name in %s', (raw) => {
    expect(checkDestinationUrl(raw, STRICT)).toMatchObject({ ok: false, code: 'hostname' });
  });

  it.each(['08.0.0.1', '1.2.3.4.5', '256.0.0.1'])(
    'refuses the unparseable numeric host %s as an invalid URL',
    (host) => {
      expect(checkDestinationUrl(`http://${host}/`, STRICT)).toMatchObject({ ok: false, code: 'invalid_url' });
    },
  );

  it.each([
    'http://localhost:3000/hook',
    'http://127.0.0.1:3000/hook',
    'http://[::1]:3000/',
    'http://receiver/hook',
    'http://db.internal/',
    'http://0x7f.1/',
    'http://10.0.0.5/',
  ])('accepts the private destination %s when private targets are allowed', (raw) => {
    expect(checkDestinationUrl(raw, LOCAL)).toMatchObject({ ok: true });
  });

  it.each([
    'http://169.254.169.254/latest/meta-data/',
    'http://0xa9fea9fe/',
    'http://[::ffff:a9fe:a9fe]/',
    'http://metadata.google.internal/',
    'http://100.100.100.200/',
  ])('refuses the cloud metadata service %s even when private targets are allowed', (raw) => {
    expect(checkDestinationUrl(raw, LOCAL)).toMatchObject({ ok: false });
  });

  it.each([
    ['ftp://example.com/', 'scheme'],
    ['file:///etc/passwd', 'scheme'],
    ['gopher://example.com:70/', 'scheme'],
    ['javascript:alert(1)', 'scheme'],
    ['ws://example.com/', 'scheme'],
    ['https://user:pass@example.com/', 'credentials'],
    ['https://user@example.com/', 'credentials'],
    ['https://:pass@example.com/', 'credentials'],
    ['not a url', 'invalid_url'],
    ['/relative/path', 'invalid_url'],
    ['https://', 'invalid_url'],
    ['https://exa mple.com/', 'invalid_url'],
    ['https://[fe80::1%25eth0]/', 'invalid_url'],
    ['https://example.com:65536/', 'invalid_url'],
    [`https://example.com/${'a'.repeat(MAX_URL_LENGTH)}`, 'invalid_url'],
  ])('refuses %s with code %s', (raw, code) => {
    expect(checkDestinationUrl(raw, STRICT)).toMatchObject({ ok: false, code });
  });

  it('accepts a URL of exactly the maximum length and refuses one that grows past it once normalised', () => {
    const base = 'https://example.com/';
    expect(checkDestinationUrl(base + 'a'.repeat(MAX_URL_LENGTH - base.length), STRICT).ok).toBe(true);
    // Each space becomes %20 in the normalised href.
    const spaced = base + ' '.repeat(700) + 'x';
    expect(spaced.length).toBeLessThanOrEqual(MAX_URL_LENGTH);
    expect(checkDestinationUrl(spaced, STRICT)).toMatchObject({ ok: false, code: 'invalid_url' });
  });

  it.each([0, 1, 22, 25, 53, 110, 143, 587, 6000, 6667, 10080])('refuses port %i on a public host', (port) => {
    expect(checkDestinationUrl(`https://example.com:${port}/`, STRICT)).toMatchObject({ ok: false, code: 'port' });
    expect(checkDestinationUrl(`http://localhost:${port}/`, LOCAL)).toMatchObject({ ok: false, code: 'port' });
  });

  it.each([80, 443, 3000, 5000, 8000, 8080, 8443, 9000, 65535])('accepts port %i', (port) => {
    expect(checkDestinationUrl(`https://example.com:${port}/`, STRICT)).toMatchObject({ ok: true, port });
  });

  it('uses the scheme default port when none is given', () => {
    expect(checkDestinationUrl('http://example.com/', STRICT)).toMatchObject({ ok: true, port: 80 });
    expect(checkDestinationUrl('https://example.com:443/', STRICT)).toMatchObject({ ok: true, port: 443 });
  });
});

describe('ports', () => {
  it('refuses exactly 0, out-of-range and non-integer ports and the bad-port list', () => {
    expect(isAllowedPort(0)).toBe(false);
    expect(isAllowedPort(65_536)).toBe(false);
    expect(isAllowedPort(80.5)).toBe(false);
    expect(BAD_PORTS.size).toBe(83);
    for (let port = 1; port <= 65_535; port++) expect(isAllowedPort(port)).toBe(!BAD_PORTS.has(port));
  });
});

describe('ForbiddenDestinationError', () => {
  it('is found through a cause chain, as fetch wraps it', () => {
    const inner = new ForbiddenDestinationError({
      host: 'rebind.example.com',
      address: '127.0.0.1',
      range: 'loopback',
    });
    const wrapped = new TypeError('fetch failed', { cause: new Error('connect', { cause: inner }) });
    expect(findForbiddenDestinationError(wrapped)).toBe(inner);
    expect(inner.message).toBe('destination rebind.example.com resolves to 127.0.0.1, which is forbidden (loopback)');
    expect(
      findForbiddenDestinationError(new TypeError('fetch failed', { cause: new Error('ECONNREFUSED') })),
    ).toBeUndefined();
  });
});

// ---------------------------------------------------------------------------------------------
// Properties

const uint32 = fc.integer({ min: 0, max: 0xffffffff });

/** Any address inside one of the oracle's forbidden ranges. */
const forbiddenV4 = fc
  .tuple(fc.constantFrom(...FORBIDDEN_V4_CIDRS), uint32)
  .map(([[net, bits], r]) => (toInt(net) + (bits === 32 ? 0 : r % 2 ** (32 - bits))) >>> 0);

/** Biased to land near range edges often, where off-by-one mistakes live. */
const anyV4 = fc.oneof(
  uint32,
  forbiddenV4,
  forbiddenV4.map((n) => (n - 1) >>> 0),
  forbiddenV4.map((n) => (n + 1) >>> 0),
);

/** A random spelling of `n`: 1-4 parts, each part decimal, octal or hex (with zero padding), optional trailing dot. */
const spelledV4 = (value: fc.Arbitrary<number>) =>
  fc
    .tuple(
      value,
      fc.integer({ min: 1, max: 4 }),
      fc.array(fc.tuple(fc.constantFrom('dec', 'oct', 'hex', 'HEX'), fc.nat(3)), { minLength: 4, maxLength: 4 }),
      fc.boolean(),
    )
    .map(([n, count, styles, trailingDot]) => {
      const b = bytes(n);
      const parts: number[] = [...b.slice(0, count - 1), b.slice(count - 1).reduce((acc, x) => acc * 256 + x, 0)];
      const spelled = parts.map((p, i) => {
        const [style, pad] = styles[i] as [string, number];
        if (style === 'dec') return String(p);
        if (style === 'oct') return `0${'0'.repeat(pad)}${p.toString(8)}`;
        return `${style === 'hex' ? '0x' : '0X'}${'0'.repeat(pad)}${style === 'hex' ? p.toString(16) : p.toString(16).toUpperCase()}`;
      });
      return { n, spelling: spelled.join('.') + (trailingDot ? '.' : '') };
    });

describe('properties', () => {
  it('every spelling of every IPv4 address parses to that address, as WHATWG URL reads it', () => {
    fc.assert(
      fc.property(spelledV4(anyV4), ({ n, spelling }) => {
        expect(parseIpv4Loose(spelling)).toBe(n);
        expect(new URL(`http://${spelling}/`).hostname).toBe(dotted(n));
      }),
      { numRuns: 2000 },
    );
  });

  it('classifies every IPv4 address exactly as the independent range list does', () => {
    fc.assert(
      fc.property(anyV4, (n) => {
        expect(isForbiddenAddress(dotted(n)).forbidden).toBe(v4Oracle.check(dotted(n), 'ipv4'));
      }),
      { numRuns: 5000 },
    );
  });

  it('refuses any 127/8 address in any spelling, raw or through a URL', () => {
    const loopback = fc.integer({ min: 0, max: 0xffffff }).map((r) => (0x7f000000 + r) >>> 0);
    fc.assert(
      fc.property(spelledV4(loopback), ({ spelling }) => {
        expect(isForbiddenAddress(spelling)).toEqual({ forbidden: true, range: 'loopback' });
        const result = checkDestinationUrl(`https://${spelling}/hook`, STRICT);
        expect(result).toMatchObject({ ok: false, code: 'private_address' });
      }),
      { numRuns: 1000 },
    );
  });

  it('refuses any forbidden IPv4 address in any spelling through a URL', () => {
    fc.assert(
      fc.property(spelledV4(forbiddenV4), ({ spelling }) => {
        expect(checkDestinationUrl(`http://${spelling}:8080/`, STRICT)).toMatchObject({
          ok: false,
          code: 'private_address',
        });
      }),
      { numRuns: 1000 },
    );
  });

  it('allows any public IPv4 address outside every range', () => {
    const publicV4 = uint32.filter((n) => !v4Oracle.check(dotted(n), 'ipv4'));
    fc.assert(
      fc.property(publicV4, (n) => {
        expect(isForbiddenAddress(dotted(n))).toEqual({ forbidden: false });
        expect(checkDestinationUrl(`https://${dotted(n)}/hook`, STRICT)).toMatchObject({ ok: true, host: dotted(n) });
      }),
      { numRuns: 1000 },
    );
  });

  it('decides IPv4-mapped, NAT64 and 6to4 IPv6 by the embedded IPv4 address', () => {
    fc.assert(
      fc.property(anyV4, fc.constantFrom(...Object.keys(embeddingSpellings(0))), (n, kind) => {
        const spelling = embeddingSpellings(n)[kind] as string;
        const expected = v4Oracle.check(dotted(n), 'ipv4');
        expect(isForbiddenAddress(spelling).forbidden).toBe(expected);
        expect(checkDestinationUrl(`http://[${spelling}]/`, STRICT).ok).toBe(!expected);
      }),
      { numRuns: 3000 },
    );
  });

  const group = fc.integer({ min: 0, max: 0xffff });
  const groups8 = fc.array(group, { minLength: 8, maxLength: 8 });
  /** A random RFC 4291 spelling of eight groups: any zero run compressed or not, padding, case. */
  const spelledV6 = fc.tuple(groups8, fc.nat(), fc.boolean(), fc.boolean()).map(([g, pick, pad, upper]) => {
    const text = g.map((x) => (pad ? x.toString(16).padStart(4, '0') : x.toString(16)));
    const runs: Array<[number, number]> = [];
    for (let i = 0; i < 8; i++) {
      if (g[i] !== 0) continue;
      for (let j = i; j < 8 && g[j] === 0; j++) runs.push([i, j + 1]);
    }
    let s = text.join(':');
    if (runs.length > 0 && pick % 3 !== 0) {
      const [from, to] = runs[pick % runs.length] as [number, number];
      s = `${text.slice(0, from).join(':')}::${text.slice(to).join(':')}`;
    }
    return { g, spelling: upper ? s.toUpperCase() : s };
  });

  it('parses every IPv6 spelling to its groups, as WHATWG URL reads it', () => {
    fc.assert(
      fc.property(spelledV6, ({ g, spelling }) => {
        expect(parseIpv6(spelling)).toEqual(g);
        expect(parseIpv6(new URL(`http://[${spelling}]/`).hostname)).toEqual(g);
      }),
      { numRuns: 2000 },
    );
  });

  const FORBIDDEN_V6_PREFIXES: ReadonlyArray<[string, number]> = [
    ['fe80::', 10],
    ['fec0::', 10],
    ['fc00::', 7],
    ['ff00::', 8],
    ['2001:db8::', 32],
    ['2001::', 32],
    ['100::', 64],
    ['64:ff9b:1::', 48],
    ['::', 96],
    ['3fff::', 20],
    ['2001:2::', 48],
  ];
  const v6Specials = new BlockList();
  for (const [net, bits] of [
    ...FORBIDDEN_V6_PREFIXES,
    ['2001::', 23] as [string, number],
    ['2002::', 16] as [string, number],
  ]) {
    v6Specials.addSubnet(net, bits, 'ipv6');
  }
  const v6Text = (g: readonly number[]) => g.map((x) => x.toString(16)).join(':');

  it('refuses any address in a forbidden IPv6 prefix', () => {
    const inPrefix = fc.tuple(fc.constantFrom(...FORBIDDEN_V6_PREFIXES), groups8).map(([[net, bits], random]) => {
      const base = parseIpv6(net) as number[];
      return base.map((b, i) => {
        const keep = Math.max(0, Math.min(16, bits - i * 16));
        const mask = keep === 0 ? 0 : (0xffff << (16 - keep)) & 0xffff;
        return (b & mask) | ((random[i] as number) & ~mask & 0xffff);
      });
    });
    fc.assert(
      fc.property(inPrefix, (g) => {
        expect(isForbiddenAddress(v6Text(g)).forbidden).toBe(true);
        expect(checkDestinationUrl(`https://[${v6Text(g)}]/`, STRICT).ok).toBe(false);
      }),
      { numRuns: 2000 },
    );
  });

  it('allows any global unicast IPv6 address outside the special-purpose blocks', () => {
    const globalUnicast = groups8
      .map((g) => [0x2000 | ((g[0] as number) & 0x1fff), ...g.slice(1)])
      .filter((g) => !v6Specials.check(v6Text(g), 'ipv6'));
    fc.assert(
      fc.property(globalUnicast, (g) => {
        expect(isForbiddenAddress(v6Text(g))).toEqual({ forbidden: false });
      }),
      { numRuns: 2000 },
    );
  });

  it('refuses everything outside 2000::/3 except IPv4-mapped and NAT64 of public IPv4', () => {
    const outside = groups8.filter((g) => ((g[0] as number) & 0xe000) !== 0x2000);
    fc.assert(
      fc.property(outside, (g) => {
        expect(isForbiddenAddress(v6Text(g)).forbidden).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });
});
