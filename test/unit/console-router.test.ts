import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import express from 'express';
import { CONSOLE_NOT_BUILT, consoleRouter } from '../../src/api/console';
import { listenOnFreePort } from '../fakes/http-server';

/** The console's static serving, on an app shaped like the API's: no-store everywhere, then a JSON 404. */
async function serve(distDir: string) {
  const app = express();
  app.use((_req, res, next) => {
    res.setHeader('cache-control', 'no-store');
    next();
  });
  app.use(consoleRouter(distDir));
  app.use((req, res) => {
    res.status(404).json({ message: `No route for ${req.method} ${req.path}` });
  });
  return listenOnFreePort(app);
}

describe('serving the console', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'console-dist-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  test('not built: its pages say to run npm run console:build; other paths stay 404', async () => {
    const server = await serve(dir);
    try {
      for (const page of ['/', '/new', '/instances/42', '/oauth/return?code=x&state=y']) {
        const res = await fetch(`${server.url}${page}`);
        expect(res.status).toBe(503);
        expect(await res.text()).toBe(`${CONSOLE_NOT_BUILT}\n`);
        expect(CONSOLE_NOT_BUILT).toContain('npm run console:build');
      }
      expect((await fetch(`${server.url}/elements/api-v2/nothing`)).status).toBe(404);
    } finally {
      await server.close();
    }
  });

  test('built: page paths answer index.html (never cached), hashed assets are cached for good, the rest is not the console’s', async () => {
    mkdirSync(path.join(dir, 'assets'));
    writeFileSync(path.join(dir, 'index.html'), '<!doctype html><div id="app"></div>');
    writeFileSync(path.join(dir, 'assets', 'index-abc123.js'), 'console.log(1)');
    const server = await serve(dir);
    try {
      for (const page of ['/', '/new', '/instances/42', '/oauth/return']) {
        const res = await fetch(`${server.url}${page}`);
        expect(res.status).toBe(200);
        expect(res.headers.get('cache-control')).toBe('no-store');
        expect(await res.text()).toContain('<div id="app">');
      }
      const asset = await fetch(`${server.url}/assets/index-abc123.js`);
      expect(asset.status).toBe(200);
      expect(asset.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
      const missing = await fetch(`${server.url}/assets/gone.js`);
      expect(missing.status).toBe(404);
      expect(missing.headers.get('cache-control')).toBe('no-store');
      for (const other of ['/instances', '/instances/42/events', '/elements/api-v2/instances', '/index.html', '/favicon.ico']) {
        const res = await fetch(`${server.url}${other}`);
        expect([other, res.status]).toEqual([other, 404]);
      }
    } finally {
      await server.close();
    }
  });
});
