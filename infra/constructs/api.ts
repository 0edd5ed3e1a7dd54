import { Aws, Duration, Fn, Validations, type RemovalPolicy } from 'aws-cdk-lib';
import * as apigateway from 'aws-cdk-lib/aws-apigateway';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import * as apigw from 'aws-cdk-lib/aws-apigatewayv2';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import type { DeliveryQueues } from './queues';
import { ENV, topology } from '../topology';
import { HookrelayFunction } from './hookrelay-function';
import type { WebhookStore } from './store';

export interface ApiThrottle {
  /** Steady-state requests per second for the whole stage. */
  readonly rateLimit: number;
  /** Requests allowed in a burst above the steady rate. */
  readonly burstLimit: number;
}

/**
 * Which API Gateway fronts the api function:
 * - `http`: an HTTP API (payload format 2.0), the default: cheaper ($1.00 vs $3.50 per million
 *   requests) and faster;
 * - `rest`: a REST API (API Gateway v1) with one Lambda proxy integration, for LocalStack's free
 *   image, which implements no HTTP APIs (docs/deploy.md). The api function accepts both payloads.
 */
export type ApiShape = 'http' | 'rest';

/** The API's CloudWatch metrics, whichever shape serves it (alarms and the dashboard read these). */
export interface ApiMetrics {
  metricCount(props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  metricClientError(props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  metricServerError(props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  metricLatency(props?: cloudwatch.MetricOptions): cloudwatch.Metric;
}

export interface WebhookApiProps {
  /** @default 'http' */
  readonly shape?: ApiShape;
  readonly entry: string;
  readonly store: WebhookStore;
  /** Where first attempts go: the app's work queue shard, or the isolation lane. */
  readonly queues: Pick<DeliveryQueues, 'grantSendFirstAttempts'>;
  readonly environment: Record<string, string>;
  readonly throttle: ApiThrottle;
  readonly logRetention: logs.RetentionDays;
  readonly removalPolicy: RemovalPolicy;
}

// One JSON object a line, CloudWatch Logs Insights parses it as is. No headers: the Authorization
// header must never reach a log. The same fields in both shapes.
const ACCESS_LOG_FORMAT = AccessLogFormat.custom(
  JSON.stringify({
    requestId: '$context.requestId',
    ip: '$context.identity.sourceIp',
    requestTime: '$context.requestTime',
    method: '$context.httpMethod',
    path: '$context.path',
    status: '$context.status',
    protocol: '$context.protocol',
    responseLength: '$context.responseLength',
    latencyMs: '$context.responseLatency',
    integrationLatencyMs: '$context.integrationLatency',
    integrationError: '$context.integrationErrorMessage',
  }),
);

/**
 * The API: every request goes to the api function, which does its own routing and bearer-key
 * authentication. By default an HTTP API whose `$default` route is the function; with
 * `shape: 'rest'` a REST API whose root and `{proxy+}` resources are. The admin key is a
 * generated Secrets Manager secret only this function may read.
 */
export class WebhookApi extends Construct {
  readonly shape: ApiShape;
  /** The HTTP API, when `shape` is `http`. */
  readonly httpApi: apigw.HttpApi | undefined;
  /** The HTTP API's stage (throttling, access logs), when `shape` is `http`. */
  readonly httpStage: apigw.HttpStage | undefined;
  /** The REST API, when `shape` is `rest`. */
  readonly restApi: apigateway.RestApi | undefined;
  /** The API's request, error and latency metrics, whichever the shape. */
  readonly metrics: ApiMetrics;
  /** The API's base URL, without a trailing slash: `${url}/v1/apps`. */
  readonly url: string;
  readonly adminKey: secretsmanager.Secret;
  readonly function: HookrelayFunction;
  readonly accessLogs: logs.LogGroup;

  constructor(scope: Construct, id: string, props: WebhookApiProps) {
    super(scope, id);

    this.adminKey = new secretsmanager.Secret(this, 'AdminKey', {
      description: 'hookrelay admin API key (Authorization: Bearer <key>)',
      generateSecretString: { passwordLength: 48, excludePunctuation: true, includeSpace: false },
    });
    Validations.of(this.adminKey).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason:
        'A static bearer key, not a database credential: automatic rotation would need a rotation function and would break every client holding the key. Operators rotate it with put-secret-value (docs/deploy.md).',
    });

    this.function = new HookrelayFunction(this, 'Api', {
      handler: 'api',
      entry: props.entry,
      description: 'hookrelay: the HTTP API (apps, endpoints, events, keys)',
      // HTTP APIs give an integration at most 30 s; the delivery timeout is the topology's one.
      timeout: Duration.seconds(Math.min(29, topology.delivery.functionTimeoutS)),
      memorySize: 512,
      environment: { ...props.environment, [ENV.apiKeySecretArn]: this.adminKey.secretArn },
      logRetention: props.logRetention,
      removalPolicy: props.removalPolicy,
    });
    const fn = this.function.fn;
    // The api queries the table's partitions only (an app's events, an endpoint's deliveries).
    props.store.grantReadWriteData(fn, undefined, { queryIndexes: false });
    // What the code calls, no more (test/iam): SendMessage alone, not grantSendMessages'
    // GetQueueAttributes and GetQueueUrl; GetSecretValue alone, not grantRead's DescribeSecret.
    props.queues.grantSendFirstAttempts(fn);
    fn.addToRolePolicy(
      new iam.PolicyStatement({ actions: ['secretsmanager:GetSecretValue'], resources: [this.adminKey.secretArn] }),
    );

    this.accessLogs = new logs.LogGroup(this, 'AccessLogs', {
      retention: props.logRetention,
      removalPolicy: props.removalPolicy,
    });
    this.shape = props.shape ?? 'http';
    if (this.shape === 'http') {
      const { api, stage } = this.httpApiFor(fn, props);
      this.httpApi = api;
      this.httpStage = stage;
      this.restApi = undefined;
      this.metrics = api;
      this.url = api.apiEndpoint;
    } else {
      const api = this.restApiFor(fn, props);
      this.httpApi = undefined;
      this.httpStage = undefined;
      this.restApi = api;
      this.metrics = api;
      // Built from its parts rather than `api.url`, which ends in a slash. LocalStack rewrites
      // exactly this form of URL to its own host in stack outputs.
      this.url = Fn.join('', [
        'https://',
        api.restApiId,
        '.execute-api.',
        Aws.REGION,
        '.',
        Aws.URL_SUFFIX,
        '/',
        api.deploymentStage.stageName,
      ]);
    }
  }

  private httpApiFor(fn: lambda.IFunction, props: WebhookApiProps): { api: apigw.HttpApi; stage: apigw.HttpStage } {
    const api = new apigw.HttpApi(this, 'HttpApi', {
      description: 'hookrelay webhook delivery API',
      defaultIntegration: new HttpLambdaIntegration('Api', fn),
      // The default stage the L2 makes has neither throttling nor access logs: make our own.
      createDefaultStage: false,
    });
    Validations.of(api).acknowledge({ id: 'AwsSolutions-APIG4', reason: FUNCTION_AUTH_REASON });
    const stage = new apigw.HttpStage(this, 'DefaultStage', {
      httpApi: api,
      stageName: '$default',
      autoDeploy: true,
      throttle: { rateLimit: props.throttle.rateLimit, burstLimit: props.throttle.burstLimit },
      accessLogSettings: {
        destination: new apigw.LogGroupLogDestination(this.accessLogs),
        format: ACCESS_LOG_FORMAT,
      },
    });
    return { api, stage };
  }

  private restApiFor(fn: lambda.IFunction, props: WebhookApiProps): apigateway.RestApi {
    const api = new apigateway.LambdaRestApi(this, 'RestApi', {
      description: 'hookrelay webhook delivery API (REST shape)',
      handler: fn,
      proxy: true,
      endpointTypes: [apigateway.EndpointType.REGIONAL],
      // Access logs need the account's API Gateway CloudWatch role; the stack sets it up.
      cloudWatchRole: true,
      deployOptions: {
        stageName: 'api',
        throttlingRateLimit: props.throttle.rateLimit,
        throttlingBurstLimit: props.throttle.burstLimit,
        accessLogDestination: new apigateway.LogGroupLogDestination(this.accessLogs),
        accessLogFormat: ACCESS_LOG_FORMAT,
        // Execution logs would carry request headers (the bearer key) into CloudWatch: errors only.
        loggingLevel: apigateway.MethodLoggingLevel.ERROR,
        dataTraceEnabled: false,
        tracingEnabled: true,
      },
    });
    Validations.of(api).acknowledge(
      { id: 'AwsSolutions-APIG4', reason: FUNCTION_AUTH_REASON },
      { id: 'AwsSolutions-COG4', reason: FUNCTION_AUTH_REASON },
      {
        id: 'AwsSolutions-APIG2',
        reason:
          'The api function validates every request against the same zod schemas that generate docs/openapi.yaml, and answers 4xx in the contract shape; a request validator would answer in another.',
      },
      {
        id: 'AwsSolutions-APIG3',
        reason:
          'A WAF web ACL is an account-level choice with its own monthly cost; the stage is throttled. Operators may associate one.',
      },
    );
    Validations.of(api).acknowledge({
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]',
      reason:
        "The API Gateway account role uses AWS's own AmazonAPIGatewayPushToCloudWatchLogs policy, the one API Gateway documents for access logs.",
    });
    return api;
  }
}

const FUNCTION_AUTH_REASON =
  'Authorization is done by the api function: Authorization: Bearer <key> against the admin key (Secrets Manager) or app-scoped key hashes (DynamoDB), as the contract requires; GET /health is public by contract.';
