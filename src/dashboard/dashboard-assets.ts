import type { NestExpressApplication } from '@nestjs/platform-express';
import type { NextFunction, Request, Response } from 'express';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { projectRoot } from '../project-root';

/** Where `vite build src/dashboard/web` writes the dashboard (src/dashboard/web/vite.config.mts). */
export const DASHBOARD_DIR = path.join(projectRoot(), 'dist', 'dashboard');

const NOT_BUILT = 'dashboard not built: run npm run build';

/**
 * Serves the built dashboard at /dashboard. The files are public (no API key): the page asks for a key and sends it
 * with each API call, where the guard checks it. Express middleware, so it runs before (and outside) Nest's routes
 * and guards. Without a build, /dashboard answers 404 problem+json saying how to build it.
 */
export function serveDashboard(app: NestExpressApplication, directory = DASHBOARD_DIR): void {
  app.useStaticAssets(directory, {
    prefix: '/dashboard',
    index: 'index.html',
    setHeaders(response, file) {
      // Vite names assets by content hash: they never change; index.html is looked at again each time.
      const immutable = file.includes(`${path.sep}assets${path.sep}`);
      response.setHeader('Cache-Control', immutable ? 'public, max-age=31536000, immutable' : 'no-cache');
      response.setHeader('X-Content-Type-Options', 'nosniff');
      response.setHeader('Referrer-Policy', 'no-referrer');
      // The page holds an API key: it may load and call nothing but this engine.
      response.setHeader(
        'Content-Security-Policy',
        "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
      );
    },
  });
  app.use('/dashboard', (request: Request, response: Response, next: NextFunction) => {
    if (request.method !== 'GET' && request.method !== 'HEAD') return next();
    const built = existsSync(path.join(directory, 'index.html'));
    const detail = built ? `no dashboard file ${request.originalUrl.split('?')[0]}` : NOT_BUILT;
    response
      .status(404)
      .type('application/problem+json')
      .json({ type: 'about:blank', title: 'Not found', status: 404, detail, problems: [{ field: 'dashboard', reason: detail }] });
  });
}
