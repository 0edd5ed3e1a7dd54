/**
 * What the CDK stack deploys, read from the stack itself (synthesized in memory, without bundling)
 * rather than restated: each function's memory, architecture and tracing, the delivery event
 * sources' batch size and concurrency, and the API's access-log format. The cost benchmark
 * prices compute and logs with these, so a change to infra/constructs changes the figures.
 */
import { App } from 'aws-cdk-lib';
import type { CfnStage } from 'aws-cdk-lib/aws-apigatewayv2';
import type { CfnEventSourceMapping, CfnFunction } from 'aws-cdk-lib/aws-lambda';
import type { FunctionName } from '../infra/local/lambda';
import { ENV } from '../infra/topology';
import { HookrelayStack } from '../infra/webhook-stack';

export interface DeployedFunction {
  memoryMb: number;
  architecture: string;
  tracing: string;
  runtime: string;
  /** Lambda's system log level: at WARN and above its per-invocation platform lines are not written. */
  systemLogLevel: string;
}

export interface DeployedConfig {
  functions: Record<FunctionName, DeployedFunction>;
  /** The delivery function's SQS event sources (work and retry queue). */
  eventSources: Array<{ batchSize: number; maxConcurrency: number | undefined; batchingWindowS: number }>;
  /** The HTTP API stage's access-log line template ($context variables). */
  accessLogFormat: string;
  /** Whether any function runs in a VPC (then its outbound traffic would also pay for NAT). */
  functionsInVpc: boolean;
  /** The HTTP API stage's steady-state throttle, requests per second. */
  apiStageRateLimit: number;
  /** The per-attempt HTTP timeout the delivery function is configured with, ms. */
  deliveryTimeoutMs: number;
}

export function readDeployedConfig(): DeployedConfig {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new HookrelayStack(app, 'Hookrelay');
  const h = stack.hookrelay;
  const fns = {
    api: h.api.function,
    delivery: h.worker.function,
    ingest: h.ingest.function,
    housekeeping: h.housekeeping.function,
  };
  const functions = {} as Record<FunctionName, DeployedFunction>;
  let functionsInVpc = false;
  for (const [name, f] of Object.entries(fns) as Array<[FunctionName, (typeof fns)[FunctionName]]>) {
    const cfn = f.fn.node.defaultChild as CfnFunction;
    if (typeof cfn.memorySize !== 'number') throw new Error(`the ${name} function has no literal memory size`);
    const tracing = cfn.tracingConfig as { mode?: string } | undefined;
    const logging = cfn.loggingConfig as { systemLogLevel?: string } | undefined;
    functions[name] = {
      memoryMb: cfn.memorySize,
      architecture: (cfn.architectures ?? ['x86_64']).join(','),
      tracing: tracing?.mode ?? 'PassThrough',
      runtime: cfn.runtime ?? 'unknown',
      systemLogLevel: logging?.systemLogLevel ?? 'INFO',
    };
    if (cfn.vpcConfig !== undefined) functionsInVpc = true;
  }
  const eventSources = stack.node
    .findAll()
    .filter((c) => (c as { cfnResourceType?: string }).cfnResourceType === 'AWS::Lambda::EventSourceMapping')
    .map((c) => {
      const m = c as unknown as CfnEventSourceMapping;
      const scaling = m.scalingConfig as { maximumConcurrency?: number } | undefined;
      return {
        batchSize: m.batchSize ?? 10,
        maxConcurrency: scaling?.maximumConcurrency,
        batchingWindowS: m.maximumBatchingWindowInSeconds ?? 0,
      };
    });
  const stage = h.api.httpStage?.node.defaultChild as CfnStage | undefined;
  const logs = stage?.accessLogSettings as { format?: string } | undefined;
  const route = stage?.defaultRouteSettings as { throttlingRateLimit?: number } | undefined;
  const env = (fns.delivery.fn.node.defaultChild as CfnFunction).environment as
    { variables?: Record<string, string> } | undefined;
  return {
    functions,
    deliveryTimeoutMs: Number(env?.variables?.[ENV.deliveryTimeoutMs] ?? 10_000),
    eventSources,
    accessLogFormat: logs?.format ?? '',
    functionsInVpc,
    apiStageRateLimit: route?.throttlingRateLimit ?? Infinity,
  };
}
