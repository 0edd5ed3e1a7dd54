/**
 * IAM from what the code really calls. The end-to-end suite runs the synthesized assembly and
 * records every AWS call each function makes (infra/local/aws-calls.ts), with the ARN the
 * deployed stack would target. Here each call is evaluated, by a real IAM policy evaluator
 * (@cloud-copilot/iam-simulate), against the synthesized template: the caller's role policies and
 * the target's resource policy (queue policies, Lambda permissions) where it has one.
 *
 * - every recorded call must be allowed;
 * - every action a role grants must be used by some recorded call, or acknowledged with a reason
 *   in infra/iam-acknowledgements.ts; an acknowledgement matching no unused grant is stale.
 *
 * This project runs after every other test file (vitest.config.ts), on the calls they recorded.
 */
import { runSimulation } from '@cloud-copilot/iam-simulate';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { GRANT_ACKNOWLEDGEMENTS, type GrantAcknowledgement } from '../../infra/iam-acknowledgements';
import { STACK_NAME } from '../../infra/local/assembly';
import type { AwsCall } from '../../infra/local/aws-calls';
import { LOCAL_ACCOUNT_ID, LOCAL_REGION } from '../../infra/local/lambda';
import { deployedNaming, readModel, resolve, type CfnTemplate } from '../../infra/local/template';
import { AWS_CALLS_DIR } from '../helpers/target';

interface Statement {
  Effect: 'Allow' | 'Deny';
  Action: string | string[];
  Resource?: unknown;
  Principal?: unknown;
  Condition?: unknown;
  Sid?: string;
}
interface PolicyDocument {
  Version?: string;
  Statement: Statement[];
}

const naming = deployedNaming(LOCAL_ACCOUNT_ID, LOCAL_REGION, STACK_NAME);
const list = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);
const glob = (pattern: string) =>
  new RegExp(
    `^${pattern
      .split('*')
      .map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*')}$`,
    'i',
  );

/** A granted resource as the template writes it: the logical id it refers to, with any suffix. */
function label(v: unknown): string {
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    if (typeof o.Ref === 'string') return o.Ref.startsWith('AWS::') ? '' : o.Ref;
    if (Array.isArray(o['Fn::GetAtt'])) return String(o['Fn::GetAtt'][0]);
    if (Array.isArray(o['Fn::Join'])) {
      const [sep, parts] = o['Fn::Join'] as [string, unknown[]];
      const labels = parts.map(label);
      // arn:aws:logs:...:log-group:<ref>:* and the like: the referenced part names the resource.
      const refs = parts.map((p, i) => (typeof p === 'string' ? undefined : labels[i])).filter((x) => x);
      if (refs.length > 0)
        return refs.join(sep) + (typeof parts.at(-1) === 'string' ? String(parts.at(-1)).replace(/^[^/]*/, '') : '');
      return labels.join(sep);
    }
  }
  return JSON.stringify(v);
}

interface Grant {
  role: string;
  action: string;
  /** The deployed ARN pattern (resolved). */
  resource: string;
  /** How the template names it (for acknowledgements). */
  label: string;
}

let template: CfnTemplate;
let calls: AwsCall[] = [];
let roleOfId: Map<string, string>;
const identityPolicies = new Map<string, PolicyDocument[]>();
const resourcePolicies = new Map<string, Statement[]>();
let grants: Grant[] = [];

