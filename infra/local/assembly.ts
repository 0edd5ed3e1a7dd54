/**
 * The cloud assembly the local runtime runs: `cdk synth` of this repository (the template and
 * the bundled functions, built with the local esbuild, offline), cached under
 * `node_modules/.cache/hookrelay/assembly/<hash>` where the hash covers every input of the synth:
 * the modules the CDK app imports, the functions it bundles, package.json, package-lock.json,
 * cdk.json, tsconfig.json and the context. A start with an unchanged tree
 * reuses the cached assembly; the first start after a change synthesizes it (~5-10 s).
 *
 * `bundle: false` synthesizes the template without bundling the functions (the runtime then runs
 * the TypeScript sources): the same wiring, a faster synth.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LocalStackError } from './errors';
import type { CfnTemplate } from './template';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const STACK_NAME = 'Hookrelay';
const CACHE_ROOT = join(REPO_ROOT, 'node_modules', '.cache', 'hookrelay', 'assembly');
/** Cached assemblies kept besides the one in use (each is ~2 MB). */
const KEEP = 4;

export interface Assembly {
  /** The assembly directory (holds `<stack>.template.json` and `asset.<hash>/`). */
  dir: string;
  template: CfnTemplate;
  /** Whether this start synthesized it (false: taken from the cache). */
  synthesized: boolean;
  synthMs: number;
  bundled: boolean;
}

export interface AssemblyOptions {
  /** Bundle the functions (default true); false for a template-only synth. */
  bundle?: boolean;
  /** Extra CDK context (`-c key=value`). */
  context?: Record<string, string>;
  /** An assembly already synthesized (e.g. `cdk.out`): used as is, never cached or rebuilt. */
  dir?: string;
}

/**
 * Files whose content goes into the hash: every module the CDK app imports (esbuild follows its
 * imports; packages are covered by the lock file) and, when the functions are bundled, everything
 * under functions/. A template-only synth does not change when a handler does, so running the
 * sources after an edit needs no new synth.
 */
async function inputFiles(bundle: boolean): Promise<string[]> {
  const { build } = await import('esbuild');
  const result = await build({
    entryPoints: [join(REPO_ROOT, 'infra', 'app.ts')],
    bundle: true,
    platform: 'node',
    format: 'esm',
    packages: 'external',
    metafile: true,
    write: false,
    logLevel: 'silent',
    absWorkingDir: REPO_ROOT,
  });
  const files = new Set(Object.keys(result.metafile.inputs).map((f) => join(REPO_ROOT, f)));
  for (const f of ['package.json', 'package-lock.json', 'cdk.json', 'tsconfig.json']) files.add(join(REPO_ROOT, f));
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else files.add(path);
    }
  };
  if (bundle) walk(join(REPO_ROOT, 'functions'));
  return [...files].sort();
}

export async function assemblyKey(opts: AssemblyOptions = {}): Promise<string> {
  const bundle = opts.bundle !== false;
  const hash = createHash('sha256');
  hash.update(JSON.stringify({ bundle, context: opts.context ?? {} }));
  for (const file of await inputFiles(bundle)) {
    hash.update(relative(REPO_ROOT, file));
    hash.update('\0');
    hash.update(readFileSync(file));
    hash.update('\0');
  }
  return hash.digest('hex').slice(0, 20);
}

function readTemplate(dir: string): CfnTemplate {
  const file = join(dir, `${STACK_NAME}.template.json`);
  if (!existsSync(file)) throw new LocalStackError(`${dir} holds no ${STACK_NAME}.template.json`);
  return JSON.parse(readFileSync(file, 'utf8')) as CfnTemplate;
}

/** The assembly for the current tree: from the cache, or synthesized now (and cached). */
export async function loadAssembly(opts: AssemblyOptions = {}): Promise<Assembly> {
  const bundled = opts.bundle !== false;
  if (opts.dir) return { dir: opts.dir, template: readTemplate(opts.dir), synthesized: false, synthMs: 0, bundled };
  const key = `${bundled ? 'bundled' : 'template'}-${await assemblyKey(opts)}`;
  const dir = join(CACHE_ROOT, key);
  if (existsSync(join(dir, 'manifest.json'))) {
    return { dir, template: readTemplate(dir), synthesized: false, synthMs: 0, bundled };
  }
  const started = Date.now();
  mkdirSync(CACHE_ROOT, { recursive: true });
  const tmp = `${dir}.tmp-${process.pid}-${Date.now()}`;
  await synthesize(tmp, bundled, opts.context ?? {});
  try {
    renameSync(tmp, dir);
  } catch (err) {
    // Another process (a parallel test file) cached the same assembly first: use theirs.
    rmSync(tmp, { recursive: true, force: true });
    if (!existsSync(join(dir, 'manifest.json'))) throw err;
  }
  prune(dir);
  return { dir, template: readTemplate(dir), synthesized: true, synthMs: Date.now() - started, bundled };
}

/** `cdk synth` without the CLI: the app itself, told where to write by CDK_OUTDIR. */
function synthesize(outdir: string, bundle: boolean, context: Record<string, string>): Promise<void> {
  const cdkJson = JSON.parse(readFileSync(join(REPO_ROOT, 'cdk.json'), 'utf8')) as {
    context?: Record<string, unknown>;
  };
  const ctx: Record<string, unknown> = { ...cdkJson.context, ...context };
  if (!bundle) ctx['aws:cdk:bundling-stacks'] = [];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'infra', 'app.ts')], {
      cwd: REPO_ROOT,
      env: {
        ...process.env,
        CDK_OUTDIR: outdir,
        CDK_CONTEXT_JSON: JSON.stringify(ctx),
        CDK_DISABLE_VERSION_CHECK: '1',
        // An environment-agnostic stack, whatever credentials this shell holds.
        CDK_DEFAULT_ACCOUNT: '',
        CDK_DEFAULT_REGION: '',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0 && existsSync(join(outdir, 'manifest.json'))) resolve();
      else {
        rmSync(outdir, { recursive: true, force: true });
        reject(new LocalStackError(`cdk synth failed (exit ${code}):\n${output.slice(-4000)}`));
      }
    });
  });
}

/** Keeps the newest few cached assemblies. */
function prune(current: string): void {
  const entries = readdirSync(CACHE_ROOT)
    .map((name) => join(CACHE_ROOT, name))
    .filter((p) => p !== current)
    .map((p) => ({ p, t: statSync(p).mtimeMs }))
    // Another process may be writing a `.tmp-` directory now; only a stale one goes.
    .filter(({ p, t }) => !p.includes('.tmp-') || Date.now() - t > 10 * 60_000)
    .sort((a, b) => b.t - a.t);
  for (const { p } of entries.slice(KEEP)) rmSync(p, { recursive: true, force: true });
}
