/**
 * Creates tables and queues in the emulators, idempotently: on a restart with a data dir the
 * table already exists (and is checked), and the queues are created again because the SQS
 * emulator keeps nothing.
 *
 * - `provisionStack`: the local runtime's, from the synthesized template (what deploys);
 * - `provision`: the table and queues of `topology`, for the adapters' integration tests, which
 *   need them without a synth.
 */
import {
  CreateTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  ResourceInUseException,
  type GlobalSecondaryIndex,
} from '@aws-sdk/client-dynamodb';
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  QueueNameExists,
  SetQueueAttributesCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { topology } from '../topology';
import { LocalStackError } from './errors';
import { LOCAL_REGION } from './lambda';
import type { StackModel, TableSpec } from './template';

export type QueueKey = 'work' | 'retry' | 'dlq' | 'ingest' | 'ingestDlq' | 'ordered';

export interface QueueSettings {
  visibilityTimeoutS?: number;
  maxReceiveCount?: number;
}

/** Per-queue changes to the topology, for tests (a short visibility timeout, say). */
export type QueueOverrides = Partial<Record<QueueKey, QueueSettings>>;

export interface Provisioned {
  tableName: string;
  queueUrls: Record<QueueKey, string>;
  queueArns: Record<QueueKey, string>;
}

const DAY_S = 86_400;
/** Fake credentials: the emulators accept anything, and real ones must never be picked up. */
export const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };

export function sqsClient(endpoint: string): SQSClient {
  return new SQSClient({ region: LOCAL_REGION, endpoint, credentials: LOCAL_CREDENTIALS });
}

export function dynamoClient(endpoint: string): DynamoDBClient {
  return new DynamoDBClient({ region: LOCAL_REGION, endpoint, credentials: LOCAL_CREDENTIALS });
}

export async function provision(
  endpoints: { sqs: string; dynamodb: string },
  overrides: QueueOverrides = {},
): Promise<Provisioned> {
  const sqs = sqsClient(endpoints.sqs);
  const dynamo = dynamoClient(endpoints.dynamodb);
  try {
    const [tableName, queues] = await Promise.all([ensureTable(dynamo), ensureQueues(sqs, overrides)]);
    return { tableName, ...queues };
  } finally {
    sqs.destroy();
    dynamo.destroy();
  }
}

function gsi(index: {
  name: string;
  partitionKey: string;
  sortKey: string;
  projection: 'KEYS_ONLY' | 'ALL' | 'INCLUDE';
  nonKeyAttributes?: readonly string[];
}): GlobalSecondaryIndex {
  return {
    IndexName: index.name,
    KeySchema: [
      { AttributeName: index.partitionKey, KeyType: 'HASH' },
      { AttributeName: index.sortKey, KeyType: 'RANGE' },
    ],
    Projection: {
      ProjectionType: index.projection,
      ...(index.nonKeyAttributes ? { NonKeyAttributes: [...index.nonKeyAttributes] } : {}),
    },
  };
}

/** How an index projects, comparably: its type and its sorted non-key attributes. */
const projectionOf = (p: { ProjectionType?: string; NonKeyAttributes?: string[] } | undefined) =>
  `${p?.ProjectionType ?? 'KEYS_ONLY'}:${[...(p?.NonKeyAttributes ?? [])].sort().join(',')}`;

/**
 * A table kept in the data dir by an earlier run. dynalite cannot add or change an index of an
 * existing table, so a table from an older layout (an index missing, projecting other
 * attributes, or no longer used) is reported rather than half-used.
 */
function checkKeptIndexes(
  name: string,
  present: { IndexName?: string; Projection?: { ProjectionType?: string; NonKeyAttributes?: string[] } }[],
  wanted: GlobalSecondaryIndex[],
) {
  const byName = new Map(present.map((i) => [i.IndexName, projectionOf(i.Projection)]));
  const wantedNames = new Set(wanted.map((i) => i.IndexName));
  const stale = [
    ...wanted
      .filter((i) => byName.get(i.IndexName) !== projectionOf(i.Projection))
      .map((i) =>
        byName.has(i.IndexName) ? `${i.IndexName} (projects other attributes)` : `${i.IndexName} (missing)`,
      ),
    // An index this version no longer has: the items it served are laid out differently now.
    ...present.filter((i) => !wantedNames.has(i.IndexName)).map((i) => `${i.IndexName} (no longer used)`),
  ];
  if (stale.length > 0) {
    throw new LocalStackError(
      `table ${name} in the data dir has an older layout: index(es) ${stale.join(', ')}; ` +
        'it was made by an older version: move the data dir away to start afresh',
    );
  }
}

