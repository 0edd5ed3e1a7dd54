import { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
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
        projectionType: dynamodb.ProjectionType.ALL,
      });
    }
  }
}
