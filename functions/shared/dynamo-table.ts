/**
 * The table operations every aggregate store shares: a conditional write, batched reads and
 * writes that retry what DynamoDB leaves unprocessed (the one retry loop), and queries paged by
 * the SDK's paginator. The keys are in table-layout.ts; what each item holds is its aggregate's.
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  BatchWriteCommand,
  GetCommand,
  paginateQuery,
  type DynamoDBDocumentClient,
  type QueryCommandInput,
} from '@aws-sdk/lib-dynamodb';
import { ValidationError } from './errors';
import { sendInBatches } from './batches';
import { keys, type Key } from './table-layout';

export type Item = Record<string, unknown>;

type WriteRequest = NonNullable<
  NonNullable<ConstructorParameters<typeof BatchWriteCommand>[0]['RequestItems']>[string]
>[number];

export const isConditionFailure = (err: unknown) =>
  err instanceof ConditionalCheckFailedException ||
  (err as { name?: string } | null)?.name === 'ConditionalCheckFailedException';

export const epochSeconds = (iso: string, plusDays: number) => Math.floor(Date.parse(iso) / 1000) + plusDays * 86_400;

export interface DynamoStoreOptions {
  tableName: string;
  retentionDays: number;
}

const keyString = (k: Item) => `${String(k.pk)}\u0000${String(k.sk)}`;

export class DynamoTable {
  constructor(
    readonly db: DynamoDBDocumentClient,
    readonly options: DynamoStoreOptions,
  ) {}

  get name() {
    return this.options.tableName;
  }

  expiresAt(fromIso: string) {
    return epochSeconds(fromIso, this.options.retentionDays);
  }

  /** Runs a conditional write; false when the condition failed. */
  async conditional(write: () => Promise<unknown>): Promise<boolean> {
    try {
      await write();
      return true;
    } catch (err) {
      if (isConditionFailure(err)) return false;
      throw err;
    }
  }

  /** The items at `keys` (duplicates read once), in the order asked; missing ones left out. */
  async batchGet(keys: Key[], consistent: boolean): Promise<Item[]> {
    const found = new Map<string, Item>();
    const unique = [...new Map(keys.map((k) => [keyString(k), { pk: k.pk, sk: k.sk }])).values()];
    await sendInBatches(
      unique,
      { size: 100, rounds: 9, backoffMs: 25, what: 'DynamoDB BatchGetItem' },
      async (chunk) => {
        const out = await this.db.send(
          new BatchGetCommand({ RequestItems: { [this.name]: { Keys: chunk, ConsistentRead: consistent } } }),
        );
        for (const item of (out.Responses?.[this.name] as Item[] | undefined) ?? []) found.set(keyString(item), item);
        return (out.UnprocessedKeys?.[this.name]?.Keys as Key[] | undefined) ?? [];
      },
    );
    return keys.map((k) => found.get(keyString(k))).filter((i): i is Item => i !== undefined);
  }

  /** Puts and deletes, 25 a request, unconditionally. */
  async batchWrite(requests: WriteRequest[]): Promise<void> {
    await sendInBatches(
      requests,
      { size: 25, rounds: 9, backoffMs: 25, what: 'DynamoDB BatchWriteItem' },
      async (chunk) => {
        const out = await this.db.send(new BatchWriteCommand({ RequestItems: { [this.name]: chunk } }));
        return out.UnprocessedItems?.[this.name] ?? [];
      },
    );
  }

  /** Every page of a query, as the SDK's paginator fetches them. */
  async *queryPages(input: Omit<QueryCommandInput, 'TableName'>): AsyncGenerator<Item[]> {
    for await (const page of paginateQuery({ client: this.db }, { ...input, TableName: this.name })) {
      yield (page.Items as Item[] | undefined) ?? [];
    }
  }

  /**
   * How many event partitions an app's events (and its endpoints' delivery records) are spread
   * over: its app item's `eventShards` (1 when unset). Eventually consistent: the count only
   * grows, and writers see a raise no sooner than this read does (table-layout.ts).
   */
  async appEventShards(appId: string): Promise<number> {
    const out = await this.db.send(
      new GetCommand({ TableName: this.name, Key: keys.app(appId), ProjectionExpression: 'eventShards' }),
    );
    const n = out.Item?.eventShards;
    return typeof n === 'number' && n > 1 ? n : 1;
  }

  /** Every item a query finds. */
  async queryAll(input: Omit<QueryCommandInput, 'TableName'>): Promise<Item[]> {
    const items: Item[] = [];
    for await (const page of this.queryPages(input)) items.push(...page);
    return items;
  }
}

/** Opaque list cursors: the last key seen, base64url, checked on the way back in. */
export function encodeCursor(key: Record<string, unknown> | undefined): string | null {
  return key ? Buffer.from(JSON.stringify(key)).toString('base64url') : null;
}

export function decodeCursor(cursor: string | undefined, expectPk: string, skPrefix: string): Item | undefined {
  if (cursor === undefined) return undefined;
  try {
    const key = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as Item;
    if (
      key.pk === expectPk &&
      typeof key.sk === 'string' &&
      key.sk.startsWith(skPrefix) &&
      Object.keys(key).length === 2
    ) {
      return key;
    }
  } catch {
    // fall through: any unreadable cursor is the client's error
  }
  throw new ValidationError('invalid cursor', [{ path: 'cursor', message: 'is not a cursor this list returned' }]);
}

/**
 * An item's size as DynamoDB bills it, near enough to choose between two encodings: attribute
 * names plus values (strings and binaries by their bytes, numbers about one byte per two digits).
 */
export function approximateItemBytes(item: Item): number {
  const size = (v: unknown): number => {
    if (typeof v === 'string') return Buffer.byteLength(v);
    if (v instanceof Uint8Array) return v.byteLength;
    if (typeof v === 'number') return Math.ceil(String(v).length / 2) + 1;
    if (typeof v === 'boolean' || v === null) return 1;
    if (Array.isArray(v)) return 3 + v.reduce((n: number, x) => n + 1 + size(x), 0);
    if (typeof v === 'object')
      return 3 + Object.entries(v).reduce((n, [k, x]) => n + 1 + Buffer.byteLength(k) + size(x), 0);
    return 0;
  };
  return Object.entries(item).reduce((n, [k, v]) => n + Buffer.byteLength(k) + size(v), 0);
}
