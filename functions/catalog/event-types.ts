/**
 * The event-type catalog: the types an app's endpoints can subscribe to, each with an optional
 * JSON Schema of its `data` and examples that validate against it. The admin writes it; every
 * key, a portal link's included, reads it. The first example is what a test event sends.
 */
import { ConflictError, NotFoundError, UnprocessableError, ValidationError } from '../shared/errors';
import { checkSchemaAndExamples } from './json-schema';
import { LIMITS, createEventTypeSchema, pageQuerySchema, parseOrThrow, updateEventTypeSchema } from '../api/schemas';

export interface EventType {
  name: string;
  description: string;
  /** A JSON Schema of the event's `data`, if the catalog has one. */
  schema?: Record<string, unknown>;
  /** Example `data`, each valid against the schema; the first is what a test event sends. */
  examples: Record<string, unknown>[];
  deprecated: boolean;
  /**
   * Refuse events of this type whose `data` breaks the schema (422); false: the schema is
   * documentation only (catalog-check.ts).
   */
  validate: boolean;
  createdAt: string;
  updatedAt: string;
}

export interface EventTypeStore {
  /** Stores a new type; false when the name is taken. */
  createEventType(t: EventType): Promise<boolean>;
  getEventType(name: string): Promise<EventType | null>;
  /** Replaces a type if it was last updated at `prevUpdatedAt`; false when it changed meanwhile or is gone. */
  replaceEventType(t: EventType, prevUpdatedAt: string): Promise<boolean>;
  deleteEventType(name: string): Promise<boolean>;
  /** Types in name order, a page at a time. */
  listEventTypes(limit: number, cursor?: string): Promise<{ items: EventType[]; nextCursor: string | null }>;
}

/** Every type of the catalog, page after page (the intake's checks read it this way). */
export async function listAllEventTypes(store: Pick<EventTypeStore, 'listEventTypes'>): Promise<EventType[]> {
  const all: EventType[] = [];
  let cursor: string | undefined;
  do {
    const page = await store.listEventTypes(100, cursor);
    all.push(...page.items);
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
  return all;
}

/** Schema and examples: within the size bound, the schema valid, every example valid against it. */
function checkContent(t: Pick<EventType, 'schema' | 'examples' | 'validate'>): void {
  if (t.validate && t.schema === undefined) {
    throw new ValidationError('validate needs a schema', [
      { path: 'validate', message: 'can be true only for a type with a schema to validate against' },
    ]);
  }
  const bytes = Buffer.byteLength(JSON.stringify({ s: t.schema ?? null, e: t.examples }));
  if (bytes > LIMITS.eventTypeBytes) {
    throw new ValidationError('event type is too large', [
      {
        path: 'schema',
        message: `schema and examples together must serialize to at most ${LIMITS.eventTypeBytes} bytes`,
      },
    ]);
  }
  const problems = checkSchemaAndExamples(t.schema, t.examples);
  if (problems.length === 0) return;
  const aboutSchema = problems.every((p) => p.path === 'schema' || p.path.startsWith('schema.'));
  if (aboutSchema) throw new ValidationError('schema is not a valid JSON Schema', problems);
  throw new UnprocessableError('an example does not validate against the schema', problems);
}

export function createEventTypeService(deps: {
  store: EventTypeStore;
  now?: () => Date;
  /** Told after each change, so this container's intake checks apply it at once. */
  onChange?: () => void;
}) {
  const now = deps.now ?? (() => new Date());
  const changed = () => deps.onChange?.();

  async function get(name: string): Promise<EventType> {
    const found = await deps.store.getEventType(name);
    if (!found) throw new NotFoundError(`event type ${name} not found`);
    return found;
  }

  return {
    get,

    async create(body: unknown): Promise<EventType> {
      const input = parseOrThrow(createEventTypeSchema, body);
      const at = now().toISOString();
      const t: EventType = {
        name: input.name,
        description: input.description ?? '',
        ...(input.schema !== undefined ? { schema: input.schema } : {}),
        examples: input.examples ?? [],
        deprecated: input.deprecated ?? false,
        validate: input.validate ?? false,
        createdAt: at,
        updatedAt: at,
      };
      checkContent(t);
      if (!(await deps.store.createEventType(t))) {
        throw new ConflictError(`event type ${t.name} already exists`, [
          { path: 'name', message: 'is taken; PATCH /v1/event-types/{name} changes it' },
        ]);
      }
      changed();
      return t;
    },

    async update(name: string, body: unknown): Promise<EventType> {
      const input = parseOrThrow(updateEventTypeSchema, body);
      const current = await get(name);
      const next: EventType = { ...current, updatedAt: now().toISOString() };
      if (input.description !== undefined) next.description = input.description;
      if (input.deprecated !== undefined) next.deprecated = input.deprecated;
      if (input.validate !== undefined) next.validate = input.validate;
      if (input.examples !== undefined) next.examples = input.examples;
      if (input.schema === null) delete next.schema;
      else if (input.schema !== undefined) next.schema = input.schema;
      // A new schema is checked against the examples kept, and new examples against the schema kept.
      checkContent(next);
      if (next.updatedAt === current.updatedAt) next.updatedAt = new Date(Date.parse(next.updatedAt) + 1).toISOString();
      if (!(await deps.store.replaceEventType(next, current.updatedAt))) {
        throw new ConflictError(`event type ${name} changed meanwhile; read it again and retry`);
      }
      changed();
      return next;
    },

    async remove(name: string): Promise<void> {
      if (!(await deps.store.deleteEventType(name))) throw new NotFoundError(`event type ${name} not found`);
      changed();
    },

    async list(query: Record<string, string | undefined>) {
      const page = parseOrThrow(pageQuerySchema, query, 'query string');
      return deps.store.listEventTypes(page.limit, page.cursor);
    },
  };
}

export type EventTypeService = ReturnType<typeof createEventTypeService>;
