/**
 * JSON Schema, checked with Ajv: a schema must itself be valid (against the draft it declares,
 * 2020-12 by default, or draft-07), must compile (every $ref resolves), and every example must
 * validate against it. Each check builds its own Ajv instance: writes to the catalog are rare,
 * and a long-lived Lambda must not accumulate every schema it was ever shown in Ajv's cache.
 */
import Ajv, { type ErrorObject } from 'ajv';
import type AjvCore from 'ajv/dist/core';
import Ajv2020 from 'ajv/dist/2020';
import type { ErrorDetail } from '../shared/errors';

const DRAFT_07 = /^https?:\/\/json-schema\.org\/draft-07\/schema#?$/;
const DRAFT_2020 = /^https?:\/\/json-schema\.org\/draft\/2020-12\/schema#?$/;

function ajvFor(schema: Record<string, unknown>): { ajv: AjvCore } | { error: ErrorDetail } {
  const declared = schema.$schema;
  // Formats ("email", "date-time"...) are annotations here: no format is validated.
  const options = { strict: false, allErrors: true, validateFormats: false, addUsedSchema: false } as const;
  if (declared === undefined || (typeof declared === 'string' && DRAFT_2020.test(declared)))
    return { ajv: new Ajv2020(options) };
  if (typeof declared === 'string' && DRAFT_07.test(declared)) return { ajv: new Ajv(options) };
  return {
    error: {
      path: 'schema.$schema',
      message:
        'must be https://json-schema.org/draft/2020-12/schema (the default) or http://json-schema.org/draft-07/schema#',
    },
  };
}

const pointerToPath = (pointer: string) =>
  pointer
    .split('/')
    .slice(1)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
    .join('.');

function details(prefix: string, errors: ErrorObject[] | null | undefined): ErrorDetail[] {
  return (errors ?? []).slice(0, 20).map((e) => {
    const at = pointerToPath(e.instancePath);
    return { path: at ? `${prefix}.${at}` : prefix, message: e.message ?? 'is invalid' };
  });
}

/**
 * What is wrong with a schema, one line per place: Ajv reports a value that fits none of a
 * keyword's forms once per form and once more for the `anyOf` ("must be equal to one of the
 * allowed values", "must be array", "must match a schema in anyOf"). At a place with an `anyOf`
 * or `oneOf`, its branches' errors become one sentence: the allowed values, or the forms.
 */
function schemaDetails(errors: ErrorObject[] | null | undefined): ErrorDetail[] {
  const byPlace = new Map<string, ErrorObject[]>();
  for (const e of errors ?? []) byPlace.set(e.instancePath, [...(byPlace.get(e.instancePath) ?? []), e]);
  const out: ErrorDetail[] = [];
  for (const [place, group] of byPlace) {
    const at = pointerToPath(place);
    const path = at ? `schema.${at}` : 'schema';
    if (!group.some((e) => e.keyword === 'anyOf' || e.keyword === 'oneOf')) {
      for (const e of group) out.push({ path, message: e.message ?? 'is invalid' });
      continue;
    }
    const allowed = group.flatMap((e) =>
      e.keyword === 'enum' ? ((e.params as { allowedValues?: unknown[] }).allowedValues ?? []) : [],
    );
    const types = group.flatMap((e) => (e.keyword === 'type' ? [String((e.params as { type?: unknown }).type)] : []));
    let message: string;
    if (allowed.length > 0) {
      message = `must be one of ${[...new Set(allowed.map(String))].sort().join(', ')}`;
      if (types.includes('array')) message += ', or a list of them';
    } else if (types.length > 0) message = `must be of type ${[...new Set(types)].join(' or ')}`;
    else message = group.find((e) => e.keyword !== 'anyOf' && e.keyword !== 'oneOf')?.message ?? 'is invalid';
    out.push({ path, message });
  }
  return out.slice(0, 20);
}

/** What is wrong with `schema` and `examples` (empty when nothing is). */
export function checkSchemaAndExamples(
  schema: Record<string, unknown> | undefined,
  examples: readonly unknown[],
): ErrorDetail[] {
  if (schema === undefined) return [];
  const chosen = ajvFor(schema);
  if ('error' in chosen) return [chosen.error];
  const { ajv } = chosen;
  if (!ajv.validateSchema(schema)) return schemaDetails(ajv.errors);
  let validate;
  try {
    validate = ajv.compile(schema);
  } catch (err) {
    return [{ path: 'schema', message: `does not compile: ${(err as Error).message}` }];
  }
  return examples.flatMap((example, i) => (validate(example) ? [] : details(`examples.${i}`, validate.errors)));
}

/** A compiled schema: what is wrong with a value, as details under `prefix` (empty when valid). */
export type DataCheck = (value: unknown, prefix: string) => ErrorDetail[];

/**
 * Compiles a catalog schema (already checked at write time) into a reusable check. One Ajv
 * instance per schema, so dropping the check frees it; undefined if it no longer compiles.
 */
export function compileSchema(schema: Record<string, unknown>): DataCheck | undefined {
  const chosen = ajvFor(schema);
  if ('error' in chosen) return undefined;
  try {
    const validate = chosen.ajv.compile(schema);
    return (value, prefix) => (validate(value) ? [] : details(prefix, validate.errors));
  } catch {
    return undefined;
  }
}
