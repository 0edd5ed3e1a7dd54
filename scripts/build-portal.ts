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
}

const asset = (type: string, body: string): PortalAsset => ({
  type,
  body,
  etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`,
});

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
