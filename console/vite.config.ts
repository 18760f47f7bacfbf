import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

// The console: Preact through esbuild's automatic JSX runtime (no plugin), built into console/dist,
// which the API serves at /. `npm run console:dev` serves it with hot reload and passes the API's
// calls on to a running API (ELEMENTS_API_URL, default http://127.0.0.1:3000).
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
  // The dev server's dependency cache stays in the console's folder (node_modules may be shared between checkouts).
  cacheDir: 'node_modules/.vite',
  build: { outDir: 'dist', emptyOutDir: true, assetsDir: 'assets', sourcemap: true },
  server: {
    host: '127.0.0.1',
    proxy: { '/elements': { target: process.env.ELEMENTS_API_URL ?? 'http://127.0.0.1:3000', changeOrigin: false } },
  },
  preview: { host: '127.0.0.1' },
});
