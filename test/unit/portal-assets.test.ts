import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { portalAsset, portalCsp } from '../../functions/handlers/http/portal';
import { PORTAL_ASSETS_FILE, renderPortalAssets } from '../../scripts/build-portal';

const event = (path: string, method = 'GET', headers: Record<string, string> = {}) =>
  ({ rawPath: path, headers, requestContext: { http: { method } } }) as never;

describe('the portal’s assets', () => {
  it('are what npm run build:portal builds from portal/ (run it after a change)', async () => {
    expect(readFileSync(PORTAL_ASSETS_FILE, 'utf8')).toBe(await renderPortalAssets());
  });

  it('are served at /portal with a strict CSP, no inline script, and the configured frame-ancestors', () => {
    const page = portalAsset(event('/portal'), "'self' https://app.example.com")!;
    expect(page.statusCode).toBe(200);
    expect(page.headers?.['content-type']).toMatch(/^text\/html/);
    expect(page.body).toContain('<script type="module" src="portal/app.js"></script>');
    expect(page.body).not.toMatch(/<script>|<script type="module">|\son\w+=|style=/);
    const csp = String(page.headers?.['content-security-policy']);
    expect(csp).toBe(portalCsp("'self' https://app.example.com"));
    expect(csp).toMatch(/default-src 'none'.*script-src 'self'.*frame-ancestors 'self' https:\/\/app\.example\.com/);
    expect(csp).not.toMatch(/unsafe-inline|unsafe-eval/);
    expect(portalAsset(event('/portal/app.js'), "'none'")!.headers?.['content-type']).toMatch(/javascript/);
    expect(portalAsset(event('/portal/nope.js'), "'none'")!.statusCode).toBe(404);
    // The page asks relative to itself: /portal/ (trailing slash) makes that /portal/portal/app.js.
    expect(portalAsset(event('/portal/portal/app.js'), "'none'")!.statusCode).toBe(200);
    expect(portalAsset(event('/portal/__proto__'), "'none'")!.statusCode).toBe(404);
  });

  it('answer 304 to a matching ETag and leave other paths and methods to the API', () => {
    const first = portalAsset(event('/portal/app.css'), "'none'")!;
    const again = portalAsset(
      event('/portal/app.css', 'GET', { 'if-none-match': String(first.headers?.etag) }),
      "'none'",
    );
    expect(again?.statusCode).toBe(304);
    expect(portalAsset(event('/portal', 'POST'), "'none'")).toBeUndefined();
    expect(portalAsset(event('/portals'), "'none'")).toBeUndefined();
    expect(portalAsset(event('/v1/apps'), "'none'")).toBeUndefined();
  });
});
