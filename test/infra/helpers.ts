/**
 * Synthesizes hookrelay for Template assertions without bundling the handlers (the
 * `aws:cdk:bundling-stacks` context names no stack): fast, and independent of the handlers'
 * code. The real bundling is exercised by synth.test.ts.
 */
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { HookrelayStack, type HookrelayStackProps } from '../../infra/webhook-stack';

export const SKIP_BUNDLING = { 'aws:cdk:bundling-stacks': [] as string[] };

export function testApp(): App {
  return new App({ context: SKIP_BUNDLING });
}

export function synth(props: HookrelayStackProps = {}): { stack: HookrelayStack; template: Template } {
  const stack = new HookrelayStack(testApp(), 'Hookrelay', props);
  return { stack, template: Template.fromStack(stack) };
}

export interface Resource {
  Type: string;
  Properties: Record<string, unknown>;
  DeletionPolicy?: string;
  UpdateReplacePolicy?: string;
}

export function resourcesOf(template: Template, type: string): Record<string, Resource> {
  return template.findResources(type) as Record<string, Resource>;
}

/** The logical id of the single resource of a type whose id contains every part given. */
export function logicalId(template: Template, type: string, ...parts: string[]): string {
  const ids = Object.keys(template.findResources(type)).filter((id) => parts.every((p) => id.includes(p)));
  if (ids.length !== 1) {
    throw new Error(`expected one ${type} whose id contains ${parts.join(' and ')}, found ${ids.join(', ') || 'none'}`);
  }
  return ids[0]!;
}

export const arnOf = (id: string) => ({ 'Fn::GetAtt': [id, 'Arn'] });
export const refOf = (id: string) => ({ Ref: id });

export interface Statement {
  Effect: 'Allow' | 'Deny';
  Action: string | string[];
  Resource: unknown;
  Principal?: unknown;
  Condition?: unknown;
}

export const actionsOf = (s: Statement): string[] => (Array.isArray(s.Action) ? s.Action : [s.Action]);
export const resourcesOfStatement = (s: Statement): unknown[] =>
  Array.isArray(s.Resource) ? s.Resource : [s.Resource];

/** Every statement of every IAM policy in the template: identity policies and inline role policies. */
export function identityStatements(template: Template): Array<{ owner: string; statement: Statement }> {
  const out: Array<{ owner: string; statement: Statement }> = [];
  for (const [id, r] of Object.entries(resourcesOf(template, 'AWS::IAM::Policy'))) {
    const doc = r.Properties.PolicyDocument as { Statement: Statement[] };
    const roles = (r.Properties.Roles as Array<{ Ref: string }>).map((x) => x.Ref);
    for (const statement of doc.Statement) out.push({ owner: roles.join(',') || id, statement });
  }
  for (const [id, r] of Object.entries(resourcesOf(template, 'AWS::IAM::Role'))) {
    const policies = (r.Properties.Policies ?? []) as Array<{ PolicyDocument: { Statement: Statement[] } }>;
    for (const p of policies) for (const statement of p.PolicyDocument.Statement) out.push({ owner: id, statement });
  }
  return out;
}

/** The Allow statements of one role's policies. */
export function allowsOfRole(template: Template, roleId: string): Statement[] {
  return identityStatements(template)
    .filter((s) => s.owner.split(',').includes(roleId) && s.statement.Effect === 'Allow')
    .map((s) => s.statement);
}

/** Whether a role may perform an action on a resource (compared as CloudFormation JSON). */
export function roleCan(template: Template, roleId: string, action: string, resource: unknown): boolean {
  const want = JSON.stringify(resource);
  return allowsOfRole(template, roleId).some(
    (s) => actionsOf(s).includes(action) && resourcesOfStatement(s).some((r) => JSON.stringify(r) === want),
  );
}