beforeAll(() => {
  if (!existsSync(AWS_CALLS_DIR) || readdirSync(AWS_CALLS_DIR).length === 0) {
    throw new Error(
      `no recorded AWS calls in ${AWS_CALLS_DIR}: they come from the end-to-end suite on the assembly (npm test runs it first)`,
    );
  }
  const records = readdirSync(AWS_CALLS_DIR).map(
    (f) => JSON.parse(readFileSync(join(AWS_CALLS_DIR, f), 'utf8')) as { assembly: string; calls: AwsCall[] },
  );
  const assemblies = new Set(records.map((r) => r.assembly));
  expect(assemblies.size, `the calls were recorded on more than one assembly: ${[...assemblies].join(', ')}`).toBe(1);
  template = JSON.parse(readFileSync(join([...assemblies][0]!, `${STACK_NAME}.template.json`), 'utf8')) as CfnTemplate;
  const seen = new Set<string>();
  calls = records
    .flatMap((r) => r.calls)
    .filter((c) => {
      const key = JSON.stringify(c);
      return !seen.has(key) && seen.add(key) !== undefined;
    });

  const model = readModel(template);
  roleOfId = new Map(model.functions.map((f) => [f.roleId!, f.role]));
  const r = (v: unknown, where: string) => resolve(template, naming, v, where);
  for (const [id, res] of Object.entries(template.Resources)) {
    const p = res.Properties ?? {};
    if (res.Type === 'AWS::IAM::Policy') {
      for (const role of list(p.Roles as unknown[])) {
        const roleId = (role as { Ref: string }).Ref;
        const doc = p.PolicyDocument as PolicyDocument;
        identityPolicies.set(roleId, [...(identityPolicies.get(roleId) ?? []), r(doc, id) as PolicyDocument]);
        for (const s of doc.Statement.filter((x) => x.Effect === 'Allow')) {
          for (const action of list(s.Action)) {
            for (const resource of list(s.Resource)) {
              grants.push({ role: roleId, action, resource: String(r(resource, id)), label: label(resource) });
            }
          }
        }
      }
    }
    if (res.Type === 'AWS::IAM::Role') {
      for (const inline of list(p.Policies as { PolicyDocument: PolicyDocument }[])) {
        identityPolicies.set(id, [...(identityPolicies.get(id) ?? []), r(inline.PolicyDocument, id) as PolicyDocument]);
      }
    }
    if (res.Type === 'AWS::SQS::QueuePolicy') {
      const doc = r(p.PolicyDocument, id) as PolicyDocument;
      for (const q of list(p.Queues as unknown[])) {
        const arn = String(r({ 'Fn::GetAtt': [(q as { Ref: string }).Ref, 'Arn'] }, id));
        resourcePolicies.set(arn, [...(resourcePolicies.get(arn) ?? []), ...doc.Statement]);
      }
    }
    if (res.Type === 'AWS::Lambda::Permission') {
      const fn = String(r(p.FunctionName, id));
      const statement: Statement = {
        Sid: id,
        Effect: 'Allow',
        Principal: { Service: p.Principal },
        Action: String(p.Action),
        Resource: fn,
        ...(p.SourceArn ? { Condition: { ArnLike: { 'aws:SourceArn': r(p.SourceArn, id) } } } : {}),
      };
      resourcePolicies.set(fn, [...(resourcePolicies.get(fn) ?? []), statement]);
    }
  }
  grants = grants.filter((g) => roleOfId.has(g.role));
});

const principalOf = (call: AwsCall): string => {
  if (call.principal.startsWith('service:')) return call.principal.slice('service:'.length);
  const roleId = call.principal.slice('role:'.length);
  const role = naming.attributes(roleId, template.Resources[roleId]!).Ref!;
  // A function's calls are made by a session of its role.
  return `arn:aws:sts::${LOCAL_ACCOUNT_ID}:assumed-role/${role}/${roleOfId.get(roleId) ?? 'session'}`;
};

