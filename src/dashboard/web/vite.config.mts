import { defineConfig } from 'vite';

/** `vite build src/dashboard/web --config src/dashboard/web/vite.config.mts` (the root, src/dashboard/web/, is given on the command line): the engine serves the output at /dashboard (src/dashboard/dashboard-assets.ts). */
export default defineConfig({
  base: '/dashboard/',
  // Everything is bundled: the page loads nothing from anywhere but the engine.
  build: {
    outDir: '../../../dist/dashboard',
    emptyOutDir: true,
    assetsInlineLimit: 0,
    sourcemap: true,
    chunkSizeWarningLimit: 600,
  },
  server: {
    // `npx vite src/dashboard/web --config src/dashboard/web/vite.config.mts` during development, against an engine on :3000.
    proxy: Object.fromEntries(
      ['/epochs', '/synqers', '/settlement', '/verification', '/projections', '/policy', '/chain', '/treasury'].map((path) => [path, 'http://127.0.0.1:3000']),
    ),
  },
});
