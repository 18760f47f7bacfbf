import path from 'node:path';
import { Router } from 'express';
import helmet from 'helmet';
import { elements as registry } from '../elements';
import type { Element } from '../elements/element';
import { BASE_PATH } from './base-path';
import { openApiDocument } from './openapi/document';

const PAGE_DIR = path.join(__dirname, 'openapi', 'page');
const SWAGGER_UI_DIR = path.dirname(require.resolve('swagger-ui-dist/swagger-ui-bundle.js'));

/** The reference page's files, by URL under /docs: Swagger UI from node_modules (no CDN) and our own page. */
export const DOCS_ASSETS: Record<string, string> = {
  '/docs': path.join(PAGE_DIR, 'index.html'),
  '/docs/docs.js': path.join(PAGE_DIR, 'docs.js'),
  '/docs/swagger-ui.css': path.join(SWAGGER_UI_DIR, 'swagger-ui.css'),
  '/docs/swagger-ui-bundle.js': path.join(SWAGGER_UI_DIR, 'swagger-ui-bundle.js'),
  '/docs/favicon-32x32.png': path.join(SWAGGER_UI_DIR, 'favicon-32x32.png'),
};

/**
 * `GET /elements/api-v2/openapi.json` (no secrets needed: it describes the code, not anyone's data)
 * and the reference page at `/docs`. The document is built once, here, when the app is created.
 */
export function docsRouter(elements: ReadonlyMap<string, Element> = registry): Router {
  const document = JSON.stringify(openApiDocument(elements));
  const router = Router();
  router.get(`${BASE_PATH}/openapi.json`, (_req, res) => {
    res.type('json').send(document);
  });
  // helmet's policy as everywhere, less `upgrade-insecure-requests`: over plain http on an address
  // other than localhost (a LAN host, a container name) the browser would ask for the page's script
  // and stylesheet over https, which this server does not speak, and render nothing.
  const pagePolicy = helmet.contentSecurityPolicy({ directives: { upgradeInsecureRequests: null } });
  for (const [url, file] of Object.entries(DOCS_ASSETS)) {
    router.get(url, pagePolicy, (_req, res) => res.sendFile(file));
  }
  return router;
}