async function ensureTable(dynamo: DynamoDBClient): Promise<string> {
  const t = topology.table;
  const indexes = Object.values(t.indexes);
  const keys = [t.partitionKey, t.sortKey, ...indexes.flatMap((i) => [i.partitionKey, i.sortKey])];
  try {
    await dynamo.send(
      new CreateTableCommand({
        TableName: t.name,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: keys.map((name) => ({ AttributeName: name, AttributeType: 'S' })),
        KeySchema: [
          { AttributeName: t.partitionKey, KeyType: 'HASH' },
          { AttributeName: t.sortKey, KeyType: 'RANGE' },
        ],
        GlobalSecondaryIndexes: indexes.map(gsi),
      }),
    );
  } catch (err) {
    if (!(err instanceof ResourceInUseException)) throw err;
    const { Table } = await dynamo.send(new DescribeTableCommand({ TableName: t.name }));
    checkKeptIndexes(t.name, Table?.GlobalSecondaryIndexes ?? [], indexes.map(gsi));
  }
  // dynalite answers CreateTable with CREATING and turns the table ACTIVE by a write of its own a
  // moment later (a slow one on a loaded disk); until then every item call is ResourceNotFound.
  for (let waited = 0; ; waited += 20) {
    const { Table } = await dynamo.send(new DescribeTableCommand({ TableName: t.name }));
    if (Table?.TableStatus === 'ACTIVE') break;
    if (waited > 10_000)
      throw new LocalStackError(`table ${t.name} is still ${Table?.TableStatus ?? 'missing'} after 10 s`);
    await new Promise((r) => setTimeout(r, 20));
  }
  // No UpdateTimeToLive: dynalite has no TTL API. Items keep their expiresAt attribute and simply
  // never expire locally; on AWS the stack enables TTL on topology.table.ttlAttribute.
  return t.name;
}

