import { existsSync } from 'node:fs';
import path from 'node:path';
import express, { Router, type RequestHandler } from 'express';
import helmet from 'helmet';

/** Where `npm run console:build` (Vite) writes the console. */
export const CONSOLE_DIST = path.resolve(__dirname, '..', '..', 'console', 'dist');

/**
 * The console's own page paths (client-side routes), each answered with its index.html. Everything
 * else stays the API's: /elements/… and unknown paths get the API's 404 JSON.
 */
export const CONSOLE_PAGES = ['/', '/new', '/instances/:id', '/oauth/return'];
/** The routes the console adds to the app (its assets are served under /assets besides). */
export const CONSOLE_ROUTES = [...CONSOLE_PAGES, '/favicon.svg'];

export const CONSOLE_NOT_BUILT =
  'The console is not built. Run `npm run console:build` (`npm start` does it first), then reload this page. ' +
  'The API itself is at /elements/api-v2.';

/**
 * Serves the built console: its pages (index.html, never cached: it names the current assets) and its
 * assets (content-hashed file names, so they may be cached for good).
 */
export function consoleRouter(distDir = CONSOLE_DIST): Router {
  const router = Router();
  const index = path.join(distDir, 'index.html');
  const page: RequestHandler = (_req, res) => {
    // Checked per request: a build made while the API runs is served without a restart.
    if (!existsSync(index)) {
      res.status(503).type('text/plain').send(`${CONSOLE_NOT_BUILT}\n`);
      return;
    }
    res.sendFile(index);
  };
  const cacheForGood: RequestHandler = (_req, res, next) => {
    // The app marks every answer no-store; a hashed asset never changes, so that is lifted here.
    res.removeHeader('cache-control');
    next();
  };
  // helmet's policy as everywhere (no inline script), less `upgrade-insecure-requests`: over plain http
  // on any host but localhost and 127.0.0.1 (a LAN host, a container name) the browser would ask for
  // the console's scripts and styles over https, which this server does not speak, and show nothing.
  const pagePolicy = helmet.contentSecurityPolicy({ directives: { upgradeInsecureRequests: null } });
  for (const pagePath of CONSOLE_PAGES) router.get(pagePath, pagePolicy, page);
  const notFoundNoStore: RequestHandler = (_req, res, next) => {
    res.setHeader('cache-control', 'no-store');
    next();
  };
  router.use(
    '/assets',
    cacheForGood,
    express.static(path.join(distDir, 'assets'), { immutable: true, maxAge: '1y', index: false }),
    notFoundNoStore,
  );
  router.get('/favicon.svg', (_req, res, next) => {
    res.sendFile(path.join(distDir, 'favicon.svg'), (err) => (err ? next() : undefined));
  });
  return router;
}
