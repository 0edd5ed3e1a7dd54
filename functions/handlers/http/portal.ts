/**
 * The portal's static files, served by the api function at /portal: the page, its script and
 * its stylesheet, built by `npm run build:portal` (scripts/build-portal.ts) into
 * portal-assets.json and so carried inside the Lambda bundle. No key is needed to load them:
 * the page reads its link's token from the URL fragment and sends it with each API call.
 *
 * Every answer carries a strict Content-Security-Policy (no inline script or style, calls only
 * to this origin); `frame-ancestors` is HOOKRELAY_PORTAL_FRAME_ANCESTORS ('none' by default).
 */
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import assets from './portal-assets.json';
import type { HttpResult } from './respond';

interface Asset {
  type: string;
  body: string;
  etag: string;
  base64?: true;
}

const FILES = assets as Record<string, Asset>;

export function portalCsp(frameAncestors: string): string {
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    `frame-ancestors ${frameAncestors}`,
  ].join('; ');
}

/**
 * The answer for a portal path (GET or HEAD), or undefined when the request is for the API.
 * `/favicon.ico` is the portal's icon too: browsers and tools ask for it without a key.
 */
export function portalAsset(event: APIGatewayProxyEventV2, frameAncestors: string): HttpResult | undefined {
  const path = event.rawPath;
  if (path !== '/portal' && !path.startsWith('/portal/') && path !== '/favicon.ico') return undefined;
  const method = event.requestContext?.http?.method?.toUpperCase();
  if (method !== 'GET' && method !== 'HEAD') return undefined;
  // By the last segment: the page asks for its files relative to itself, so that it works under a
  // REST API's stage (/prod/portal) and at /portal/ alike.
  const name = path === '/portal' || path === '/portal/' ? 'index.html' : (path.split('/').at(-1) ?? '');
  const asset = Object.hasOwn(FILES, name) ? FILES[name] : undefined;
  const headers: Record<string, string> = {
    'content-security-policy': portalCsp(frameAncestors),
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'cross-origin-opener-policy': 'same-origin',
  };
  if (!asset) {
    return {
      statusCode: 404,
      headers: { ...headers, 'content-type': 'text/plain; charset=utf-8' },
      body: 'not found',
    };
  }
  if (event.headers?.['if-none-match'] === asset.etag)
    return { statusCode: 304, headers: { ...headers, etag: asset.etag } };
  return {
    statusCode: 200,
    headers: {
      ...headers,
      'content-type': asset.type,
      etag: asset.etag,
      // The page is small and must pick up a new build at once; the assets are revalidated by etag.
      'cache-control': 'no-cache',
    },
    body: method === 'HEAD' ? '' : asset.body,
    ...(asset.base64 && method !== 'HEAD' ? { isBase64Encoded: true } : {}),
  };
}