async function ensureQueues(
  sqs: SQSClient,
  overrides: QueueOverrides,
): Promise<Pick<Provisioned, 'queueUrls' | 'queueArns'>> {
  const q = topology.queues;
  const dlqUrl = await ensureQueue(sqs, q.dlq.name, {
    MessageRetentionPeriod: String(q.dlq.retentionDays * DAY_S),
    ...(overrides.dlq?.visibilityTimeoutS === undefined
      ? {}
      : { VisibilityTimeout: String(overrides.dlq.visibilityTimeoutS) }),
  });
  const dlqArn = await queueArn(sqs, dlqUrl);

  const source = async (key: 'work' | 'retry') => {
    const settings = { ...q[key], ...overrides[key] };
    const url = await ensureQueue(sqs, q[key].name, {
      VisibilityTimeout: String(settings.visibilityTimeoutS),
      MessageRetentionPeriod: String(settings.retentionDays * DAY_S),
      RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount: settings.maxReceiveCount }),
    });
    return [url, await queueArn(sqs, url)] as const;
  };
  const ingestDlqUrl = await ensureQueue(sqs, q.ingestDlq.name, {
    MessageRetentionPeriod: String(q.ingestDlq.retentionDays * DAY_S),
    MaximumMessageSize: String(q.ingestDlq.maxMessageBytes),
    ...(overrides.ingestDlq?.visibilityTimeoutS === undefined
      ? {}
      : { VisibilityTimeout: String(overrides.ingestDlq.visibilityTimeoutS) }),
  });
  const ingestDlqArn = await queueArn(sqs, ingestDlqUrl);
  const ingestSettings = { ...q.ingest, ...overrides.ingest };
  const ingestUrl = await ensureQueue(sqs, q.ingest.name, {
    VisibilityTimeout: String(ingestSettings.visibilityTimeoutS),
    MessageRetentionPeriod: String(ingestSettings.retentionDays * DAY_S),
    MaximumMessageSize: String(ingestSettings.maxMessageBytes),
    RedrivePolicy: JSON.stringify({
      deadLetterTargetArn: ingestDlqArn,
      maxReceiveCount: ingestSettings.maxReceiveCount,
    }),
  });
  const ingestArn = await queueArn(sqs, ingestUrl);

  // The ordered lane: FIFO, deduplicated and throttled per message group (infra/constructs/ordered-lane.ts).
  const orderedDlqUrl = await ensureQueue(sqs, q.orderedDlq.name, {
    FifoQueue: 'true',
    MessageRetentionPeriod: String(q.orderedDlq.retentionDays * DAY_S),
  });
  const orderedSettings = { ...q.ordered, ...overrides.ordered };
  const orderedUrl = await ensureQueue(sqs, q.ordered.name, {
    FifoQueue: 'true',
    DeduplicationScope: 'messageGroup',
    FifoThroughputLimit: 'perMessageGroupId',
    VisibilityTimeout: String(orderedSettings.visibilityTimeoutS),
    MessageRetentionPeriod: String(orderedSettings.retentionDays * DAY_S),
    RedrivePolicy: JSON.stringify({
      deadLetterTargetArn: await queueArn(sqs, orderedDlqUrl),
      maxReceiveCount: orderedSettings.maxReceiveCount,
    }),
  });
  const orderedArn = await queueArn(sqs, orderedUrl);

  const [[workUrl, workArn], [retryUrl, retryArn]] = await Promise.all([source('work'), source('retry')]);
  return {
    queueUrls: {
      work: workUrl,
      retry: retryUrl,
      dlq: dlqUrl,
      ingest: ingestUrl,
      ingestDlq: ingestDlqUrl,
      ordered: orderedUrl,
    },
    queueArns: {
      work: workArn,
      retry: retryArn,
      dlq: dlqArn,
      ingest: ingestArn,
      ingestDlq: ingestDlqArn,
      ordered: orderedArn,
    },
  };
}

/** CreateQueue is idempotent for equal attributes; for different ones, the queue is updated. */
async function ensureQueue(sqs: SQSClient, name: string, attributes: Record<string, string>): Promise<string> {
  try {
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: attributes }));
    if (!QueueUrl) throw new Error(`CreateQueue ${name} returned no QueueUrl`);
    return QueueUrl;
  } catch (err) {
    if (!(err instanceof QueueNameExists)) throw err;
    const { QueueUrl } = await sqs.send(new GetQueueUrlCommand({ QueueName: name }));
    if (!QueueUrl) throw new Error(`GetQueueUrl ${name} returned no QueueUrl`, { cause: err });
    await sqs.send(new SetQueueAttributesCommand({ QueueUrl, Attributes: attributes }));
    return QueueUrl;
  }
}

async function queueArn(sqs: SQSClient, url: string): Promise<string> {
  const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }));
  const arn = Attributes?.QueueArn;
  if (!arn) throw new Error(`no QueueArn for ${url}`);
  return arn;
}

// ---------------------------------------------------------------------------------------------
// The stack's own resources, from its template (the local runtime's provisioning).

export interface StackResources {
  /** Local name of each table, by logical id. */
  tables: Map<string, string>;
  /** Local URL and ARN of each queue, by logical id. */
  queues: Map<string, { url: string; arn: string; name: string }>;
}

/**
 * Creates the template's tables and queues in the emulators, idempotently, with the template's
 * keys, indexes, visibility timeouts, retention, delays and redrive policies. `names` gives each
 * resource's local name; `overrides` changes a queue's settings by logical id (tests).
 */
