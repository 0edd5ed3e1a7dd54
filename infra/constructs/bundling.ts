/**
 * How every hookrelay Lambda is bundled, in one place: the stack (NodejsFunction) and
 * `scripts/bundle-sizes.ts` (esbuild directly) both read it, so the sizes the script prints are
 * the sizes that deploy. Plain data and paths only: no aws-cdk-lib import.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The Lambda entry points, one file each under functions/handlers/. */
export const HANDLER_NAMES = ['api', 'delivery', 'ingest', 'housekeeping'] as const;
export type HandlerName = (typeof HANDLER_NAMES)[number];

/** The repository root (where package.json and package-lock.json live). */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The source file of a handler in this repository. */
export function defaultHandlerEntry(name: HandlerName): string {
  return path.join(REPO_ROOT, 'functions', 'handlers', `${name}.ts`);
}

/** esbuild target: matches the Lambda runtime the stack deploys (nodejs24.x). */
export const NODE_TARGET = 'node24';

/**
 * ESM bundles have no `require`; CommonJS dependencies bundled inside them call it for Node
 * built-ins (`Dynamic require of "node:https" is not supported`), so give them one.
 */
export const ESM_REQUIRE_BANNER =
  "import { createRequire } from 'module';const require = createRequire(import.meta.url);";

/** Prefer the ESM build of dependencies that ship both (Powertools, middy). */
export const MAIN_FIELDS = ['module', 'main'];

/** The Node.js Lambda runtime ships AWS SDK v3: leave it out of the bundles. */
export const EXTERNAL_MODULES = ['@aws-sdk/*'];

/**
 * The esbuild options the stack's bundles are built with, for the scripts that build them the
 * same way outside CDK (scripts/bundle-sizes.ts, bench/cold-start.ts).
 */
export const ESBUILD_LAMBDA_OPTIONS = {
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: NODE_TARGET,
  mainFields: MAIN_FIELDS,
  banner: { js: ESM_REQUIRE_BANNER },
  external: EXTERNAL_MODULES,
  minify: true,
  sourcesContent: false,
  logLevel: 'error',
} as const;
