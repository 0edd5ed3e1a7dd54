/**
 * The CDK app: one `Hookrelay` stack, checked by cdk-nag's AWS Solutions rules on every synth.
 *
 * Options come from CDK context (`-c key=value` or cdk.json):
 *   hookrelay:alarmTopicArn        SNS topic every alarm notifies (default: none)
 *   hookrelay:removalPolicy        `retain` (default) or `destroy`: what deleting the stack does
 *                                  to the table and the log groups
 *   hookrelay:allowPrivateTargets  `true` lets webhooks go to private addresses (default false)
 *   hookrelay:retrySchedule        comma-separated seconds, e.g. `1,1,1` for an end-to-end test stack
 *                                  (default: the contract's 5,300,1800,7200,18000,36000,36000)
 *   hookrelay:portalFrameAncestors who may embed the portal in a frame, e.g. `https://app.example.com`
 *                                  (CSP frame-ancestors; default 'none')
 *   hookrelay:portalUrl            the origin portal links point to (default: the API's own)
 *   hookrelay:portalRateLimit      each portal link's calls, `<burst>,<per second>` (default 120,20)
 *   hookrelay:api                  `http` (default) or `rest`: the API Gateway shape; LocalStack's
 *                                  free image implements only `rest`
 *   hookrelay:dashboard            `false` leaves the CloudWatch dashboard out (default true)
 */
import { App, RemovalPolicy, Validations, type Environment } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { pathToFileURL } from 'node:url';
import { parsePortalRateLimit } from '../functions/config';
import type { ApiShape } from './constructs/api';
import { HookrelayStack } from './webhook-stack';

export const STACK_NAME = 'Hookrelay';

function stringContext(app: App, key: string): string | undefined {
  const v: unknown = app.node.tryGetContext(key);
  return typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined;
}

function booleanContext(app: App, key: string): boolean | undefined {
  const v: unknown = app.node.tryGetContext(key);
  if (v === undefined) return undefined;
  if (v === true || v === 'true') return true;
  if (v === false || v === 'false') return false;
  throw new Error(`context ${key} must be true or false, got ${JSON.stringify(v)}`);
}

function removalPolicyContext(app: App): RemovalPolicy | undefined {
  const v: unknown = app.node.tryGetContext('hookrelay:removalPolicy');
  if (v === undefined) return undefined;
  if (v === 'retain') return RemovalPolicy.RETAIN;
  if (v === 'destroy') return RemovalPolicy.DESTROY;
  throw new Error(`context hookrelay:removalPolicy must be retain or destroy, got ${JSON.stringify(v)}`);
}

function portalRateLimitContext(app: App): { capacity: number; refillPerS: number } | undefined {
  const v = stringContext(app, 'hookrelay:portalRateLimit');
  if (v === undefined) return undefined;
  try {
    return parsePortalRateLimit(v);
  } catch (e) {
    throw new Error(`context hookrelay:portalRateLimit ${(e as Error).message}`);
  }
}

function scheduleContext(app: App): number[] | undefined {
  const v: unknown = app.node.tryGetContext('hookrelay:retrySchedule');
  if (v === undefined) return undefined;
  const parts = String(v)
    .split(',')
    .map((p) => Number(p.trim()));
  if (parts.length === 0 || parts.some((n) => !Number.isInteger(n))) {
    throw new Error(`context hookrelay:retrySchedule must be comma-separated whole seconds, got ${JSON.stringify(v)}`);
  }
  return parts;
}

function apiShapeContext(app: App): ApiShape | undefined {
  const v: unknown = app.node.tryGetContext('hookrelay:api');
  if (v === undefined) return undefined;
  if (v === 'http' || v === 'rest') return v;
  throw new Error(`context hookrelay:api must be http or rest, got ${JSON.stringify(v)}`);
}

/** The account and region the CLI resolved, when it did; otherwise an environment-agnostic stack. */
function environmentFromCli(): Environment | undefined {
  const account = process.env.CDK_DEFAULT_ACCOUNT;
  const region = process.env.CDK_DEFAULT_REGION;
  if (!account && !region) return undefined;
  return { ...(account ? { account } : {}), ...(region ? { region } : {}) };
}

/** Adds the hookrelay stack and the cdk-nag checks to an app. */
export function buildApp(app: App = new App()): { app: App; stack: HookrelayStack } {
  const topicArn: unknown = app.node.tryGetContext('hookrelay:alarmTopicArn');
  const stack = new HookrelayStack(app, STACK_NAME, {
    env: environmentFromCli(),
    alarmTopicArn: typeof topicArn === 'string' && topicArn !== '' ? topicArn : undefined,
    hookrelay: {
      removalPolicy: removalPolicyContext(app),
      allowPrivateTargets: booleanContext(app, 'hookrelay:allowPrivateTargets'),
      retryScheduleS: scheduleContext(app),
      portal: {
        frameAncestors: stringContext(app, 'hookrelay:portalFrameAncestors'),
        url: stringContext(app, 'hookrelay:portalUrl'),
        rateLimit: portalRateLimitContext(app),
      },
      apiShape: apiShapeContext(app),
      dashboard: booleanContext(app, 'hookrelay:dashboard'),
    },
  });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return { app, stack };
}

// Run when executed (`cdk synth` runs `tsx infra/app.ts`), not when a test imports buildApp.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  buildApp().app.synth();
}
