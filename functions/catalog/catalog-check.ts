/**
 * Catalog validation at intake, opt-in: an event type with `validate: true` refuses events whose
 * `data` breaks its schema, and an app with `knownEventTypesOnly: true` refuses types the catalog
 * does not list. Both answer 422, naming each failing path; a bus event so refused goes to the
 * ingest DLQ with that reason. Otherwise a type's schema is documentation only.
 *
 * Off the hot path: the catalog's rules (which types exist, which validate, their schemas) are
 * read once per container and kept for `ttlMs` (10 s by default), and each schema is compiled
 * once per version. So while nothing validates, an event costs no read and no work beyond a map
 * lookup; the whole cost is one catalog query per container every `ttlMs` while events arrive
 * (a few KB, about 1 read unit: at most 8,640 read units a day per warm container, whatever the
 * volume). A change made through this container's own catalog service applies at once
 * (`invalidate`); other containers see it within `ttlMs`.
 *
 * @example
 * const check = createCatalogCheck({ listAll: () => store.listAllEventTypes() });
 * await check.check(app, 'invoice.paid', { amount: 'lots' }); // throws UnprocessableError
 */
import { UnprocessableError, type ErrorDetail } from '../shared/errors';
import type { App } from '../shared/model';
import type { EventType } from './event-types';
import { compileSchema, type DataCheck } from './json-schema';

export const CATALOG_CACHE_MS = 10_000;

interface Rules {
  at: number;
  names: Set<string>;
  /** Only the types that validate, by name. */
  validating: Map<string, { updatedAt: string; schema: Record<string, unknown> }>;
}

export interface CatalogCheckDeps {
  /** Every event type (the catalog holds tens or hundreds). */
  listAll(): Promise<EventType[]>;
  ttlMs?: number;
  now?: () => number;
}

export function createCatalogCheck(deps: CatalogCheckDeps) {
  const ttlMs = deps.ttlMs ?? CATALOG_CACHE_MS;
  const now = deps.now ?? Date.now;
  let rules: Rules | undefined;
  let loading: Promise<Rules> | undefined;
  /** Compiled once per type and version (its updatedAt). */
  const compiled = new Map<string, { updatedAt: string; check: DataCheck | undefined }>();

  async function load(): Promise<Rules> {
    const types = await deps.listAll();
    const validating = new Map<string, { updatedAt: string; schema: Record<string, unknown> }>();
    for (const t of types)
      if (t.validate && t.schema) validating.set(t.name, { updatedAt: t.updatedAt, schema: t.schema });
    for (const name of compiled.keys()) if (!validating.has(name)) compiled.delete(name);
    return { at: now(), names: new Set(types.map((t) => t.name)), validating };
  }

  async function current(): Promise<Rules> {
    if (rules && now() - rules.at < ttlMs) return rules;
    // Concurrent events share one read.
    loading ??= load().finally(() => (loading = undefined));
    rules = await loading;
    return rules;
  }

  return {
    /** Throws UnprocessableError when the app or the type's schema refuses the event. */
    async check(app: Pick<App, 'knownEventTypesOnly'>, type: string, data: unknown): Promise<void> {
      const r = await current();
      if (app.knownEventTypesOnly && !r.names.has(type)) {
        throw new UnprocessableError(`event type ${type} is not in the catalog, and this app takes known types only`, [
          { path: 'type', message: 'is not in the event-type catalog (GET /v1/event-types lists it)' },
        ]);
      }
      const rule = r.validating.get(type);
      if (!rule) return;
      let entry = compiled.get(type);
      if (!entry || entry.updatedAt !== rule.updatedAt) {
        entry = { updatedAt: rule.updatedAt, check: compileSchema(rule.schema) };
        compiled.set(type, entry);
      }
      const problems: ErrorDetail[] = entry.check ? entry.check(data, 'data') : [];
      if (problems.length > 0) {
        throw new UnprocessableError(`data does not match the schema of event type ${type}`, problems);
      }
    },
    /** Forget the cached rules: the next event reads the catalog again. */
    invalidate(): void {
      rules = undefined;
    },
  };
}

export type CatalogCheck = ReturnType<typeof createCatalogCheck>;
