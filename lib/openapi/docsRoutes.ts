// GET /openapi.json and GET /docs (Swagger UI from the swagger-ui-dist package, served from here: no CDN), its favicon,
// and GET / pointing to them. No token.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Router from '@koa/router';
// Its absolute-path module only: the package's main module loads the 1.4 MB browser bundle into the server.
import getAbsoluteFSPath from 'swagger-ui-dist/absolute-path.js';
import type { AppState } from '../http/AppState';
import type { LoadedModule } from '../modules/loadModules';
import { GATEWAY_PATHS } from '../http/gatewayPaths';
import { buildOpenApi } from './buildOpenApi';

const ASSETS: Record<string, string> = {
  'swagger-ui.css': 'text/css; charset=utf-8',
  'swagger-ui-bundle.js': 'application/javascript; charset=utf-8',
  'favicon-32x32.png': 'image/png',
};

const PAGE = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>dbapi</title><link rel="icon" type="image/png" href="${GATEWAY_PATHS.docs}/favicon-32x32.png">
<link rel="stylesheet" href="${GATEWAY_PATHS.docs}/swagger-ui.css"></head>
<body><div id="ui"></div>
<script src="${GATEWAY_PATHS.docs}/swagger-ui-bundle.js"></script>
<script src="${GATEWAY_PATHS.docs}/init.js"></script>
</body>
</html>`;

const INIT = `window.ui = SwaggerUIBundle({ url: '${GATEWAY_PATHS.openapi}', dom_id: '#ui', deepLinking: true });`;

export function docsRoutes(modules: readonly LoadedModule[], info: { title: string; version: string }): Router<AppState> {
  const document = JSON.stringify(buildOpenApi(modules, info)); // the route tables are fixed at start: built once
  const dir = getAbsoluteFSPath();
  const assets = new Map(Object.entries(ASSETS).map(([file, type]) => [file, { type, body: readFileSync(join(dir, file)) }]));
  const router = new Router<AppState>();
  router.get(GATEWAY_PATHS.openapi, (ctx) => {
    ctx.type = 'application/json';
    ctx.body = document;
  });
  router.get(GATEWAY_PATHS.docs, (ctx) => {
    ctx.type = 'text/html; charset=utf-8';
    ctx.body = PAGE;
  });
  router.get(`${GATEWAY_PATHS.docs}/init.js`, (ctx) => {
    ctx.type = 'application/javascript; charset=utf-8';
    ctx.body = INIT;
  });
  // A browser asks for /favicon.ico on its own: answer the docs' icon rather than a 401 in its console.
  router.get(GATEWAY_PATHS.favicon, (ctx) => {
    const icon = assets.get('favicon-32x32.png')!;
    ctx.type = icon.type;
    ctx.set('Cache-Control', 'public, max-age=86400');
    ctx.body = icon.body;
  });
  // Someone opening the gateway's address: a browser goes to the docs, anything else is told where they are.
  router.get(GATEWAY_PATHS.root, (ctx) => {
    if (ctx.accepts('json', 'html') === 'html') return ctx.redirect(GATEWAY_PATHS.docs);
    ctx.body = { name: info.title, docs: GATEWAY_PATHS.docs, openapi: GATEWAY_PATHS.openapi, health: GATEWAY_PATHS.health, calls: 'POST /<module>/<action> with Authorization: Bearer <token>' };
  });
  router.get(`${GATEWAY_PATHS.docs}/:file`, (ctx, next) => {
    const asset = assets.get(ctx.params.file);
    if (!asset) return next();
    ctx.type = asset.type;
    ctx.set('Cache-Control', 'public, max-age=86400');
    ctx.body = asset.body;
  });
  return router;
}