async function decide(call: AwsCall) {
  const roleId = call.principal.startsWith('role:') ? call.principal.slice('role:'.length) : undefined;
  const resourcePolicy = resourcePolicies.get(call.resource);
  const result = await runSimulation(
    {
      request: {
        principal: principalOf(call),
        action: call.action,
        resource: { resource: call.resource, accountId: LOCAL_ACCOUNT_ID },
        contextVariables: {
          // The SDK and AWS's services call over TLS (the queues deny anything else).
          'aws:SecureTransport': 'true',
          ...(call.context?.['aws:SourceArn'] ? { 'aws:SourceAccount': LOCAL_ACCOUNT_ID } : {}),
          ...call.context,
        },
      },
      identityPolicies: (roleId ? (identityPolicies.get(roleId) ?? []) : []).map((policy, i) => ({
        name: `${roleId}-${i}`,
        policy,
      })),
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      ...(resourcePolicy ? { resourcePolicy: { Version: '2012-10-17', Statement: resourcePolicy } } : {}),
    },
    {},
  );
  if (result.resultType === 'error') return `error: ${JSON.stringify(result.errors).slice(0, 600)}`;
  return result.overallResult;
}

const usedBy = (g: Grant) =>
  calls.some(
    (c) => c.principal === `role:${g.role}` && glob(g.action).test(c.action) && glob(g.resource).test(c.resource),
  );
const acknowledges = (a: GrantAcknowledgement, g: Grant) =>
  roleOfId.get(g.role) === a.role && glob(a.action).test(g.action) && glob(a.resource).test(g.label);

describe('IAM, judged on the calls the end-to-end run made', () => {
  it('recorded calls from every function the template defines', () => {
    const byRole = new Map<string, Set<string>>();
    for (const c of calls) {
      const who = c.principal.startsWith('role:') ? (roleOfId.get(c.principal.slice(5)) ?? c.principal) : c.principal;
      byRole.set(who, (byRole.get(who) ?? new Set()).add(c.action));
    }
    const summary = [...byRole].map(
      ([who, actions]) => `${who}: ${actions.size} action(s) [${[...actions].sort().join(', ')}]`,
    );
    console.log(`${calls.length} distinct calls\n${summary.join('\n')}`);
    expect([...byRole.keys()]).toEqual(expect.arrayContaining([...roleOfId.values()]));
    expect(calls.some((c) => c.action.startsWith('unknown:') || c.resource.startsWith('unknown:'))).toBe(false);
  });

  it('allows every recorded call under the caller’s own policies and the target’s resource policy', async () => {
    const denied: string[] = [];
    for (const call of calls) {
      const decision = await decide(call);
      if (decision !== 'Allowed')
        denied.push(`${call.principal} (${call.via}) ${call.action} ${call.resource}: ${decision}`);
    }
    expect(denied).toEqual([]);
  });

  it('grants no action that no call used, unless a written reason acknowledges it', () => {
    const unused = grants.filter((g) => !usedBy(g));
    const unexplained = unused
      .filter((g) => !GRANT_ACKNOWLEDGEMENTS.some((a) => acknowledges(a, g)))
      .map((g) => `${roleOfId.get(g.role)}: ${g.action} on ${g.label}`);
    expect(unexplained).toEqual([]);
  });

  it('keeps no acknowledgement that matches no unused grant', () => {
    const unused = grants.filter((g) => !usedBy(g));
    const stale = GRANT_ACKNOWLEDGEMENTS.filter((a) => !unused.some((g) => acknowledges(a, g))).map(
      (a) => `${a.role}: ${a.action} on ${a.resource}`,
    );
    expect(stale).toEqual([]);
  });
});

describe('the evaluator itself', () => {
  it('denies what a role does not grant, so an allowed verdict means something', async () => {
    const call = calls.find((c) => c.principal.startsWith('role:') && c.action === 'sqs:SendMessage');
    expect(call).toBeDefined();
    expect(await decide({ ...call!, action: 'sqs:PurgeQueue' })).toBe('ImplicitlyDenied');
    expect(await decide({ ...call!, resource: `${call!.resource}-elsewhere` })).toBe('ImplicitlyDenied');
    // The queues' TLS-only policy: the same call over plain HTTP is explicitly denied.
    expect(await decide({ ...call!, context: { 'aws:SecureTransport': 'false' } })).toBe('ExplicitlyDenied');
  });
});
