/**
 * Cold start: each handler bundled exactly as the stack bundles it (infra/constructs/bundling.ts:
 * minified ESM for Node 24, `@aws-sdk/*` left to the runtime, a linked source map), its size, and
 * its module init time: a fresh `node` process imports the bundle and reports how long the import
 * took and how long since the process started (Lambda's Init Duration is the second kind). Each
 * bundle is imported in `runs` fresh processes, round robin across bundles so that a busy moment
 * on the machine spreads over all of them; the median is reported, and its ratio to a hello-world
 * handler bundled and timed the same way in the same run.
 *
 * Processes run with `--enable-source-maps`, as the stack's functions do (NODE_OPTIONS): Node then
 * reads and parses each bundle's source map while loading it, which is part of the cold start.
 *
 * Bundles are written under node_modules/.cache/hookrelay-bench, inside the repository, so that
 * their external `@aws-sdk/*` imports resolve to the installed SDK as they do on Lambda.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build, type Metafile } from 'esbuild';
import { ESBUILD_LAMBDA_OPTIONS, HANDLER_NAMES, REPO_ROOT } from '../infra/constructs/bundling';
import { percentile } from './cost';

export interface BundleMeasure {
  name: string;
  bytes: number;
  gzipBytes: number;
  sourceMapBytes: number;
  /** The heaviest packages (or source folders) in the bundle, bytes each. */
  heaviest: Array<[string, number]>;
  /** Median time to import the bundle, in a fresh process. */
  importMs: number;
  /** Median time from process start to the end of the import (cf. Lambda's Init Duration). */
  initMs: number;
  importRatio: number;
  initRatio: number;
}

export interface ColdStartResult {
  runs: number;
  hello: BundleMeasure;
  handlers: BundleMeasure[];
  /** The request and configuration schemas alone, with zod classic and ported to zod/mini. */
  zod: { classic: BundleMeasure; mini: BundleMeasure };
  /** The same handlers built from other commits (before a change), measured in the same run. */
  compare: Array<{ ref: string; subject: string; handlers: BundleMeasure[] }>;
}

const CACHE = path.join(REPO_ROOT, 'node_modules', '.cache', 'hookrelay-bench');

function weights(meta: Metafile): Array<[string, number]> {
  const totals = new Map<string, number>();
  for (const output of Object.values(meta.outputs)) {
    for (const [input_, input] of Object.entries(output.inputs)) {
      // A commit checked out for comparison lives under node_modules/.cache: its files are sources.
      const file = input_.replace(/^.*node_modules\/\.cache\/hookrelay-bench\/ref-[^/]+\//, '');
      const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(file)?.[1] ?? file.split('/').slice(0, 2).join('/');
      totals.set(pkg, (totals.get(pkg) ?? 0) + input.bytesInOutput);
    }
  }
  return [...totals].sort((a, b) => b[1] - a[1]);
}

interface Built {
  name: string;
  file: string;
  bytes: number;
  gzipBytes: number;
  sourceMapBytes: number;
  heaviest: Array<[string, number]>;
}

async function bundle(name: string, entry: string, outDir: string, tsconfig: string): Promise<Built> {
  const outfile = path.join(outDir, name, 'index.mjs');
  const result = await build({
    entryPoints: [entry],
    outfile,
    ...ESBUILD_LAMBDA_OPTIONS,
    mainFields: [...ESBUILD_LAMBDA_OPTIONS.mainFields],
    external: [...ESBUILD_LAMBDA_OPTIONS.external],
    sourcemap: 'linked',
    tsconfig,
    metafile: true,
    write: true,
  });
  const out = result.metafile.outputs;
  const code = Object.entries(out).find(([f]) => f.endsWith('.mjs'));
  const map = Object.entries(out).find(([f]) => f.endsWith('.map'));
  if (!code) throw new Error(`esbuild produced no bundle for ${name}`);
  const bytes = readFileSync(outfile);
  return {
    name,
    file: outfile,
    bytes: code[1].bytes,
    gzipBytes: gzipSync(bytes).byteLength,
    sourceMapBytes: map?.[1].bytes ?? 0,
    heaviest: weights(result.metafile).slice(0, 4),
  };
}

/** One fresh process importing `file`: [import ms, ms since process start]. */
function timeImport(file: string): Promise<[number, number]> {
  const script =
    `const t0 = performance.now(); await import(${JSON.stringify(pathToFileURL(file).href)}); const t1 = performance.now();` +
    'process.stdout.write(JSON.stringify([t1 - t0, t1]));';
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--enable-source-maps', '--input-type=module', '-e', script], {
      cwd: REPO_ROOT,
      // What the functions see at load time on Lambda, minus anything that would reach a network.
      env: {
        PATH: process.env.PATH ?? '',
        AWS_REGION: 'us-east-1',
        POWERTOOLS_SERVICE_NAME: 'hookrelay',
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) reject(new Error(`importing ${file} failed (${code}): ${err.slice(0, 500)}`));
      else resolve(JSON.parse(out) as [number, number]);
    });
  });
}

