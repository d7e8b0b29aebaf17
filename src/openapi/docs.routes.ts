import crypto from 'node:crypto';
import express, { type RequestHandler } from 'express';
// Only the folder of its assets: the package's main module would load the whole 1.5 MB UI bundle.
import swaggerUiAssets from 'swagger-ui-dist/absolute-path.js';
import { Reply } from '../http/reply';
import { defineRoute, type AnyRoute } from '../http/route';

/**
 * The files of swagger-ui-dist that the page below loads, and the only ones served: the package
 * also holds a stock index.html pointing at the petstore, its README, package.json and megabytes of
 * source maps. The password flow posts to the token URL itself, so no oauth2-redirect page is needed.
 */
export const DOCS_ASSETS = { stylesheet: 'swagger-ui.css', icon: 'favicon-32x32.png', script: 'swagger-ui-bundle.js' } as const;

/** Swagger UI's own settings: the document, and "Authorize" wired to the password flow of login/access-token. */
const INITIALIZER = `window.ui = SwaggerUIBundle({
  url: '/api/v1/openapi.json',
  dom_id: '#swagger-ui',
  deepLinking: true,
  persistAuthorization: true,
  tryItOutEnabled: true,
  presets: [SwaggerUIBundle.presets.apis],
});`;

const PAGE = `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Todo service API</title>
  <link rel="stylesheet" href="/docs/${DOCS_ASSETS.stylesheet}">
  <link rel="icon" type="image/png" href="/docs/${DOCS_ASSETS.icon}">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/docs/${DOCS_ASSETS.script}"></script>
  <script>${INITIALIZER}</script>
</body>
</html>`;

/** The page's one inline script is allowed by its hash; everything else must come from this origin. */
const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  `script-src 'self' 'sha256-${crypto.createHash('sha256').update(INITIALIZER).digest('base64')}'`,
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "frame-ancestors 'self'",
  "object-src 'none'",
].join('; ');

export function docsRoutes(document: () => object): AnyRoute[] {
  return [
    defineRoute({
      method: 'get',
      path: '/api/v1/openapi.json',
      tag: 'operations',
      summary: 'This OpenAPI 3.1 document, generated from the route table and the validation classes',
      auth: false,
      database: false,
      success: { status: 200, description: 'The OpenAPI document', schema: 'object' },
      handler: () => document(),
    }),
    defineRoute({
      method: 'get',
      path: '/docs',
      tag: 'operations',
      summary: 'Swagger UI over the OpenAPI document',
      auth: false,
      database: false,
      success: { status: 200, description: 'An HTML page', contentType: 'text/html' },
      handler: () => new Reply({ body: PAGE, headers: { 'Content-Security-Policy': CONTENT_SECURITY_POLICY }, contentType: 'text/html; charset=utf-8' }),
    }),
  ];
}

/** Serves the page's assets under /docs/; any other path falls through to the 404 of unknown routes. */
export function docsAssets(): RequestHandler {
  const serve = express.static(swaggerUiAssets(), { index: false, redirect: false, maxAge: '1h' });
  const allowed = new Set(Object.values(DOCS_ASSETS).map((file) => `/${file}`));
  return (req, res, next) => (allowed.has(req.path) ? serve(req, res, next) : next());
}
