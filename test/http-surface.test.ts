import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Client } from 'pg';
import { loadOrCreateTreasuryKey } from '../src/chain/treasury-key';
import { sponsorKeyLoader, sponsorKeypairPath } from '../src/claims/sponsor-key';
import type { AppConfig } from '../src/config/config';
import { startEmbeddedPostgres } from '../src/database/embedded-postgres';
import { postgresUser } from '../src/database/postgres-binaries';
import { startTestApi, type TestApi } from './support/api';
import { expectMoneyInvariants } from './support/money-invariants';

/**
 * The public surface (issue 16, item 4): the key is checked before the body is read, helmet's headers and no-store on
 * every answer, /health says only up or down to a caller without a key, the data folder and the keys in it are this
 * user's alone, and the public routes are rate limited (429 problem+json).
 */
const PUBLIC_LIMIT = 5;
let api: TestApi;
let scratch: string;

beforeAll(async () => {
  api = await startTestApi({ config: { publicRateLimit: PUBLIC_LIMIT } });
  scratch = mkdtempSync(path.join(tmpdir(), 'synq-surface-'));
  // Reachable by the postgres user (as root the embedded server runs as postgres): as /var/lib would be.
  chmodSync(scratch, 0o755);
}, 120_000);

afterAll(async () => {
  await expectMoneyInvariants(api);
  await api.close();
  rmSync(scratch, { recursive: true, force: true });
});

/**
 * Sends the headers and `sent` bytes of a body announced as `length` bytes (chunked when undefined), then waits for an
 * answer without sending the rest: what a server that reads the body first never gives.
 */
function partialPost(
  route: string,
  headers: Record<string, string>,
  sent: number,
  length?: number,
): Promise<{ status: number; headers: IncomingMessage['headers']; body: string; ms: number }> {
  const url = new URL(route, api.engine.url);
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const request = httpRequest(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(length === undefined ? {} : { 'content-length': String(length) }), ...headers },
    });
    const timer = setTimeout(() => {
      request.destroy();
      reject(new Error(`no answer within 3 s while the body (${sent} of ${length ?? 'chunked'} bytes) was still being sent`));
    }, 3_000);
    request.on('error', () => undefined);
    request.on('response', (response) => {
      let body = '';
      response.on('data', (chunk: Buffer) => (body += chunk.toString()));
      response.on('end', () => {
        clearTimeout(timer);
        request.destroy();
        resolve({ status: response.statusCode ?? 0, headers: response.headers, body, ms: Date.now() - started });
      });
    });
    request.write(Buffer.alloc(sent, 0x20));
  });
}

