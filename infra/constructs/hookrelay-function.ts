import { Stack, Tags, Validations, type CfnElement, type Duration, type RemovalPolicy } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import path from 'node:path';
import { FUNCTION_TAG, topology } from '../topology';
import {
  ESM_REQUIRE_BANNER,
  EXTERNAL_MODULES,
  MAIN_FIELDS,
  NODE_TARGET,
  REPO_ROOT,
  type HandlerName,
} from './bundling';

/**
 * Powertools' service name for every function. One name, so that the `service` dimension
 * Powertools puts on each metric is the same wherever a metric is emitted (events are accepted
 * by both the api and the ingest functions), and the dashboard and alarms can name it exactly.
 */
export const SERVICE_NAME = 'hookrelay';

export interface HookrelayFunctionProps {
  readonly handler: HandlerName;
  /** The handler's source file (TypeScript, exports `handler`). */
  readonly entry: string;
  readonly description: string;
  readonly timeout: Duration;
  readonly memorySize: number;
  /** Variables beyond the Powertools ones this construct sets. */
  readonly environment: Record<string, string>;
  readonly logRetention: logs.RetentionDays;
  readonly removalPolicy: RemovalPolicy;
  /** Asynchronous invocations (EventBridge targets): retries Lambda itself makes on an error. */
  readonly asyncRetryAttempts?: number;
  /** Asynchronous invocations that still fail land here. */
  readonly deadLetterQueue?: sqs.IQueue;
}

/**
 * One hookrelay Lambda: bundled locally by esbuild as minified ESM for Node 24 on ARM, with its
 * own log group (retention set, no `logs:CreateLogGroup` on `*`), X-Ray active tracing, and its
 * own role that starts empty. Every permission comes from a grant made by the construct that
 * owns the resource, so each function's role says exactly what that function touches.
 */
export class HookrelayFunction extends Construct {
  readonly fn: NodejsFunction;
  readonly role: iam.Role;
  readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: HookrelayFunctionProps) {
    super(scope, id);

    this.logGroup = new logs.LogGroup(this, 'Logs', {
      retention: props.logRetention,
      removalPolicy: props.removalPolicy,
    });

    // No AWSLambdaBasicExecutionRole: it allows creating any log group and writing to any log
    // stream. The log group exists already; the grant below lets this function write to it only.
    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `hookrelay ${props.handler} function`,
    });
    this.logGroup.grantWrite(this.role);

    this.fn = new NodejsFunction(this, 'Function', {
      entry: props.entry,
      handler: 'handler',
      description: props.description,
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: props.memorySize,
      timeout: props.timeout,
      role: this.role,
      logGroup: this.logGroup,
      loggingFormat: lambda.LoggingFormat.JSON,
      // Lambda's own START/END/REPORT lines on every invocation are billed log volume; its
      // duration and error metrics already carry what they say. Warnings and errors still log.
      systemLogLevelV2: lambda.SystemLogLevel.WARN,
      tracing: lambda.Tracing.ACTIVE,
      retryAttempts: props.asyncRetryAttempts,
      deadLetterQueue: props.deadLetterQueue,
      projectRoot: REPO_ROOT,
      depsLockFilePath: path.join(REPO_ROOT, 'package-lock.json'),
      bundling: {
        format: OutputFormat.ESM,
        mainFields: MAIN_FIELDS,
        banner: ESM_REQUIRE_BANNER,
        target: NODE_TARGET,
        minify: true,
        sourceMap: true,
        // Stack traces map back to files and lines; the sources themselves need not ship.
        sourcesContent: false,
        externalModules: EXTERNAL_MODULES,
        tsconfig: path.join(REPO_ROOT, 'tsconfig.json'),
      },
      environment: {
        POWERTOOLS_SERVICE_NAME: SERVICE_NAME,
        POWERTOOLS_METRICS_NAMESPACE: topology.metrics.namespace,
        // The bundles ship source maps; without this flag Node ignores them.
        NODE_OPTIONS: '--enable-source-maps',
        ...props.environment,
      },
    });

    // Names the function's role in hookrelay, for people and for the local runtime, which runs
    // the template's functions and lets tests replace one by this name (infra/local/template.ts).
    Tags.of(this.fn).add(FUNCTION_TAG, props.handler);

    // X-Ray's PutTraceSegments and PutTelemetryRecords have no resource-level permissions:
    // AWS documents `Resource: *` as the only form. This is the one `*` resource in the role.
    Validations.of(this.role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'X-Ray active tracing: xray:PutTraceSegments and xray:PutTelemetryRecords support no resource-level permissions, so AWS requires Resource "*".',
    });
  }

  /**
   * Acknowledges the `<table>/index/*` resource of a DynamoDB data grant: the function queries
   * the table's GSI (open), whose ARNs CDK grants as the table ARN plus `/index/*`.
   */
  acknowledgeTableIndexes(tableLogicalId: string): void {
    Validations.of(this.role).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${tableLogicalId}.Arn>/index/*]`,
      reason:
        "Reads the table's own global secondary index (open); the grant covers this one table's indexes, no other resource.",
    });
  }
}

/** The logical id of a construct's CloudFormation resource, as cdk-nag names it in findings. */
export function logicalIdOf(construct: Construct): string {
  const child = construct.node.defaultChild;
  if (!child) throw new Error(`${construct.node.path} has no CloudFormation resource`);
  return Stack.of(construct).getLogicalId(child as CfnElement);
}
