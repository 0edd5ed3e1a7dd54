/**
 * The one AWS client factory. A container (functions/container.ts) builds its SDK v3 clients here,
 * once, with the region from its config, and destroys them when it closes. Endpoints follow the
 * SDK's standard overrides (AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_SQS, AWS_ENDPOINT_URL_DYNAMODB, ...),
 * so the same code talks to AWS, LocalStack or the embedded local stack's emulators.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

export interface AwsClients {
  readonly dynamo: DynamoDBDocumentClient;
  readonly sqs: SQSClient;
  /** Closes the clients' sockets. */
  destroy(): void;
}

export function createAwsClients(region: string): AwsClients {
  const dynamo = DynamoDBDocumentClient.from(new DynamoDBClient({ region }), {
    marshallOptions: { removeUndefinedValues: true },
  });
  const sqs = new SQSClient({ region });
  return {
    dynamo,
    sqs,
    destroy: () => {
      dynamo.destroy();
      sqs.destroy();
    },
  };
}
