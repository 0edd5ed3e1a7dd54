/**
 * The event-type catalog and portal links, on the one table:
 *
 * | item          | pk                | sk          | notes                                        |
 * |---------------|-------------------|-------------|----------------------------------------------|
 * | event type    | CATALOG           | TYPE#<name> | schema and examples kept as JSON text        |
 * | portal token  | PORTAL#<hash>     | #PORTAL     | expires by TTL a day after the link does     |
 * | portal gen.   | PORTALGEN#<appId> | #GEN        | the app's portal generation (absent = 0)     |
 *
 * The catalog is one partition: it holds tens or hundreds of types, read a page at a time. The
 * generation has a partition of its own, so no read of the app's partition (fan-out) meets it.
 */
import { DeleteCommand, GetCommand, PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { EventType, EventTypeStore } from './event-types';
import type { Capability, PortalStore, PortalTokenRecord } from '../access/portal-access';
import { decodeCursor, encodeCursor, epochSeconds, type DynamoTable, type Item } from '../shared/dynamo-table';

const CATALOG_PK = 'CATALOG';
const typeKey = (name: string) => ({ pk: CATALOG_PK, sk: `TYPE#${name}` });
const portalTokenKey = (hash: string) => ({ pk: `PORTAL#${hash}`, sk: '#PORTAL' });
const portalGenKey = (appId: string) => ({ pk: `PORTALGEN#${appId}`, sk: '#GEN' });

function toEventType(i: Item): EventType {
  const t: EventType = {
    name: i.name as string,
    description: (i.description as string | undefined) ?? '',
    examples: JSON.parse((i.examplesJson as string | undefined) ?? '[]') as EventType['examples'],
    deprecated: i.deprecated === true,
    validate: i.validate === true,
    createdAt: i.createdAt as string,
    updatedAt: i.updatedAt as string,
  };
  if (typeof i.schemaJson === 'string') t.schema = JSON.parse(i.schemaJson) as Record<string, unknown>;
  return t;
}

function eventTypeItem(t: EventType): Item {
  return {
    ...typeKey(t.name),
    kind: 'eventtype',
    name: t.name,
    description: t.description,
    // As JSON text: a schema's keys ($ref, empty strings, key order) come back exactly as written.
    ...(t.schema !== undefined ? { schemaJson: JSON.stringify(t.schema) } : {}),
    examplesJson: JSON.stringify(t.examples),
    deprecated: t.deprecated,
    validate: t.validate,
    createdAt: t.createdAt,
    updatedAt: t.updatedAt,
  };
}

export class DynamoCatalogStore implements EventTypeStore, PortalStore {
  constructor(private readonly t: DynamoTable) {}

  // ---- event types ----------------------------------------------------------------------------

  async createEventType(t: EventType): Promise<boolean> {
    return this.t.conditional(() =>
      this.t.db.send(
        new PutCommand({
          TableName: this.t.name,
          Item: eventTypeItem(t),
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      ),
    );
  }

  async getEventType(name: string): Promise<EventType | null> {
    const out = await this.t.db.send(
      new GetCommand({ TableName: this.t.name, Key: typeKey(name), ConsistentRead: true }),
    );
    return out.Item ? toEventType(out.Item) : null;
  }

  async replaceEventType(t: EventType, prevUpdatedAt: string): Promise<boolean> {
    return this.t.conditional(() =>
      this.t.db.send(
        new PutCommand({
          TableName: this.t.name,
          Item: eventTypeItem(t),
          ConditionExpression: 'attribute_exists(pk) AND updatedAt = :prev',
          ExpressionAttributeValues: { ':prev': prevUpdatedAt },
        }),
      ),
    );
  }

  async deleteEventType(name: string): Promise<boolean> {
    return this.t.conditional(() =>
      this.t.db.send(
        new DeleteCommand({ TableName: this.t.name, Key: typeKey(name), ConditionExpression: 'attribute_exists(pk)' }),
      ),
    );
  }

  async listEventTypes(limit: number, cursor?: string) {
    const out = await this.t.db.send(
      new QueryCommand({
        TableName: this.t.name,
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :t)',
        ExpressionAttributeValues: { ':pk': CATALOG_PK, ':t': 'TYPE#' },
        Limit: limit,
        ExclusiveStartKey: decodeCursor(cursor, CATALOG_PK, 'TYPE#'),
      }),
    );
    return {
      items: ((out.Items as Item[] | undefined) ?? []).map(toEventType),
      nextCursor: encodeCursor(out.LastEvaluatedKey),
    };
  }

  // ---- portal links ---------------------------------------------------------------------------

  async putPortalToken(r: PortalTokenRecord): Promise<void> {
    await this.t.db.send(
      new PutCommand({
        TableName: this.t.name,
        Item: {
          ...portalTokenKey(r.hash),
          kind: 'portaltoken',
          appId: r.appId,
          capabilities: r.capabilities,
          createdAt: r.createdAt,
          validUntil: r.expiresAt,
          generation: r.generation,
          expiresAt: epochSeconds(r.expiresAt, 1),
        },
      }),
    );
  }

  async findPortalToken(hash: string): Promise<PortalTokenRecord | null> {
    const out = await this.t.db.send(
      new GetCommand({ TableName: this.t.name, Key: portalTokenKey(hash), ConsistentRead: true }),
    );
    const i = out.Item;
    if (!i) return null;
    return {
      hash,
      appId: i.appId as string,
      capabilities: i.capabilities as Capability[],
      createdAt: i.createdAt as string,
      expiresAt: i.validUntil as string,
      generation: (i.generation as number | undefined) ?? 0,
    };
  }

  async portalGeneration(appId: string): Promise<number> {
    const out = await this.t.db.send(
      new GetCommand({ TableName: this.t.name, Key: portalGenKey(appId), ConsistentRead: true }),
    );
    return (out.Item?.generation as number | undefined) ?? 0;
  }

  async bumpPortalGeneration(appId: string): Promise<number> {
    const out = await this.t.db.send(
      new UpdateCommand({
        TableName: this.t.name,
        Key: portalGenKey(appId),
        UpdateExpression: 'SET kind = :kind ADD generation :one',
        ExpressionAttributeValues: { ':kind': 'portalgen', ':one': 1 },
        ReturnValues: 'UPDATED_NEW',
      }),
    );
    return out.Attributes?.generation as number;
  }
}
