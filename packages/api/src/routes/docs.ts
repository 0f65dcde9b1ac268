// /openapi.json (generated from the zod schemas of the routes) and /docs, the interactive
// reference: Swagger UI from the installed swagger-ui-dist package, served by the API itself
// under /docs/assets/ (no CDN: the page works offline), with bearer-token "try it out".
// The page holds no inline script or style, so it runs under a CSP of 'self' only
// (packages/api/test/docs-page.test.ts checks it in headless Chromium).
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../context.ts';
import { NotFoundError } from '../problems.ts';

const DOC_CONFIG = {
  openapi: '3.1.0',
  info: {
    title: 'relevo API',
    version: '1.0.0',
    description: 'Partners, KYC and integrations of gestión de integraciones. Every write commits its change and its outbox event together.',
  },
};

type Doc = ReturnType<OpenAPIHono<AppEnv>['getOpenAPI31Document']>;

export const DOCS_CSP = [
  "default-src 'none'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:", "font-src 'self'",
  "connect-src 'self'", "form-action 'none'", "frame-ancestors 'none'", "base-uri 'none'",
].join('; ');

/** Starts Swagger UI on the API's own document. A file, not inline: the CSP allows 'self' scripts only. */
const INIT_SCRIPT = `window.addEventListener('DOMContentLoaded', () => {
  window.ui = SwaggerUIBundle({
    url: '/openapi.json',
    dom_id: '#swagger-ui',
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis],
    layout: 'BaseLayout',
    // No call to the public validator service: the page works offline.
    validatorUrl: null,
    persistAuthorization: false,
    displayRequestDuration: true,
  });
});
`;

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>relevo API reference</title>
<link rel="icon" type="image/png" href="/docs/assets/favicon-32x32.png">
<link rel="stylesheet" href="/docs/assets/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script src="/docs/assets/relevo-docs.js"></script>
</body>
</html>
`;

const SWAGGER_UI_DIR = dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));

/** The assets /docs serves: exactly these, read from the package once, on first request. */
const ASSETS: Record<string, { type: string; load: () => Buffer | string }> = {
  'swagger-ui.css': { type: 'text/css; charset=utf-8', load: () => readFileSync(join(SWAGGER_UI_DIR, 'swagger-ui.css')) },
  'swagger-ui-bundle.js': { type: 'text/javascript; charset=utf-8', load: () => readFileSync(join(SWAGGER_UI_DIR, 'swagger-ui-bundle.js')) },
  'favicon-32x32.png': { type: 'image/png', load: () => readFileSync(join(SWAGGER_UI_DIR, 'favicon-32x32.png')) },
  'relevo-docs.js': { type: 'text/javascript; charset=utf-8', load: () => INIT_SCRIPT },
};

export function mountDocs(app: OpenAPIHono<AppEnv>): void {
  app.openAPIRegistry.registerComponent('securitySchemes', 'bearerAuth', { type: 'http', scheme: 'bearer' });
  let cached: Doc | undefined;
  const doc = () => (cached ??= app.getOpenAPI31Document(DOC_CONFIG));
  const loaded = new Map<string, Buffer | string>();
  app.get('/openapi.json', (c) => c.json(doc()));
  app.get('/docs', (c) => {
    c.header('Content-Security-Policy', DOCS_CSP);
    c.header('Referrer-Policy', 'no-referrer');
    return c.html(PAGE);
  });
  app.get('/docs/assets/:name', (c) => {
    const name = c.req.param('name');
    const asset = Object.hasOwn(ASSETS, name) ? ASSETS[name]! : undefined;
    if (!asset) throw new NotFoundError('docs asset', name);
    if (!loaded.has(name)) loaded.set(name, asset.load());
    c.header('Content-Type', asset.type);
    c.header('Cache-Control', 'public, max-age=86400');
    c.header('X-Content-Type-Options', 'nosniff');
    const body = loaded.get(name)!;
    return c.body(typeof body === 'string' ? body : new Uint8Array(body));
  });
}
