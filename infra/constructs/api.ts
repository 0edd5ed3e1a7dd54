import { Duration, Validations, type RemovalPolicy } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import * as apigw from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { ENV, topology } from '../topology';
import { HookrelayFunction, logicalIdOf } from './hookrelay-function';
import type { WebhookStore } from './store';

export interface ApiThrottle {
  /** Steady-state requests per second for the whole stage. */
  readonly rateLimit: number;
  /** Requests allowed in a burst above the steady rate. */
  readonly burstLimit: number;
}

export interface WebhookApiProps {
  readonly entry: string;
  readonly store: WebhookStore;
  readonly workQueue: sqs.IQueue;
  readonly environment: Record<string, string>;
  readonly throttle: ApiThrottle;
  readonly logRetention: logs.RetentionDays;
  readonly removalPolicy: RemovalPolicy;
}

/**
 * The HTTP API: an API Gateway HTTP API (payload format 2.0) whose `$default` route sends every
 * request to the api function, which does its own routing and bearer-key authentication. The
 * admin key is a generated Secrets Manager secret only this function may read.
 */
export class WebhookApi extends Construct {
  readonly httpApi: apigw.HttpApi;
  readonly stage: apigw.HttpStage;
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
    props.store.grantReadWriteData(fn);
    props.workQueue.grantSendMessages(fn);
    this.adminKey.grantRead(fn);
    this.function.acknowledgeTableIndexes(logicalIdOf(props.store.table));

    this.httpApi = new apigw.HttpApi(this, 'HttpApi', {
      description: 'hookrelay webhook delivery API',
      defaultIntegration: new HttpLambdaIntegration('Api', fn),
      // The default stage the L2 makes has neither throttling nor access logs: make our own.
      createDefaultStage: false,
    });
    Validations.of(this.httpApi).acknowledge({
      id: 'AwsSolutions-APIG4',
      reason:
        'Authorization is done by the api function: Authorization: Bearer <key> against the admin key (Secrets Manager) or app-scoped key hashes (DynamoDB), as the contract requires; GET /health is public by contract.',
    });

    this.accessLogs = new logs.LogGroup(this, 'AccessLogs', {
      retention: props.logRetention,
      removalPolicy: props.removalPolicy,
    });
    this.stage = new apigw.HttpStage(this, 'DefaultStage', {
      httpApi: this.httpApi,
      stageName: '$default',
      autoDeploy: true,
      throttle: { rateLimit: props.throttle.rateLimit, burstLimit: props.throttle.burstLimit },
      accessLogSettings: {
        destination: new apigw.LogGroupLogDestination(this.accessLogs),
        // One JSON object a line, CloudWatch Logs Insights parses it as is. No headers: the
        // Authorization header must never reach a log.
        format: AccessLogFormat.custom(
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
        ),
      },
    });
  }

  /** The API's base URL, without a trailing slash: `${url}/v1/apps`. */
  get url(): string {
    return this.httpApi.apiEndpoint;
  }
}
