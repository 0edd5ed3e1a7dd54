/**
 * Generates docs/openapi.yaml (and from it the typed client's client/openapi.d.ts) from the route
 * table (functions/api/routes.ts), whose request schemas are the ones the API validates with, and
 * the response views (functions/api/views.ts). `npm run openapi` rewrites both files;
 * test/unit/openapi.test.ts fails when they are stale or disagree with the router.
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { z } from 'zod';
import { renderClientTypes } from '../client/generate';
import { ROUTES, type RouteSpec } from '../functions/api/routes';
import { views } from '../functions/api/views';

type Json = Record<string, unknown>;

function schemaOf(schema: z.core.$ZodType): Json {
  const json = z.toJSONSchema(schema, { io: 'input', target: 'draft-2020-12', unrepresentable: 'any' }) as Json;
  delete json.$schema;
  return json;
}

const STATUS_TEXT: Record<number, string> = {
  400: 'Invalid request: the failing fields and why',
  401: 'Missing or invalid key',
  403: 'The key may not do this',
  404: 'No such resource (or not visible to this key)',
  409: 'Conflict with the current state',
  413: 'Body too large',
  415: 'Body is not JSON',
  422: 'Refused: well-formed, but not usable (a forbidden destination, an endpoint option that cannot be used), naming the field',
  429: 'Too many calls (a portal link): wait for Retry-After seconds',
};

function operation(key: string, doc: RouteSpec): Json {
  const [method = '', path = ''] = key.split(' ');
  const params = [...path.matchAll(/\{(\w+)\}/g)].map((m) => ({
    name: m[1],
    in: 'path',
    required: true,
    schema: { type: 'string' },
  }));
  if (doc.query) {
    const q = schemaOf(doc.query) as { properties?: Record<string, Json>; required?: string[] };
    for (const [name, schema] of Object.entries(q.properties ?? {})) {
      params.push({
        name,
        in: 'query',
        required: (q.required ?? []).includes(name) && !('default' in schema),
        schema,
      } as never);
    }
  }
  for (const [name, description] of Object.entries(doc.headers ?? {})) {
    params.push({ name, in: 'header', required: false, description, schema: { type: 'string' } } as never);
  }
  const responses: Json = {};
  const okView = doc.ok.view;
  const list = doc.ok.list === true;
  responses[String(doc.ok.status)] = {
    description: 'Success',
    ...(okView
      ? {
          content: {
            'application/json': {
              schema: list
                ? {
                    type: 'object',
                    properties: {
                      items: { type: 'array', items: { $ref: `#/components/schemas/${okView}` } },
                      nextCursor: { type: ['string', 'null'] },
                    },
                    required: ['items', 'nextCursor'],
                  }
                : { $ref: `#/components/schemas/${okView}` },
            },
          },
        }
      : {}),
  };
  const errors = new Set(doc.errors);
  const open = doc.access === 'open';
  if (!open) errors.add(401);
  // A portal link is rate-limited wherever it calls, and refused (403) an app route its
  // capabilities do not cover: a route with no `portal` capability, and a manage route to a
  // read-only link.
  if (!open) errors.add(429);
  if (doc.access === 'app' && doc.portal !== 'read') errors.add(403);
  if (doc.body || doc.query || params.some((p) => p.in === 'path')) errors.add(400);
  for (const status of [...errors].sort()) {
    responses[String(status)] = { $ref: `#/components/responses/E${status}` };
  }
  const op: Json = {
    operationId: `${method.toLowerCase()}${path.replace(/\{(\w+)\}/g, 'By_$1').replace(/[^A-Za-z0-9]+(.)?/g, (_m, c: string | undefined) => (c ?? '').toUpperCase())}`,
    summary: doc.summary,
    tags: [doc.tag],
    ...(params.length ? { parameters: params } : {}),
    ...(doc.body
      ? { requestBody: { required: true, content: { 'application/json': { schema: schemaOf(doc.body) } } } }
      : {}),
    responses,
  };
  if (open) op.security = [];
  return op;
}

export function buildOpenApi(): Json {
  const paths: Record<string, Json> = {};
  for (const [key, doc] of Object.entries(ROUTES) as Array<[string, RouteSpec]>) {
    const [method = '', path = ''] = key.split(' ');
    (paths[path] ??= {})[method.toLowerCase()] = operation(key, doc);
  }
  const responses: Json = {};
  for (const [status, description] of Object.entries(STATUS_TEXT)) {
    responses[`E${status}`] = {
      description,
      content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
    };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'hookrelay',
      version: '0.1.0',
      description:
        'Serverless webhook delivery for AWS. Webhooks carry webhook-id and webhook-timestamp and are signed with Standard Webhooks (webhook-signature: v1, or v1a with ed25519) or, per endpoint, a GitHub-style hmac-sha256 header; endpoints may add custom headers and Basic, bearer or OAuth2 client-credentials auth.',
      license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
    },
    servers: [{ url: 'http://127.0.0.1:3000', description: 'the local stack (npm start)' }],
    security: [{ bearer: [] }],
    tags: ['Health', 'Apps', 'Keys', 'Endpoints', 'Events', 'Event types', 'Portal'].map((name) => ({ name })),
    paths,
    components: {
      securitySchemes: {
        bearer: {
          type: 'http',
          scheme: 'bearer',
          description: 'The admin key, an app-scoped key (hrk_...), or a portal link’s token (hrp_...)',
        },
      },
      schemas: Object.fromEntries(Object.entries(views).map(([name, schema]) => [name, schemaOf(schema)])),
      responses,
    },
  };
}

export function renderOpenApi(): string {
  return `# Generated by scripts/openapi.ts from the API's own schemas: edit those, then npm run openapi.\n${stringify(buildOpenApi(), { lineWidth: 0 })}`;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const yaml = renderOpenApi();
  writeFileSync(new URL('../docs/openapi.yaml', import.meta.url), yaml);
  writeFileSync(new URL('../client/openapi.d.ts', import.meta.url), await renderClientTypes(yaml));
  console.log('wrote docs/openapi.yaml and client/openapi.d.ts');
}