describe('the key before the body', () => {
  it('answers an unauthenticated write 401 before its body is sent, and closes the connection', async () => {
    const answer = await partialPost('/synqers', {}, 64 * 1024, 5_000_000);
    expect(answer.status).toBe(401);
    expect(answer.headers['content-type']).toContain('application/problem+json');
    expect(answer.headers.connection).toBe('close');
    expect(JSON.parse(answer.body)).toMatchObject({ status: 401, detail: expect.stringContaining('API key') });
  });

  it('answers 401 (not 413) to an unauthenticated 10 MB body, and to a chunked one, at once', async () => {
    expect((await partialPost('/metric-reports', {}, 1024, 10 * 1024 * 1024)).status).toBe(401);
    expect((await partialPost('/synqers', {}, 1024)).status).toBe(401);
    expect((await partialPost('/synqers', { authorization: 'Bearer synq_000000000000_not-a-key' }, 1024, 5_000_000)).status).toBe(401);
  });

  it('reads the body of a request with a valid key (and still refuses a role the route does not allow)', async () => {
    expect((await api.call('POST', '/synqers', api.keys.operator, '{"synqerId":')).status).toBe(400);
    expect((await api.call('POST', '/synqers', api.keys.auditor, { synqerId: 'x' })).status).toBe(403);
  });

  it('says 100 Continue only to a caller that may send its body', async () => {
    const expecting = (headers: Record<string, string>) =>
      new Promise<{ continued: boolean; status: number }>((resolve, reject) => {
        let continued = false;
        const request = httpRequest(new URL('/synqers', api.engine.url), {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'content-length': '2', expect: '100-continue', ...headers },
        });
        const timer = setTimeout(() => reject(new Error('no answer within 3 s')), 3_000);
        request.on('error', () => undefined);
        request.on('continue', () => {
          continued = true;
          request.end('{}');
        });
        request.on('response', (response) => {
          response.resume();
          response.on('end', () => {
            clearTimeout(timer);
            request.destroy();
            resolve({ continued, status: response.statusCode ?? 0 });
          });
        });
        request.flushHeaders();
      });
    expect(await expecting({})).toEqual({ continued: false, status: 401 });
    expect(await expecting({ authorization: `Bearer ${api.keys.operator}` })).toEqual({ continued: true, status: 422 });
  });

  it('limits a body sent without a key to a public route (413, or 411 without a length), at once', async () => {
    const sponsored = '/epochs/999/claims/11111111111111111111111111111111/sponsored';
    const large = await partialPost(sponsored, {}, 1024, 2 * 1024 * 1024);
    expect(large.status).toBe(413);
    expect(JSON.parse(large.body)).toMatchObject({ status: 413, problems: [{ field: 'body' }] });
    expect((await partialPost(sponsored, {}, 1024)).status).toBe(411);
  });

  it('asks for a key before the body on every route of /docs-json but the public ones', async () => {
    const publicRoutes = [
      'GET /health',
      'GET /metrics',
      'GET /epochs/{epoch}/claims/{wallet}',
      'POST /epochs/{epoch}/claims/{wallet}/sponsored',
      'POST /chain/rpc',
    ];
    const document = (await api.call('GET', '/docs-json', undefined)).body as { paths: Record<string, Record<string, unknown>> };
    let walked = 0;
    for (const [route, operations] of Object.entries(document.paths)) {
      for (const method of Object.keys(operations)) {
        if (publicRoutes.includes(`${method.toUpperCase()} ${route}`)) continue;
        const answer = await api.call(method.toUpperCase(), route.replace(/\{[^}]+\}/g, '1'), undefined, method === 'get' ? undefined : {});
        // The middleware's 401 (it names the field), not the guard's after the body was parsed.
        expect({ route: `${method} ${route}`, status: answer.status, problems: answer.body?.problems }).toEqual({
          route: `${method} ${route}`,
          status: 401,
          problems: [{ field: 'authorization', reason: expect.any(String) }],
        });
        walked++;
      }
    }
    expect(walked).toBeGreaterThan(40);
  });

  it('asks for a key on a path no route declares, so nothing unknown reads a body unauthenticated', async () => {
    const unknown = await api.call('POST', '/no-such-route', undefined, { any: 'thing' });
    expect(unknown.status).toBe(401);
    expect((await api.call('POST', '/no-such-route', api.keys.operator, { any: 'thing' })).status).toBe(404);
  });
});

describe('security headers', () => {
  it('sends nosniff and no-store, and no X-Powered-By, on answers, refusals and errors', async () => {
    for (const answer of [
      await api.call('GET', '/synqers/nobody', api.keys.auditor),
      await api.call('GET', '/network', api.keys.operator),
      await api.call('GET', '/network', undefined),
    ]) {
      expect(answer.headers.get('x-content-type-options')).toBe('nosniff');
      expect(answer.headers.get('cache-control')).toBe('no-store');
      expect(answer.headers.get('x-powered-by')).toBeNull();
      expect(answer.headers.get('x-frame-options')).toBe('DENY');
    }
  });

  it('keeps Swagger UI working under helmet’s Content-Security-Policy (no upgrade to https on plain HTTP)', async () => {
    const page = await fetch(`${api.engine.url}/docs`);
    expect(page.status).toBe(200);
    const csp = page.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("default-src 'self'");
    expect(csp).not.toContain('upgrade-insecure-requests');
    const html = await page.text();
    // Its scripts are files of this origin, which the policy allows; no inline script.
    expect(html).not.toMatch(/<script>(?!\s*<\/script>)/);
    const scripts = html.match(/src="[^"]+\.js"/g) ?? [];
    expect(scripts.length).toBeGreaterThan(0);
    for (const script of scripts) {
      const file = script.slice(5, -1);
      expect((await fetch(new URL(file, `${api.engine.url}/docs`))).status).toBe(200);
    }
    expect((await fetch(`${api.engine.url}/docs-json`)).status).toBe(200);
  });
});

