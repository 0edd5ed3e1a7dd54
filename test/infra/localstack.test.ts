/**
 * The LocalStack shape (`-c hookrelay:api=rest -c hookrelay:dashboard=false`, what
 * `npm run deploy:localstack` deploys) uses only resource types LocalStack's free image
 * implements. Its CloudFormation skips unknown types silently, so a type outside the list would
 * deploy as a stack with a hole in it (today's default would lose its whole API).
 */
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../infra/app';
import { REPO_ROOT } from '../../infra/constructs/bundling';
import { SKIP_BUNDLING, resourcesOf } from './helpers';

const FREE = JSON.parse(readFileSync(path.join(REPO_ROOT, 'infra/localstack/free-resource-types.json'), 'utf8')) as {
  source: { repository: string; commit: string; read: string };
  types: string[];
};

export const LOCALSTACK_CONTEXT = { 'hookrelay:api': 'rest', 'hookrelay:dashboard': 'false' };

function template(context: Record<string, string> = {}): Template {
  const { stack } = buildApp(new App({ context: { ...SKIP_BUNDLING, ...context } }));
  return Template.fromStack(stack);
}

const typesOf = (t: Template) =>
  [...new Set(Object.values(t.toJSON().Resources as Record<string, { Type: string }>).map((r) => r.Type))].sort();

describe('the LocalStack shape', () => {
  let localstack: Template;
  let standard: Template;

  beforeAll(() => {
    localstack = template(LOCALSTACK_CONTEXT);
    standard = template();
  });

  it('keeps a dated list of the free image types, read from its source', () => {
    expect(FREE.source.repository).toBe('localstack/localstack');
    expect(FREE.source.commit).toMatch(/^[0-9a-f]{40}$/);
    expect(FREE.types.length).toBeGreaterThan(50);
    expect(FREE.types).toEqual([...FREE.types].sort());
  });

  it('uses no resource type outside the list', () => {
    expect(typesOf(localstack).filter((t) => !FREE.types.includes(t))).toEqual([]);
  });

  it('is what the default shape is not: the check bites on the HTTP API and the dashboard', () => {
    expect(typesOf(standard).filter((t) => !FREE.types.includes(t))).toEqual([
      'AWS::ApiGatewayV2::Api',
      'AWS::ApiGatewayV2::Integration',
      'AWS::ApiGatewayV2::Route',
      'AWS::ApiGatewayV2::Stage',
      'AWS::CloudWatch::Dashboard',
    ]);
  });

  it('fronts the api function with a REST API proxy whose stage is throttled and access-logged', () => {
    const methods = Object.values(resourcesOf(localstack, 'AWS::ApiGateway::Method'));
    // The root and {proxy+}, each ANY, each a Lambda proxy integration.
    expect(methods).toHaveLength(2);
    for (const m of methods) {
      expect(m.Properties.HttpMethod).toBe('ANY');
      expect((m.Properties.Integration as { Type: string }).Type).toBe('AWS_PROXY');
    }
    const [stage] = Object.values(resourcesOf(localstack, 'AWS::ApiGateway::Stage'));
    expect(stage!.Properties.StageName).toBe('api');
    expect(stage!.Properties.AccessLogSetting).toBeDefined();
    expect(stage!.Properties.MethodSettings).toEqual([
      expect.objectContaining({ ThrottlingRateLimit: 100, ThrottlingBurstLimit: 200, DataTraceEnabled: false }),
    ]);
    expect(JSON.stringify(stage!.Properties.AccessLogSetting)).not.toMatch(/authorization/i);
  });

  it('outputs ApiUrl without a trailing slash, in the execute-api form LocalStack rewrites to its host', () => {
    const url = (localstack.toJSON().Outputs as Record<string, { Value: unknown }>).ApiUrl!.Value as {
      'Fn::Join': [string, unknown[]];
    };
    const parts = url['Fn::Join'][1];
    expect(parts[0]).toBe('https://');
    expect(parts[2]).toBe('.execute-api.');
    // The stage by reference: its name, and the URL exists only once the stage does.
    const stageRef = parts.at(-1) as { Ref: string };
    expect(Object.keys(resourcesOf(localstack, 'AWS::ApiGateway::Stage'))).toEqual([stageRef.Ref]);
    expect(parts.at(-2)).toBe('/');
  });

  it('keeps every alarm, and drops the dashboard and its output', () => {
    expect(Object.keys(resourcesOf(localstack, 'AWS::CloudWatch::Alarm'))).toHaveLength(
      Object.keys(resourcesOf(standard, 'AWS::CloudWatch::Alarm')).length,
    );
    expect(resourcesOf(localstack, 'AWS::CloudWatch::Dashboard')).toEqual({});
    expect(Object.keys(localstack.toJSON().Outputs as object)).not.toContain('DashboardName');
    expect(Object.keys(standard.toJSON().Outputs as object)).toContain('DashboardName');
  });

  it('refuses an unknown API shape by name', () => {
    expect(() => template({ 'hookrelay:api': 'graphql' })).toThrow(/hookrelay:api must be http or rest/);
  });
});
