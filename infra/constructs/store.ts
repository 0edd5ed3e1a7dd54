import { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { topology } from '../topology';

export interface WebhookStoreProps {
  /** @default RemovalPolicy.RETAIN: deleting the stack must not delete apps, endpoints and events. */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * A customer managed key for the table. Without one the table uses the AWS managed key
   * (`aws/dynamodb`): encrypted at rest, every use logged in CloudTrail, no monthly key fee and no
   * key policy to look after. Bring a key when policy demands control over the key itself
   * (rotation, revocation, cross-account use); it costs $1/month plus requests.
   * @default the AWS managed key
   */
  readonly encryptionKey?: kms.IKey;
}

/**
 * The single DynamoDB table (single-table design): apps, endpoints, secrets' hashes, events,
 * deliveries and attempts, with the `feed` (catch-up feed) and `open` (unfinished deliveries)
 * indexes from the topology. On demand, point-in-time recovery on, TTL on the expiry attribute.
 */
/**
 * What the functions do with items: CDK's read-write set without the stream actions (the table
 * has no stream). Transactions need no action of their own: DynamoDB authorizes each item
 * operation inside one against these.
 */
export const TABLE_DATA_ACTIONS = [
  'dynamodb:GetItem',
  'dynamodb:BatchGetItem',
  'dynamodb:Query',
  'dynamodb:Scan',
  'dynamodb:ConditionCheckItem',
  'dynamodb:PutItem',
  'dynamodb:UpdateItem',
  'dynamodb:DeleteItem',
  'dynamodb:BatchWriteItem',
  'dynamodb:DescribeTable',
] as const;

/**
 * What a caller needs of a customer managed table key, spelled out: CDK's own key grant says
 * `kms:ReEncrypt*` and `kms:GenerateDataKey*`, wildcards this stack does not grant.
 */
export const TABLE_KEY_ACTIONS = [
  'kms:Decrypt',
  'kms:Encrypt',
  'kms:ReEncryptFrom',
  'kms:ReEncryptTo',
  'kms:GenerateDataKey',
  'kms:GenerateDataKeyWithoutPlaintext',
  'kms:DescribeKey',
] as const;

export class WebhookStore extends Construct {
  readonly table: dynamodb.Table;

  constructor(scope: Construct, id: string, props: WebhookStoreProps = {}) {
    super(scope, id);
    const t = topology.table;

    this.table = new dynamodb.Table(this, 'Table', {
      partitionKey: { name: t.partitionKey, type: dynamodb.AttributeType.STRING },
      sortKey: { name: t.sortKey, type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      timeToLiveAttribute: t.ttlAttribute,
      ...(props.encryptionKey
        ? { encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED, encryptionKey: props.encryptionKey }
        : { encryption: dynamodb.TableEncryption.AWS_MANAGED }),
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });

    for (const index of Object.values(t.indexes)) {
      this.table.addGlobalSecondaryIndex({
        indexName: index.name,
        partitionKey: { name: index.partitionKey, type: dynamodb.AttributeType.STRING },
        sortKey: { name: index.sortKey, type: dynamodb.AttributeType.STRING },
        projectionType: dynamodb.ProjectionType[index.projection],
      });
    }
  }

  /** Item reads and writes on the table and its indexes (and use of its key, if it has one). */
  grantReadWriteData(grantee: iam.IGrantable): void {
    this.table.grant(grantee, ...TABLE_DATA_ACTIONS);
    this.table.encryptionKey?.grant(grantee, ...TABLE_KEY_ACTIONS);
  }
}