describe('/health', () => {
  it('says only up or down without a key (or with a wrong one), and the details to any valid key', async () => {
    const anonymous = await api.call('GET', '/health', undefined);
    expect(anonymous.status).toBe(200);
    expect(anonymous.body).toEqual({ status: 'up' });
    expect((await api.call('GET', '/health', 'synq_000000000000_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa')).body).toEqual({ status: 'up' });
    const detailed = await api.call('GET', '/health', api.keys.developer);
    expect(detailed.body).toMatchObject({
      status: 'ok',
      database: { reachable: true, serverVersion: expect.stringMatching(/^\d+/) },
      migrations: { applied: expect.arrayContaining([{ version: 1, name: 'event_store' }]) },
    });
  });
});

describe('rate limits on the public routes', () => {
  it('answers 429 problem+json with Retry-After past the limit on a public route, and never on a route that needs a key', async () => {
    const claim = '/epochs/999/claims/11111111111111111111111111111111';
    for (let i = 0; i < PUBLIC_LIMIT; i++) expect((await api.call('GET', claim, undefined)).status).not.toBe(429);
    const refused = await api.call('GET', claim, undefined);
    expect(refused.status).toBe(429);
    expect(refused.contentType).toContain('application/problem+json');
    expect(refused.body).toMatchObject({ status: 429, title: 'Too many requests', detail: expect.stringContaining(`at most ${PUBLIC_LIMIT} a minute`) });
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    for (let i = 0; i < PUBLIC_LIMIT * 2; i++) expect((await api.call('GET', '/synqers/nobody', api.keys.operator)).status).toBe(404);
    // A public route asked with a valid key (a monitor reading /health in detail) is not limited either.
    for (let i = 0; i < PUBLIC_LIMIT * 2; i++) expect((await api.call('GET', '/health', api.keys.auditor)).status).toBe(200);
  });
});

describe('the data folder and the keys in it', () => {
  const mode = (file: string) => statSync(file).mode & 0o777;

  it('creates the data folder 0700 and the treasury and sponsor keypairs 0600', async () => {
    const config: AppConfig = { databaseUrl: undefined, eventStoreConnectionString: undefined, port: 0, dataDir: path.join(scratch, 'keys', 'data') };
    await loadOrCreateTreasuryKey(config);
    await sponsorKeyLoader(config)();
    expect(mode(config.dataDir)).toBe(0o700);
    expect(mode(path.join(config.dataDir, 'treasury-keypair.json'))).toBe(0o600);
    expect(mode(sponsorKeypairPath(config))).toBe(0o600);
  });

  const asRoot = process.getuid?.() === 0 ? it : it.skip;
  asRoot(
    'as root, gives the postgres user search only (0710, group postgres): the server starts, the keys stay root’s',
    async () => {
      const dataDir = path.join(scratch, 'embedded');
      const database = await startEmbeddedPostgres({ dataDir });
      try {
        const postgres = await postgresUser();
        const folder = statSync(dataDir);
        expect(folder.mode & 0o777).toBe(0o710);
        expect([folder.uid, folder.gid]).toEqual([0, postgres.gid]);
        const cluster = statSync(path.join(dataDir, 'postgres'));
        expect([cluster.mode & 0o777, cluster.uid]).toEqual([0o700, postgres.uid]);
        expect(mode(path.join(dataDir, 'postgres-password'))).toBe(0o600);
        await loadOrCreateTreasuryKey({ databaseUrl: undefined, eventStoreConnectionString: undefined, port: 0, dataDir });
        expect(mode(path.join(dataDir, 'treasury-keypair.json'))).toBe(0o600);
        expect(readFileSync(path.join(dataDir, 'postgres-password'), 'utf8').length).toBeGreaterThan(0);
        const client = new Client({ connectionString: database.url });
        await client.connect();
        await client.query('SELECT 1');
        await client.end();
      } finally {
        await database.stop();
      }
      // Started again on the folder it left: unchanged, and the server still gets in.
      const again = await startEmbeddedPostgres({ dataDir });
      await again.stop();
      expect(mode(dataDir)).toBe(0o710);
    },
    120_000,
  );
});
