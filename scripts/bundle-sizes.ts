/**
 * Bundles each Lambda handler exactly as the stack does (esbuild, minified ESM for Node 24,
 * the createRequire banner, `@aws-sdk/*` left to the runtime) and prints each bundle's size.
 *
 *   npm run bundle-sizes              sizes only
 *   npm run bundle-sizes -- --why     also the five packages that weigh most in each bundle
 *
 * The bundles are built in memory; nothing is written.
 */
import { build, type Metafile } from 'esbuild';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { ESBUILD_LAMBDA_OPTIONS, HANDLER_NAMES, REPO_ROOT, defaultHandlerEntry } from '../infra/constructs/bundling';

const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`;

/** Bytes in the output per package (or per top-level source folder for our own code). */
function weights(meta: Metafile): Array<[string, number]> {
  const totals = new Map<string, number>();
  for (const output of Object.values(meta.outputs)) {
    for (const [file, input] of Object.entries(output.inputs)) {
      const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(file)?.[1] ?? file.split('/').slice(0, 2).join('/');
      totals.set(pkg, (totals.get(pkg) ?? 0) + input.bytesInOutput);
    }
  }
  return [...totals].sort((a, b) => b[1] - a[1]);
}

async function main(): Promise<void> {
  const why = process.argv.includes('--why');
  const rows: string[] = [];
  let missing = 0;
  for (const name of HANDLER_NAMES) {
    const entry = defaultHandlerEntry(name);
    if (!existsSync(entry)) {
      rows.push(`${name.padEnd(13)} missing: ${path.relative(REPO_ROOT, entry)}`);
      missing += 1;
      continue;
    }
    const result = await build({
      entryPoints: [entry],
      outfile: path.join(REPO_ROOT, 'dist', name, 'index.mjs'),
      write: false,
      ...ESBUILD_LAMBDA_OPTIONS,
      mainFields: [...ESBUILD_LAMBDA_OPTIONS.mainFields],
      external: [...ESBUILD_LAMBDA_OPTIONS.external],
      sourcemap: 'external',
      tsconfig: path.join(REPO_ROOT, 'tsconfig.json'),
      metafile: true,
    });
    const code = result.outputFiles.find((f) => f.path.endsWith('.mjs'));
    const map = result.outputFiles.find((f) => f.path.endsWith('.map'));
    if (!code) throw new Error(`esbuild produced no bundle for ${name}`);
    rows.push(
      `${name.padEnd(13)} ${kb(code.contents.byteLength).padStart(10)}   gzip ${kb(gzipSync(code.contents).byteLength).padStart(9)}` +
        `   source map ${kb(map?.contents.byteLength ?? 0).padStart(10)}`,
    );
    if (why) {
      for (const [pkg, bytes] of weights(result.metafile).slice(0, 5))
        rows.push(`    ${kb(bytes).padStart(10)}  ${pkg}`);
    }
  }
  console.log(['handler             bundle   (deployed with its source map; AWS SDK external)', ...rows].join('\n'));
  if (missing > 0) process.exitCode = 1;
}

await main();
