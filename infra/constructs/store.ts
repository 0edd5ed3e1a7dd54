import { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { topology } from '../topology';

export interface WebhookStoreProps {
  /** @default RemovalPolicy.RETAIN: deleting the stack must not delete apps, endpoints and events. */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * The customer managed KMS key the table is encrypted with. The table holds the endpoints'
   * signing secrets, so by default it gets a key of its own, with yearly rotation, that the
   * operator controls: its key policy decides who can ever read the data, every use is in
   * CloudTrail, and disabling it makes the data unreadable. It costs $1/month plus requests.
   * Pass a key to bring your own (shared across tables, cross-account, an external key store).
   * @default a new customer managed key with rotation, kept (or not) like the table
   */
  readonly encryptionKey?: kms.IKey;
}

/**
 * The single DynamoDB table (single-table design): apps, endpoints, secrets' hashes, events,
 * deliveries and attempts, with the `feed` (catch-up feed) and `open` (unfinished deliveries)
 * indexes from the topology. On demand, point-in-time recovery on, TTL on the expiry attribute.
 */
/**
 * What the functions do with items: the item operations their code calls, as the IAM test
 * (test/iam) records them on the assembly. CDK's read-write set also grants Scan,
 * ConditionCheckItem and DescribeTable, which no function calls. Transactions need no action of
 * their own: DynamoDB authorizes each item operation inside one against these.
 */
export const TABLE_DATA_ACTIONS = [
  'dynamodb:GetItem',
  'dynamodb:BatchGetItem',
  'dynamodb:Query',
  'dynamodb:PutItem',
  'dynamodb:UpdateItem',
  'dynamodb:DeleteItem',
  'dynamodb:BatchWriteItem',
] as const;

export type TableDataAction = (typeof TABLE_DATA_ACTIONS)[number];

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
  /** The key the table is encrypted with (the given one, or the one made here). */
  readonly encryptionKey: kms.IKey;

  constructor(scope: Construct, id: string, props: WebhookStoreProps = {}) {
    super(scope, id);
    const t = topology.table;
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    // A retained table needs its key: the key is removed (after KMS's waiting period) only with the table.
    this.encryptionKey =
      props.encryptionKey ??
      new kms.Key(this, 'TableKey', {
        description: 'hookrelay: encrypts the table (apps, endpoints and their signing secrets, events)',
        enableKeyRotation: true,
        removalPolicy,
      });

    this.table = new dynamodb.Table(this, 'Table', {
      partitionKey: { name: t.partitionKey, type: dynamodb.AttributeType.STRING },
      sortKey: { name: t.sortKey, type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      timeToLiveAttribute: t.ttlAttribute,
      encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
      encryptionKey: this.encryptionKey,
      removalPolicy,
    });

    for (const index of Object.values(t.indexes)) {
      this.table.addGlobalSecondaryIndex({
        indexName: index.name,
        partitionKey: { name: index.partitionKey, type: dynamodb.AttributeType.STRING },
        sortKey: { name: index.sortKey, type: dynamodb.AttributeType.STRING },
        projectionType: dynamodb.ProjectionType[index.projection],
        ...('nonKeyAttributes' in index ? { nonKeyAttributes: [...index.nonKeyAttributes] } : {}),
      });
    }
  }

  /**
   * Item reads and writes on the table, queries of its indexes, and use of its key. `actions`
   * narrows the item operations on the table to those a function's code calls (test/iam checks
   * them against what the end-to-end run records); `queryIndexes` adds Query on the indexes
   * (feed, open), the one operation that applies to an index.
   */
  grantReadWriteData(
    grantee: iam.IGrantable,
    actions: readonly TableDataAction[] = TABLE_DATA_ACTIONS,
    { queryIndexes = true }: { queryIndexes?: boolean } = {},
  ): void {
    if (actions.length > 0) {
      iam.Grant.addToPrincipal({ grantee, actions: [...actions], resourceArns: [this.table.tableArn] });
    }
    if (queryIndexes) {
      iam.Grant.addToPrincipal({
        grantee,
        actions: ['dynamodb:Query'],
        resourceArns: [`${this.table.tableArn}/index/*`],
      });
    }
    this.encryptionKey.grant(grantee, ...TABLE_KEY_ACTIONS);
  }
}
