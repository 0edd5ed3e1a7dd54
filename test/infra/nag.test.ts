import { App, Stack, Validations } from 'aws-cdk-lib';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../infra/app';
import { SKIP_BUNDLING } from './helpers';

interface Finding {
  rule: string;
  severity: string;
  paths: string[];
}

/** Runs AWS Solutions over an app's construct tree, optionally ignoring every acknowledgement. */
function findings(app: App, { ignoreAcknowledgements = false } = {}): Finding[] {
  const pack = new AwsSolutionsChecks(app);
  if (ignoreAcknowledgements) Object.defineProperty(pack, 'isAcknowledged', { value: () => false });
  return pack.validateScope(app).violations.map((v) => ({
    rule: v.ruleName,
    severity: String(v.severity),
    paths: v.violatingResources.map((r) => (r as { constructPath?: string }).constructPath ?? '?'),
  }));
}

/** Every acknowledgement in the tree: where it was made, of what, and why. */
function acknowledgements(root: IConstruct): Array<{ path: string; id: string; reason: string }> {
  const out: Array<{ path: string; id: string; reason: string }> = [];
  const visit = (node: IConstruct) => {
    for (const m of node.node.metadata) {
      if (m.type !== Validations.ACKNOWLEDGED_RULES_METADATA_KEY) continue;
      for (const [id, reason] of Object.entries(m.data as Record<string, string>)) {
        out.push({ path: node.node.path, id: id.replace(/^annotation::/i, ''), reason });
      }
    }
    node.node.children.forEach(visit);
  };
  visit(root);
  return out;
}

/** The two deploy shapes: the default, and the one LocalStack's free image deploys. */
const SHAPES: Array<[string, Record<string, string>]> = [
  ['the default shape (HTTP API, dashboard)', {}],
  ['the LocalStack shape (REST API, no dashboard)', { 'hookrelay:api': 'rest', 'hookrelay:dashboard': 'false' }],
];

describe.each(SHAPES)('cdk-nag AwsSolutions on %s', (_name, context) => {
  let app: App;

  beforeAll(() => {
    ({ app } = buildApp(new App({ context: { ...SKIP_BUNDLING, ...context } })));
    // The app registers the checks itself: synth fails on any unacknowledged error or warning.
    app.synth();
  });

  it('reports no unacknowledged error or warning on the app', () => {
    expect(findings(app)).toEqual([]);
  });

  it('has every acknowledgement name one finding that really occurs, with a reason', () => {
    const raw = findings(app, { ignoreAcknowledgements: true });
    const acks = acknowledgements(app);
    expect(acks.length).toBeGreaterThan(0);
    for (const ack of acks) {
      expect(ack.reason.length, `${ack.path} ${ack.id}`).toBeGreaterThan(40);
      const matched = raw.some(
        (f) => f.rule === ack.id && f.paths.some((p) => p === ack.path || p.startsWith(`${ack.path}/`)),
      );
      expect(matched, `stale acknowledgement ${ack.id} at ${ack.path}`).toBe(true);
    }
    // Wildcard findings are acknowledged one by one, never the whole rule.
    expect(acks.filter((a) => a.id === 'AwsSolutions-IAM5')).toEqual([]);
  });
});

describe('cdk-nag AwsSolutions', () => {
  it('does catch a non-compliant resource (the check is live)', () => {
    const bad = new App({ context: SKIP_BUNDLING });
    new sqs.Queue(new Stack(bad, 'Bad'), 'Plain', { encryption: sqs.QueueEncryption.UNENCRYPTED });
    expect(
      findings(bad)
        .map((f) => f.rule)
        .sort(),
    ).toEqual(['AwsSolutions-SQS2', 'AwsSolutions-SQS3', 'AwsSolutions-SQS4']);
  });
});
