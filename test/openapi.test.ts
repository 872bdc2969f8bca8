import { METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants';
import { RequestMethod } from '@nestjs/common';
import { DevelopersController } from '../src/developers/developers';
import { HealthController } from '../src/health/health.controller';
import { MetricReportsController } from '../src/metrics/metric-reports';
import { NetworkController } from '../src/network/network';
import { StakesController } from '../src/stakes/stakes';
import { SynqersController } from '../src/synqers/synqers';
import { startTestApi, type TestApi } from './support/api';

const CONTROLLERS = [HealthController, SynqersController, NetworkController, MetricReportsController, DevelopersController, StakesController];

/** Every route the controllers declare, as "METHOD /path/{param}". */
function declaredRoutes(): string[] {
  const routes: string[] = [];
  for (const controller of CONTROLLERS) {
    const base = String(Reflect.getMetadata(PATH_METADATA, controller) ?? '');
    for (const name of Object.getOwnPropertyNames(controller.prototype)) {
      const handler = (controller.prototype as unknown as Record<string, object>)[name];
      const path = Reflect.getMetadata(PATH_METADATA, handler);
      if (path === undefined || name === 'constructor') continue;
      const method = RequestMethod[Reflect.getMetadata(METHOD_METADATA, handler) as number];
      const full = `/${[base, String(path)].filter((p) => p && p !== '/').join('/')}`.replace(/\/+/g, '/').replace(/:(\w+)/g, '{$1}');
      routes.push(`${method} ${full}`);
    }
  }
  return routes.sort();
}

describe('OpenAPI', () => {
  let api: TestApi;
  beforeAll(async () => {
    api = await startTestApi();
  });
  afterAll(async () => {
    await api.close();
  });

  it('documents every route at /docs-json and serves the UI at /docs', async () => {
    const document = (await api.call('GET', '/docs-json', undefined)).body as { paths: Record<string, Record<string, unknown>> };
    const documented = Object.entries(document.paths)
      .flatMap(([path, methods]) => Object.keys(methods).map((method) => `${method.toUpperCase()} ${path}`))
      .sort();
    const declared = declaredRoutes();
    expect(declared.length).toBeGreaterThan(20);
    expect(documented).toEqual(declared);

    const ui = await fetch(`${api.engine.url}/docs`);
    expect(ui.status).toBe(200);
    expect(await ui.text()).toContain('swagger-ui');
  });
});