/** Extracts the functions of `ref` (a commit) to a directory whose imports resolve to this repo's node_modules. */
function checkout(ref: string): { root: string; sha: string; subject: string } {
  const sha = execFileSync('git', ['rev-parse', '--short', ref], { cwd: REPO_ROOT, encoding: 'utf8' }).trim();
  const subject = execFileSync('git', ['log', '-1', '--format=%s', sha], { cwd: REPO_ROOT, encoding: 'utf8' }).trim();
  const root = path.join(CACHE, `ref-${sha}`);
  rmSync(root, { recursive: true, force: true });
  mkdirSync(root, { recursive: true });
  const tar = execFileSync(
    'git',
    ['archive', '--format=tar', sha, 'functions', 'infra/topology.ts', 'tsconfig.json', 'package.json'],
    {
      cwd: REPO_ROOT,
      maxBuffer: 64 * 1024 * 1024,
    },
  );
  execFileSync('tar', ['-x', '-C', root], { input: tar });
  return { root, sha, subject };
}

export async function runColdStart(opts: { runs: number; compareRefs?: string[] }): Promise<ColdStartResult> {
  const out = path.join(CACHE, 'bundles');
  rmSync(out, { recursive: true, force: true });
  const tsconfig = path.join(REPO_ROOT, 'tsconfig.json');
  const fixture = (f: string) => path.join(REPO_ROOT, 'bench', 'fixtures', f);

  const hello = await bundle('hello-world', fixture('hello.ts'), out, tsconfig);
  const handlers = await Promise.all(
    HANDLER_NAMES.map((n) => bundle(n, path.join(REPO_ROOT, 'functions', 'handlers', `${n}.ts`), out, tsconfig)),
  );
  const zodClassic = await bundle('zod-classic', fixture('zod-classic.ts'), out, tsconfig);
  const zodMini = await bundle('zod-mini', fixture('zod-mini.ts'), out, tsconfig);
  const compare: Array<{ ref: string; subject: string; handlers: Built[] }> = [];
  for (const ref of opts.compareRefs ?? []) {
    const { root, sha, subject } = checkout(ref);
    const built = await Promise.all(
      HANDLER_NAMES.map((n) =>
        bundle(
          `${n}@${sha}`,
          path.join(root, 'functions', 'handlers', `${n}.ts`),
          path.join(out, 'compare'),
          path.join(root, 'tsconfig.json'),
        ),
      ),
    );
    compare.push({ ref: sha, subject, handlers: built });
  }

  const all = [hello, ...handlers, zodClassic, zodMini, ...compare.flatMap((c) => c.handlers)];
  const samples = new Map<string, Array<[number, number]>>(all.map((b) => [b.file, []]));
  // Warm the file cache once, then measure round robin.
  for (const b of all) await timeImport(b.file);
  for (let run = 0; run < opts.runs; run++) {
    for (const b of all) samples.get(b.file)!.push(await timeImport(b.file));
  }
  const median = (b: Built, i: 0 | 1) =>
    percentile(
      samples.get(b.file)!.map((s) => s[i]),
      50,
    );
  const helloImport = median(hello, 0);
  const helloInit = median(hello, 1);
  const measure = (b: Built): BundleMeasure => ({
    name: b.name,
    bytes: b.bytes,
    gzipBytes: b.gzipBytes,
    sourceMapBytes: b.sourceMapBytes,
    heaviest: b.heaviest,
    importMs: median(b, 0),
    initMs: median(b, 1),
    importRatio: median(b, 0) / helloImport,
    initRatio: median(b, 1) / helloInit,
  });
  return {
    runs: opts.runs,
    hello: measure(hello),
    handlers: handlers.map(measure),
    zod: { classic: measure(zodClassic), mini: measure(zodMini) },
    compare: compare.map((c) => ({ ref: c.ref, subject: c.subject, handlers: c.handlers.map(measure) })),
  };
}
