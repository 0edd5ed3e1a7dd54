/**
 * Builds the consumer portal (portal/) with esbuild into
 * functions/handlers/http/portal-assets.json: the page, one minified ES module (preact and the
 * typed client inside) and the stylesheet, each with its ETag. The api function serves them at
 * /portal, so they travel inside its bundle, on AWS as in `npm start`.
 *
 *   npm run build:portal
 *
 * test/unit/portal-assets.test.ts fails when the committed file is not what this builds.
 */
import { build } from 'esbuild';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = new URL('../', import.meta.url);
const at = (p: string) => fileURLToPath(new URL(p, root));

export interface PortalAsset {
  type: string;
  body: string;
  etag: string;
  /** The body is base64 of binary bytes (the icon), sent with `isBase64Encoded`. */
  base64?: true;
}

const asset = (type: string, body: string, base64?: true): PortalAsset => ({
  type,
  body,
  etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`,
  ...(base64 ? { base64 } : {}),
});

/**
 * portal/favicon.svg drawn again as a 32 x 32 ICO, for the browsers and tools that ask for
 * /favicon.ico instead of reading the page's <link rel="icon">: a blue rounded square with a
 * white hook. Rasterised here, 4 x 4 samples a pixel, so the build needs no image tool.
 */
export function faviconIco(): Buffer {
  const N = 32;
  const blue = [0x2f, 0x5b, 0xea];
  const hypot = Math.hypot;
  const toSegment = (x: number, y: number, x1: number, y1: number, x2: number, y2: number) => {
    const dx = x2 - x1;
    const dy = y2 - y1;
    const t = Math.max(0, Math.min(1, ((x - x1) * dx + (y - y1) * dy) / (dx * dx + dy * dy)));
    return hypot(x - (x1 + t * dx), y - (y1 + t * dy));
  };
  const inSquare = (x: number, y: number) => {
    const cx = Math.min(Math.max(x, 7), N - 7);
    const cy = Math.min(Math.max(y, 7), N - 7);
    return x >= 0 && y >= 0 && x <= N && y <= N && hypot(x - cx, y - cy) <= 7;
  };
  // The hook: down from (11,8), round the bottom (centre 16,17, radius 5), up to (21,15); a dot at (21,10).
  const inHook = (x: number, y: number) => {
    const arc = y >= 17 ? Math.abs(hypot(x - 16, y - 17) - 5) : Infinity;
    const d = Math.min(toSegment(x, y, 11, 8, 11, 17), arc, toSegment(x, y, 21, 17, 21, 15));
    return d <= 1.6 || hypot(x - 21, y - 10) <= 2.6;
  };
  const pixels = Buffer.alloc(N * N * 4);
  for (let row = 0; row < N; row++) {
    for (let col = 0; col < N; col++) {
      let square = 0;
      let white = 0;
      for (let sy = 0; sy < 4; sy++) {
        for (let sx = 0; sx < 4; sx++) {
          const x = col + (sx + 0.5) / 4;
          const y = row + (sy + 0.5) / 4;
          if (inSquare(x, y)) {
            square++;
            if (inHook(x, y)) white++;
          }
        }
      }
      const w = square === 0 ? 0 : white / square;
      // BMP rows go bottom up, pixels are BGRA.
      const at = ((N - 1 - row) * N + col) * 4;
      pixels[at] = Math.round(blue[2]! + (255 - blue[2]!) * w);
      pixels[at + 1] = Math.round(blue[1]! + (255 - blue[1]!) * w);
      pixels[at + 2] = Math.round(blue[0]! + (255 - blue[0]!) * w);
      pixels[at + 3] = Math.round((square / 16) * 255);
    }
  }
  const mask = Buffer.alloc(N * 4); // the AND mask, unused with 32-bit alpha
  const header = Buffer.alloc(6 + 16 + 40);
  header.writeUInt16LE(0, 0);
  header.writeUInt16LE(1, 2); // an icon
  header.writeUInt16LE(1, 4); // one image
  header.writeUInt8(N, 6);
  header.writeUInt8(N, 7);
  header.writeUInt16LE(1, 10); // planes
  header.writeUInt16LE(32, 12); // bits a pixel
  header.writeUInt32LE(40 + pixels.length + mask.length, 14);
  header.writeUInt32LE(22, 18);
  header.writeUInt32LE(40, 22); // BITMAPINFOHEADER
  header.writeInt32LE(N, 26);
  header.writeInt32LE(N * 2, 30); // colour and mask, stacked
  header.writeUInt16LE(1, 34);
  header.writeUInt16LE(32, 36);
  header.writeUInt32LE(pixels.length + mask.length, 42);
  return Buffer.concat([header, pixels, mask]);
}

export async function buildPortal(): Promise<Record<string, PortalAsset>> {
  const js = await build({
    entryPoints: [at('portal/src/main.tsx')],
    bundle: true,
    write: false,
    format: 'esm',
    minify: true,
    target: ['es2022'],
    platform: 'browser',
    jsx: 'automatic',
    jsxImportSource: 'preact',
    tsconfig: at('portal/tsconfig.json'),
    legalComments: 'none',
    logLevel: 'silent',
  });
  const css = await build({
    entryPoints: [at('portal/portal.css')],
    bundle: true,
    write: false,
    minify: true,
    logLevel: 'silent',
  });
  return {
    'index.html': asset('text/html; charset=utf-8', readFileSync(at('portal/index.html'), 'utf8')),
    'app.js': asset('text/javascript; charset=utf-8', js.outputFiles[0]!.text),
    'app.css': asset('text/css; charset=utf-8', css.outputFiles[0]!.text),
    'favicon.svg': asset('image/svg+xml', readFileSync(at('portal/favicon.svg'), 'utf8')),
    'favicon.ico': asset('image/x-icon', faviconIco().toString('base64'), true),
  };
}

export const PORTAL_ASSETS_FILE = at('functions/handlers/http/portal-assets.json');

export async function renderPortalAssets(): Promise<string> {
  return `${JSON.stringify(await buildPortal(), null, 1)}\n`;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const text = await renderPortalAssets();
  writeFileSync(PORTAL_ASSETS_FILE, text);
  const sizes = Object.entries(JSON.parse(text) as Record<string, PortalAsset>).map(
    ([name, a]) => `${name} ${(Buffer.byteLength(a.body) / 1024).toFixed(1)} KB`,
  );
  console.log(`wrote functions/handlers/http/portal-assets.json (${sizes.join(', ')})`);
}
