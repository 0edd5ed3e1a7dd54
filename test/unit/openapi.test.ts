import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { renderOpenApi } from '../../scripts/openapi';
import { servedRoutes } from '../helpers/api-handler';

const onDisk = readFileSync(new URL('../../docs/openapi.yaml', import.meta.url), 'utf8');
const spec = parse(onDisk) as {
  paths: Record<string, Record<string, { responses: Record<string, unknown>; security?: unknown[] }>>;
};
const METHODS = new Set(['get', 'post', 'put', 'patch', 'delete']);

const specRoutes = Object.entries(spec.paths)
  .flatMap(([path, ops]) =>
    Object.keys(ops)
      .filter((m) => METHODS.has(m))
      .map((m) => `${m.toUpperCase()} ${path}`),
  )
  .sort();
const routes = await servedRoutes();
const routerRoutes = routes.map((r) => `${r.method} ${r.path}`).sort();

describe('docs/openapi.yaml', () => {
  it('is what scripts/openapi.ts generates from the API’s schemas (run npm run openapi after a change)', () => {
    expect(onDisk).toBe(renderOpenApi());
  });

  it('is what the typed client was generated from (client/openapi.d.ts; npm run openapi)', async () => {
    const { renderClientTypes } = await import('../../client/generate');
    expect(readFileSync(new URL('../../client/openapi.d.ts', import.meta.url), 'utf8')).toBe(
      await renderClientTypes(onDisk),
    );
  });

  it('documents every route the router serves', () => {
    expect(routerRoutes.filter((r) => !specRoutes.includes(r))).toEqual([]);
  });

  it('documents no route the router lacks', () => {
    expect(specRoutes.filter((r) => !routerRoutes.includes(r))).toEqual([]);
  });

  it('marks every route but /health as needing a key, with a 401', () => {
    for (const [path, ops] of Object.entries(spec.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        if (path === '/health') {
          expect(op.security).toEqual([]);
        } else {
          expect(op.responses['401'], `${method} ${path}`).toBeDefined();
        }
      }
    }
  });
});
