/**
 * A second opinion on both templates: cfn-lint, AWS's CloudFormation linter (a Python tool;
 * `.ci/run` requires it, a fresh machine without it is told so). The LocalStack template comes
 * from the real `npm run synth:localstack`, bundles included; the default from the CDK app.
 */
import { App } from 'aws-cdk-lib';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../infra/app';
import { REPO_ROOT } from '../../infra/constructs/bundling';
import { toolOrNotice } from '../helpers/tools';
import { SKIP_BUNDLING } from './helpers';

const run = promisify(execFile);
const cfnLint = toolOrNotice('cfn-lint', 'the cfn-lint checks of both templates');

interface Finding {
  Level: 'Error' | 'Warning' | 'Informational';
  Rule: { Id: string };
  Message: string;
}

async function lint(templatePath: string): Promise<Finding[]> {
  // Exit codes are a bit mask of the levels found (2 error, 4 warning, 8 informational): read
  // the JSON report instead.
  const out = await run('cfn-lint', ['--format', 'json', templatePath], { timeout: 120_000 }).catch(
    (err: { stdout?: string; code?: number }) => {
      if (typeof err.stdout === 'string' && err.stdout.trim().startsWith('[')) return { stdout: err.stdout };
      throw err;
    },
  );
  return JSON.parse(out.stdout) as Finding[];
}

describe.runIf(cfnLint)('cfn-lint', () => {
  const outdir = mkdtempSync(path.join(tmpdir(), 'hookrelay-cfnlint-'));
  afterAll(() => rmSync(outdir, { recursive: true, force: true }));

  beforeAll(async () => {
    buildApp(new App({ outdir, context: SKIP_BUNDLING })).app.synth();
    await run('npm', ['run', '-s', 'synth:localstack'], {
      cwd: REPO_ROOT,
      env: { ...process.env, CDK_DISABLE_VERSION_CHECK: '1' },
      timeout: 150_000,
    });
  }, 180_000);

  it.each([
    ['the default template', () => path.join(outdir, 'Hookrelay.template.json')],
    [
      'the LocalStack template (npm run synth:localstack)',
      () => path.join(REPO_ROOT, 'cdk.out.localstack', 'Hookrelay.template.json'),
    ],
  ])('finds no error in %s', async (_name, file) => {
    const findings = await lint(file());
    const errors = findings.filter((f) => f.Level === 'Error').map((f) => `${f.Rule.Id}: ${f.Message}`);
    expect(errors).toEqual([]);
    // What is left is known and harmless: W3005, a DependsOn that CDK adds beside a reference.
    expect(findings.map((f) => f.Rule.Id).filter((id) => id !== 'W3005')).toEqual([]);
  });

  it('does report an error in a broken template (the linter is live)', async () => {
    const bad = path.join(outdir, 'bad.template.json');
    const { writeFileSync } = await import('node:fs');
    writeFileSync(
      bad,
      JSON.stringify({ Resources: { Q: { Type: 'AWS::SQS::Queue', Properties: { VisibilityTimeout: 'soon' } } } }),
    );
    expect((await lint(bad)).some((f) => f.Level === 'Error')).toBe(true);
  });
});
