/**
 * The real thing, offline: `npx cdk synth` as an operator runs it (cdk.json's app, esbuild
 * bundling of the four handlers, cdk-nag), without AWS credentials or network calls.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../infra/constructs/bundling';

const run = promisify(execFile);

describe('npx cdk synth', () => {
  const outdir = mkdtempSync(path.join(tmpdir(), 'hookrelay-synth-'));
  let template: {
    Resources: Record<
      string,
      { Type: string; Properties: Record<string, unknown>; Metadata?: Record<string, unknown> }
    >;
    Outputs: Record<string, unknown>;
  };

  beforeAll(async () => {
    // No AWS_* variables at all: synth must need no credentials and no region.
    const env = Object.fromEntries(
      Object.entries(process.env).filter(([k]) => !k.startsWith('AWS_') && !k.startsWith('CDK_')),
    );
    await run('npx', ['cdk', 'synth', '--quiet', '--output', outdir], {
      cwd: REPO_ROOT,
      env: { ...env, CDK_DISABLE_VERSION_CHECK: '1' },
      timeout: 120_000,
    });
    template = JSON.parse(readFileSync(path.join(outdir, 'Hookrelay.template.json'), 'utf8')) as typeof template;
  }, 150_000);

  afterAll(() => rmSync(outdir, { recursive: true, force: true }));

  it('writes the Hookrelay template with the four contract outputs', () => {
    expect(Object.keys(template.Outputs)).toEqual(
      expect.arrayContaining(['ApiUrl', 'EventBusName', 'DeadLetterQueueUrl', 'TableName']),
    );
  });

  it('bundles each handler as minified ESM with the require banner, a source map, and the AWS SDK left out', () => {
    const fns = Object.values(template.Resources).filter((r) => r.Type === 'AWS::Lambda::Function');
    expect(fns).toHaveLength(4);
    for (const fn of fns) {
      const assetDir = path.join(outdir, String(fn.Metadata?.['aws:asset:path']));
      const bundle = path.join(assetDir, 'index.mjs');
      expect(existsSync(bundle), bundle).toBe(true);
      expect(existsSync(`${bundle}.map`)).toBe(true);
      const code = readFileSync(bundle, 'utf8');
      expect(
        code.startsWith("import { createRequire } from 'module';const require = createRequire(import.meta.url);"),
      ).toBe(true);
      // Minified: long lines (template literals keep some newlines; unminified code averages ~40).
      expect(code.length / code.split('\n').length).toBeGreaterThan(500);
      // The SDK is imported from the runtime's copy, not inlined (an inlined SDK carries its
      // "aws-sdk-js" user agent string).
      expect(code).toMatch(/from"@aws-sdk\/[a-z-]+"/);
      expect(code).not.toContain('aws-sdk-js');
      expect(readdirSync(assetDir).sort()).toEqual(['index.mjs', 'index.mjs.map']);
    }
  });
});
