import crypto from 'node:crypto';
import { defineRoute, type AnyRoute } from '../http/route';

/** Swagger UI's own settings: the document, and "Authorize" wired to the password flow of login/access-token. */
const INITIALIZER = `window.ui = SwaggerUIBundle({
  url: '/api/v1/openapi.json',
  dom_id: '#swagger-ui',
  deepLinking: true,
  persistAuthorization: true,
  tryItOutEnabled: true,
  oauth2RedirectUrl: window.location.origin + '/docs/oauth2-redirect.html',
  presets: [SwaggerUIBundle.presets.apis],
});`;

const PAGE = `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Todo service API</title>
  <link rel="stylesheet" href="/docs/swagger-ui.css">
  <link rel="icon" type="image/png" href="/docs/favicon-32x32.png">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/docs/swagger-ui-bundle.js"></script>
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
      handler: ({ res }) => {
        res.set('Content-Security-Policy', CONTENT_SECURITY_POLICY).type('html').send(PAGE);
      },
    }),
  ];
}
