/**
 * Each function's bundle carries its own function's code (issue 18: the composition root builds
 * each function's services apart, so esbuild leaves out what a function never uses). Built as
 * the stack builds them (infra/constructs/bundling.ts), in memory; the metafile says what is in.
 */
import { build, type Metafile } from 'esbuild';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  ESBUILD_LAMBDA_OPTIONS,
  HANDLER_NAMES,
  REPO_ROOT,
  defaultHandlerEntry,
  type HandlerName,
} from '../../infra/constructs/bundling';

const contents = {} as Record<HandlerName, { sources: Set<string>; external: Set<string> }>;

beforeAll(async () => {
  for (const name of HANDLER_NAMES) {
    const result = await build({
      entryPoints: [defaultHandlerEntry(name)],
      outfile: path.join(REPO_ROOT, 'dist', name, 'index.mjs'),
      write: false,
      ...ESBUILD_LAMBDA_OPTIONS,
      mainFields: [...ESBUILD_LAMBDA_OPTIONS.mainFields],
      external: [...ESBUILD_LAMBDA_OPTIONS.external],
      tsconfig: path.join(REPO_ROOT, 'tsconfig.json'),
      metafile: true,
    });
    const outputs = Object.values((result.metafile as Metafile).outputs);
    contents[name] = {
      // Only what made it into the output: a module imported and then dropped whole is not in.
      sources: new Set(
        outputs.flatMap((o) =>
          Object.entries(o.inputs)
            .filter(([, input]) => input.bytesInOutput > 0)
            .map(([file]) => file),
        ),
      ),
      external: new Set(outputs.flatMap((o) => o.imports.filter((i) => i.external).map((i) => i.path))),
    };
  }
}, 120_000);

/** The handlers whose bundle holds a source file (or a package: `node_modules/<name>/`). */
const holding = (file: string) =>
  HANDLER_NAMES.filter((name) => [...contents[name].sources].some((s) => s.includes(file)));

describe('each function’s bundle', () => {
  it('holds the delivery worker (deliver, the flow gate, the ordered lane, the HTTP sender) in the delivery function only', () => {
    expect(holding('functions/delivery/deliver.ts')).toEqual(['delivery']);
    expect(holding('functions/flow/gate.ts')).toEqual(['delivery']);
    expect(holding('functions/webhook/http-sender.ts')).toEqual(['delivery']);
    expect(holding('functions/ordering/ordered-lane.ts')).toEqual(['delivery']);
    expect(holding('functions/webhook/oauth2-tokens.ts')).toEqual(['delivery']);
  });

  it('holds the route table and the portal’s files in the api function only', () => {
    expect(holding('functions/api/routes.ts')).toEqual(['api']);
    expect(holding('functions/handlers/http/portal-assets.json')).toEqual(['api']);
  });

  it('holds the JSON Schema compiler (ajv) only where events are validated: the api and ingest', () => {
    expect(holding('node_modules/ajv/')).toEqual(['api', 'ingest']);
  });

  it('holds housekeeping in the housekeeping function only', () => {
    expect(holding('functions/delivery/housekeeping.ts')).toEqual(['housekeeping']);
  });

  it('loads the Secrets Manager client in the api function only (the admin key)', () => {
    expect(HANDLER_NAMES.filter((n) => contents[n].external.has('@aws-sdk/client-secrets-manager'))).toEqual(['api']);
  });
});
