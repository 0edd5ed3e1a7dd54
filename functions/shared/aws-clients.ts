/**
 * The one AWS client factory. Each SDK v3 client is built once per process (a Lambda's cold
 * start), with the region from config. Endpoints follow the SDK's standard overrides
 * (AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_SQS, AWS_ENDPOINT_URL_DYNAMODB, ...), so the same code talks
 * to AWS, LocalStack or the embedded local stack's emulators.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { config } from '../config';

let dynamo: DynamoDBDocumentClient | undefined;
let sqs: SQSClient | undefined;
let secrets: SecretsManagerClient | undefined;

export function dynamoClient(): DynamoDBDocumentClient {
  dynamo ??= DynamoDBDocumentClient.from(new DynamoDBClient({ region: config().region }), {
    marshallOptions: { removeUndefinedValues: true },
  });
  return dynamo;
}

export function sqsClient(): SQSClient {
  sqs ??= new SQSClient({ region: config().region });
  return sqs;
}

export function secretsClient(): SecretsManagerClient {
  secrets ??= new SecretsManagerClient({ region: config().region });
  return secrets;
}

/** Forgets the clients (the local runtime and tests change endpoints between runs). */
export function resetClientsForTests(): void {
  dynamo?.destroy();
  sqs?.destroy();
  secrets?.destroy();
  dynamo = undefined;
  sqs = undefined;
  secrets = undefined;
}
