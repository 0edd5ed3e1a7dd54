/**
 * Holds every answer the tests' typed client receives to docs/openapi.yaml: its status must be
 * one the document lists for that route, and a JSON body must match the schema it gives there.
 * The generated types say what the compiler may assume; this checks that the running API keeps
 * to it, so a view that drifts from the document fails the end-to-end run.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import Ajv2020, { type ValidateFunction } from 'ajv/dist/2020';
import type { Middleware } from 'openapi-fetch';
import { parse } from 'yaml';
import { REPO_ROOT } from '../../infra/local/assembly';

type Json = Record<string, unknown>;
const doc = parse(readFileSync(path.join(REPO_ROOT, 'docs', 'openapi.yaml'), 'utf8')) as {
  paths: Record<string, Record<string, { responses?: Record<string, Json> }>>;
};

// The document is one schema resource: its components' `#/...` references resolve inside it.
// Formats are annotations here, as in the API's own checks.
const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: false });
ajv.addSchema(doc, 'openapi', undefined, false);

const pointer = (...parts: string[]) => parts.map((p) => p.replace(/~/g, '~0').replace(/\//g, '~1')).join('/');
const validators = new Map<string, ValidateFunction | null>();

/** The body's validator for an answer (null: it has no JSON body), or undefined if undocumented. */
function validatorFor(method: string, route: string, status: number): ValidateFunction | null | undefined {
  const key = `${method} ${route} ${status}`;
  if (validators.has(key)) return validators.get(key)!;
  const responses = doc.paths[route]?.[method]?.responses ?? {};
  let answer = responses[String(status)];
  if (answer === undefined) return undefined;
  let at = `#/${pointer('paths', route, method, 'responses', String(status))}`;
  if (typeof answer.$ref === 'string') {
    at = answer.$ref;
    answer = at
      .slice(2)
      .split('/')
      .reduce<Json>((node, p) => node[p.replace(/~1/g, '/').replace(/~0/g, '~')] as Json, doc as unknown as Json);
  }
  const hasJson = (answer.content as Json | undefined)?.['application/json'] !== undefined;
  const validate = hasJson ? ajv.compile({ $ref: `openapi${at}/content/application~1json/schema` }) : null;
  validators.set(key, validate);
  return validate;
}

export const documentedAnswers: Middleware = {
  async onResponse({ request, response, schemaPath }) {
    const method = request.method.toLowerCase();
    const what = `${request.method} ${schemaPath} answered ${response.status}`;
    const validate = validatorFor(method, schemaPath, response.status);
    if (validate === undefined) throw new Error(`${what}, a status docs/openapi.yaml does not list for it`);
    if (validate === null) return undefined;
    const body: unknown = await response.clone().json();
    if (!validate(body)) {
      throw new Error(
        `${what} with a body docs/openapi.yaml does not allow: ${ajv.errorsText(validate.errors)}\n${JSON.stringify(body).slice(0, 500)}`,
      );
    }
    return undefined;
  },
};