export async function provisionStack(
  endpoints: { sqs: string; dynamodb: string },
  model: Pick<StackModel, 'tables' | 'queues'>,
  names: (logicalId: string) => string,
  overrides: Map<string, QueueSettings> = new Map(),
): Promise<StackResources> {
  const sqs = sqsClient(endpoints.sqs);
  const dynamo = dynamoClient(endpoints.dynamodb);
  try {
    const tables = new Map<string, string>();
    await Promise.all(
      model.tables.map(async (t) => {
        tables.set(t.id, await ensureTemplateTable(dynamo, t, names(t.id)));
      }),
    );
    const queues: StackResources['queues'] = new Map();
    const pending = [...model.queues];
    // Dead-letter queues first: a redrive policy names its target's ARN.
    while (pending.length > 0) {
      const ready = pending.filter((q) => !q.redrive || queues.has(q.redrive.deadLetterQueueId));
      if (ready.length === 0) throw new LocalStackError('the queues redrive to each other in a cycle');
      await Promise.all(
        ready.map(async (q) => {
          const o = overrides.get(q.id) ?? {};
          const attributes: Record<string, string> = {};
          const visibility = o.visibilityTimeoutS ?? q.visibilityTimeoutS;
          if (visibility !== undefined) attributes.VisibilityTimeout = String(visibility);
          if (q.retentionS !== undefined) attributes.MessageRetentionPeriod = String(q.retentionS);
          if (q.delayS !== undefined) attributes.DelaySeconds = String(q.delayS);
          if (q.fifo) Object.assign(attributes, q.fifo);
          if (q.redrive) {
            attributes.RedrivePolicy = JSON.stringify({
              deadLetterTargetArn: queues.get(q.redrive.deadLetterQueueId)!.arn,
              maxReceiveCount: o.maxReceiveCount ?? q.redrive.maxReceiveCount,
            });
          }
          const name = names(q.id);
          const url = await ensureQueue(sqs, name, attributes);
          queues.set(q.id, { url, arn: await queueArn(sqs, url), name });
        }),
      );
      for (const q of ready) pending.splice(pending.indexOf(q), 1);
    }
    return { tables, queues };
  } finally {
    sqs.destroy();
    dynamo.destroy();
  }
}

async function ensureTemplateTable(dynamo: DynamoDBClient, t: TableSpec, name: string): Promise<string> {
  try {
    await dynamo.send(
      new CreateTableCommand({
        TableName: name,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: t.attributeDefinitions.map((a) => ({
          AttributeName: a.AttributeName,
          AttributeType: a.AttributeType as 'S' | 'N' | 'B',
        })),
        KeySchema: t.keySchema.map((k) => ({ AttributeName: k.AttributeName, KeyType: k.KeyType as 'HASH' | 'RANGE' })),
        ...(t.globalSecondaryIndexes.length > 0
          ? {
              GlobalSecondaryIndexes: t.globalSecondaryIndexes.map((i) => ({
                IndexName: i.IndexName,
                KeySchema: i.KeySchema.map((k) => ({
                  AttributeName: k.AttributeName,
                  KeyType: k.KeyType as 'HASH' | 'RANGE',
                })),
                Projection: {
                  ProjectionType: i.Projection.ProjectionType as 'KEYS_ONLY' | 'ALL' | 'INCLUDE',
                  ...(i.Projection.NonKeyAttributes ? { NonKeyAttributes: i.Projection.NonKeyAttributes } : {}),
                },
              })),
            }
          : {}),
      }),
    );
  } catch (err) {
    if (!(err instanceof ResourceInUseException)) throw err;
    const { Table } = await dynamo.send(new DescribeTableCommand({ TableName: name }));
    checkKeptIndexes(
      name,
      Table?.GlobalSecondaryIndexes ?? [],
      t.globalSecondaryIndexes.map((i) => ({
        IndexName: i.IndexName,
        KeySchema: [],
        Projection: {
          ProjectionType: i.Projection.ProjectionType as 'KEYS_ONLY' | 'ALL' | 'INCLUDE',
          ...(i.Projection.NonKeyAttributes ? { NonKeyAttributes: i.Projection.NonKeyAttributes } : {}),
        },
      })),
    );
  }
  // No UpdateTimeToLive: dynalite has no TTL API; items keep their TTL attribute and never expire.
  return name;
}
