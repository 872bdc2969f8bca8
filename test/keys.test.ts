import { Logger } from '@nestjs/common';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import * as http from 'node:http';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { authenticate, createApiKey, LAST_USED_EVERY_MS } from '../src/auth/api-keys';
import { startEngine, type RunningEngine } from '../src/engine';
import { startTestApi, type TestApi } from './support/api';
import { expectMoneyInvariants } from './support/money-invariants';

/**
 * API keys with a life cycle (issue 16): created, listed (never a secret), revoked, by the operator's API and by
 * `synq keys`; a revoked key is refused by the very next request, in this engine and in another one on the same
 * database; every creation and revocation is an event on `apikey-<id>`.
 */

const script = path.join(__dirname, '..', 'dist', 'scripts', 'keys.js');
const SECRET = /synq_[a-z0-9]{12}_([A-Za-z0-9_-]{43})/;

async function eventsOf(engine: RunningEngine, keyId: string) {
  const events = [];
  for await (const event of engine.eventStore.readStream(`apikey-${keyId}`)) events.push(event);
  return events;
}

describe('API keys', () => {
  let api: TestApi;
  let second: RunningEngine;
  let secondDataDir: string;

  beforeAll(async () => {
    api = await startTestApi();
    secondDataDir = mkdtempSync(path.join(tmpdir(), 'synq-keys-'));
    // Another engine process on the same database, as a second instance behind a load balancer would be.
    second = await startEngine(
      { databaseUrl: api.databaseUrl, eventStoreConnectionString: undefined, port: 0, dataDir: secondDataDir },
      new Logger('keys-test'),
      {
        frameworkLogs: false,
      },
    );
  }, 120_000);

  afterAll(async () => {
    await expectMoneyInvariants(api);
    await second?.stop();
    await api?.close();
    rmSync(secondDataDir, { recursive: true, force: true });
  });

  /**
   * A GET's status on its own connection: a refused request's connection is closed by the engine (src/http/
   * authenticate-first.ts), and a pooled client could otherwise send the next request on it as it closes.
   */
  const statusOn = (base: string, path: string, key: string) =>
    new Promise<number>((resolve, reject) => {
      http
        .get(`${base}${path}`, { agent: false, headers: { authorization: `Bearer ${key}` } }, (response) => {
          response.resume();
          response.on('end', () => resolve(response.statusCode!));
        })
        .on('error', reject);
    });
  const onSecond = (path: string, key: string) => statusOn(second.url, path, key);
  const onFirst = (path: string, key: string) => statusOn(api.engine.url, path, key);

  it('an operator creates a key over the API; it works at once, and only an operator may manage keys', async () => {
    const created = await api.call('POST', '/keys', api.keys.operator, { role: 'auditor' });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ keyId: expect.stringMatching(/^[a-z0-9]{12}$/), role: 'auditor', developerId: null, revokedAt: null });
    expect(created.body.key).toMatch(SECRET);
    expect((await api.call('GET', '/audit/epochs/1', created.body.key)).status).not.toBe(401);
    for (const role of ['auditor', 'ingest', 'developer'] as const) {
      expect((await api.call('GET', '/keys', api.keys[role])).status).toBe(403);
      expect((await api.call('POST', '/keys', api.keys[role], { role: 'operator' })).status).toBe(403);
      expect((await api.call('POST', `/keys/${created.body.keyId}/revoke`, api.keys[role], {})).status).toBe(403);
    }
    const bad = await api.call('POST', '/keys', api.keys.operator, { role: 'root' });
    expect(bad.status).toBe(422);
    expect(bad.body.problems).toEqual([expect.objectContaining({ field: 'role' })]);
    const developerWithout = await api.call('POST', '/keys', api.keys.operator, { role: 'developer' });
    expect(developerWithout.status).toBe(422);
    expect(developerWithout.body.problems).toEqual([expect.objectContaining({ field: 'developerId' })]);
  });

  it('lists every key with its role, developer, creation and last use, never a secret', async () => {
    const { key, keyId } = await createApiKey(api.engine, 'developer', 'dev7');
    expect((await api.call('GET', '/developers/dev7', key)).status).not.toBe(401);
    const listed = await api.call('GET', '/keys', api.keys.operator);
    expect(listed.status).toBe(200);
    const mine = listed.body.keys.find((k: { keyId: string }) => k.keyId === keyId);
    expect(mine).toEqual({ keyId, role: 'developer', developerId: 'dev7', createdAt: expect.any(String), lastUsedAt: expect.any(String), revokedAt: null });
    expect(Object.keys(mine).sort()).toEqual(['createdAt', 'developerId', 'keyId', 'lastUsedAt', 'revokedAt', 'role']);
    const text = JSON.stringify(listed.body);
    for (const known of [key, ...Object.values(api.keys)]) expect(text).not.toContain(SECRET.exec(known)![1]);
    expect(text).not.toMatch(/secret|sha256/i);
    expect(listed.body.keys.length).toBeGreaterThanOrEqual(6);
  });

  it('last used is written at most once a minute per key, not on every request', async () => {
    const { key, keyId } = await createApiKey(api.engine, 'auditor');
    const lastUsed = async () =>
      (await api.engine.database.pool.query<{ last_used_at: Date | null }>('SELECT last_used_at FROM api_keys WHERE key_id = $1', [keyId])).rows[0]
        .last_used_at;
    expect(await lastUsed()).toBeNull();
    expect(await authenticate(api.engine.database.pool, key)).toBeDefined();
    let first: Date | null = null;
    for (let i = 0; i < 50 && first === null; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      first = await lastUsed();
    }
    expect(first).not.toBeNull();
    for (let i = 0; i < 20; i++) await authenticate(api.engine.database.pool, key);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect((await lastUsed())!.getTime()).toBe(first!.getTime());
    expect(LAST_USED_EVERY_MS).toBe(60_000);
  });

  it('a revoked key is refused by the very next request, in this engine and in another on the same database', async () => {
    const { key, keyId } = await createApiKey(api.engine, 'auditor');
    // Both engines have just proven the key (a cache would now hold it).
    expect(await onFirst('/epochs', key)).toBe(200);
    expect(await onSecond('/epochs', key)).toBe(200);
    const revoked = await api.call('POST', `/keys/${keyId}/revoke`, api.keys.operator, { reason: 'leaked in a log' });
    expect(revoked.status).toBe(200);
    expect(revoked.body).toMatchObject({ keyId, role: 'auditor', revokedAt: expect.any(String) });
    expect(await onSecond('/epochs', key)).toBe(401);
    expect(await onFirst('/epochs', key)).toBe(401);
    // Revoking again changes nothing; an unknown key is 404.
    const again = await api.call('POST', `/keys/${keyId}/revoke`, api.keys.operator, {});
    expect(again.status).toBe(200);
    expect(again.body.revokedAt).toBe(revoked.body.revokedAt);
    expect((await api.call('POST', '/keys/zzzzzzzzzzzz/revoke', api.keys.operator, {})).status).toBe(404);
    expect((await api.call('POST', '/keys/not-a-key/revoke', api.keys.operator, {})).status).toBe(404);
  });

  it('revoked through the table by another process (as a second engine would), refused here at once', async () => {
    const { key, keyId } = await createApiKey(api.engine, 'ingest');
    expect(await onSecond('/synqers/nobody', key)).toBe(404);
    await second.database.pool.query('UPDATE api_keys SET revoked_at = now() WHERE key_id = $1', [keyId]);
    expect(await onSecond('/synqers/nobody', key)).toBe(401);
    expect(await onFirst('/synqers/nobody', key)).toBe(401);
  });

  it('records each creation and revocation as an event, with its actor and never the secret', async () => {
    const created = await api.call('POST', '/keys', api.keys.operator, { role: 'ingest' });
    const { keyId, key } = created.body;
    await api.call('POST', `/keys/${keyId}/revoke`, api.keys.operator, { reason: 'rotated' });
    const events = await eventsOf(api.engine, keyId);
    const operatorKeyId = /^synq_([a-z0-9]{12})_/.exec(api.keys.operator)![1];
    expect(events.map((event) => ({ type: event.type, data: event.data, actor: event.metadata.actor }))).toEqual([
      { type: 'ApiKeyCreated', data: { keyId, role: 'ingest', developerId: null, createdAt: expect.any(String) }, actor: `api-key:${operatorKeyId}` },
      { type: 'ApiKeyRevoked', data: { keyId, reason: 'rotated', revokedAt: expect.any(String) }, actor: `api-key:${operatorKeyId}` },
    ]);
    expect(JSON.stringify(events.map((event) => [event.data, event.metadata]))).not.toContain(SECRET.exec(key)![1]);
    // The keys the test harness made are recorded too.
    const harness = /^synq_([a-z0-9]{12})_/.exec(api.keys.auditor)![1];
    expect((await eventsOf(api.engine, harness)).map((event) => event.type)).toEqual(['ApiKeyCreated']);
  });

  it('costs one primary-key lookup per request (measured: no cache to go stale)', async () => {
    const pool = api.engine.database.pool;
    const runs = 300;
    const started = process.hrtime.bigint();
    for (let i = 0; i < runs; i++) await authenticate(pool, api.keys.auditor);
    const perRequest = Number(process.hrtime.bigint() - started) / runs / 1e6;
    process.stdout.write(`API key lookup: ${perRequest.toFixed(3)} ms per request (${runs} sequential lookups)\n`);
    // A report, not a benchmark: 1.3 ms at load 10, 20 ms with ten suites at once on 2 cores. Only a gross regression fails.
    expect(perRequest).toBeLessThan(250);
  });

  describe('keys proven from memory, for the routes of published data only (issue 17: proofs)', () => {
    const proofPath = '/epochs/1/distribution/11111111111111111111111111111111';
    const waitFor = async (condition: () => Promise<boolean>, what: string) => {
      const deadline = Date.now() + 5_000;
      while (!(await condition())) {
        if (Date.now() > deadline) throw new Error(`not within 5 s: ${what}`);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    };

    it('a proof route proves a key from memory once it has been looked up, and nothing else does', async () => {
      const { key } = await createApiKey(api.engine, 'ingest');
      const pool = second.database.pool;
      const lookups = jest.spyOn(pool, 'query');
      try {
        expect(await onSecond(proofPath, key)).toBe(404); // no epoch 1 here: the key was proven, then the route answered
        const afterFirst = lookups.mock.calls.filter(([sql]) => String(sql).includes('FROM api_keys')).length;
        expect(afterFirst).toBe(1);
        for (let i = 0; i < 5; i++) expect(await onSecond(proofPath, key)).toBe(404);
        expect(lookups.mock.calls.filter(([sql]) => String(sql).includes('FROM api_keys')).length).toBe(afterFirst);
        // Any other route asks the table every time.
        for (let i = 0; i < 3; i++) expect(await onSecond('/synqers/nobody', key)).toBe(404);
        expect(lookups.mock.calls.filter(([sql]) => String(sql).includes('FROM api_keys')).length).toBe(afterFirst + 3);
      } finally {
        lookups.mockRestore();
      }
    });

    it('a revocation by hand in the table reaches every engine by its notification; other routes refuse at once', async () => {
      const { key, keyId } = await createApiKey(api.engine, 'ingest');
      expect(await onSecond(proofPath, key)).toBe(404);
      expect(await onFirst(proofPath, key)).toBe(404);
      await api.engine.database.pool.query('UPDATE api_keys SET revoked_at = now() WHERE key_id = $1', [keyId]);
      expect(await onSecond('/synqers/nobody', key)).toBe(401);
      await waitFor(async () => (await onSecond(proofPath, key)) === 401, 'the second engine refuses the revoked key on a proof route');
      await waitFor(async () => (await onFirst(proofPath, key)) === 401, 'the first engine refuses the revoked key on a proof route');
    });

    it('a wrong secret for a key proven from memory is refused', async () => {
      const { key } = await createApiKey(api.engine, 'auditor');
      expect(await onSecond(proofPath, key)).toBe(404);
      const forged = key.slice(0, -1) + (key.endsWith('A') ? 'B' : 'A');
      expect(await onSecond(proofPath, forged)).toBe(401);
    });

    it('when the listening connection is lost, nothing is proven from memory until it listens again', async () => {
      const { key, keyId } = await createApiKey(api.engine, 'auditor');
      expect(await onSecond(proofPath, key)).toBe(404);
      // Cut every LISTEN connection to the database (each engine's; they reconnect within a second or so).
      await api.engine.database.pool.query(
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND query ILIKE 'LISTEN synq_api_keys%'`,
      );
      // A revocation while nobody listens must still be refused: the cache was dropped with the connection.
      await new Promise((resolve) => setTimeout(resolve, 100));
      await api.engine.database.pool.query('UPDATE api_keys SET revoked_at = now() WHERE key_id = $1', [keyId]);
      expect(await onSecond(proofPath, key)).toBe(401);
      // And it listens again: a new key is proven from memory once more (its revocation then arrives by notification).
      const fresh = await createApiKey(api.engine, 'auditor');
      await waitFor(async () => {
        const { rows } = await api.engine.database.pool.query(
          `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND query ILIKE 'LISTEN synq_api_keys%'`,
        );
        return rows[0].n >= 2;
      }, 'both engines listen again');
      expect(await onSecond(proofPath, fresh.key)).toBe(404);
      await api.engine.database.pool.query('UPDATE api_keys SET revoked_at = now() WHERE key_id = $1', [fresh.keyId]);
      await waitFor(async () => (await onSecond(proofPath, fresh.key)) === 401, 'the revocation after reconnecting arrives');
    });
  });

  describe('synq keys', () => {
    const run = (...args: string[]) => spawnSync(process.execPath, [script, ...args], { env: { ...process.env, DATABASE_URL: api.databaseUrl } });

    it('list shows every key without a secret; --json gives the same as GET /keys', async () => {
      const text = execFileSync(process.execPath, [script, 'list'], { env: { ...process.env, DATABASE_URL: api.databaseUrl } }).toString();
      expect(text.split('\n')[0]).toMatch(/^KEY ID\s+ROLE\s+DEVELOPER\s+CREATED\s+LAST USED\s+REVOKED$/);
      for (const key of Object.values(api.keys)) {
        expect(text).toContain(/^synq_([a-z0-9]{12})_/.exec(key)![1]);
        expect(text).not.toContain(SECRET.exec(key)![1]);
      }
      const json = JSON.parse(run('list', '--json').stdout.toString());
      expect(json).toEqual((await api.call('GET', '/keys', api.keys.operator)).body.keys);
    });

    it('revoke refuses the key at once in the running engines, and records it', async () => {
      const { key, keyId } = await createApiKey(api.engine, 'auditor');
      expect(await onSecond('/epochs', key)).toBe(200);
      const result = run('revoke', keyId, '--reason', 'left the company');
      expect(result.stderr.toString()).toBe('');
      expect(result.status).toBe(0);
      expect(result.stdout.toString()).toMatch(new RegExp(`^revoked auditor key ${keyId} at `));
      expect(await onSecond('/epochs', key)).toBe(401);
      expect(await onFirst('/epochs', key)).toBe(401);
      const events = await eventsOf(api.engine, keyId);
      expect(events.map((event) => event.type)).toEqual(['ApiKeyCreated', 'ApiKeyRevoked']);
      expect(events[1].data).toMatchObject({ reason: 'left the company' });
      expect(events[1].metadata.actor).toMatch(/^cli:/);
    });

    it('usage mistakes exit 2 with one line', () => {
      const cases: [string[], RegExp][] = [
        [[], /^keys: say what to do: create, list or revoke/],
        [['rotate'], /^keys: unknown subcommand "rotate"/],
        [['revoke'], /^keys: revoke needs the key id/],
        [['revoke', 'NOT A KEY'], /^keys: "NOT A KEY" is not a key id/],
        [['revoke', 'zzzzzzzzzzzz'], /^keys: .*no API key has the id zzzzzzzzzzzz/],
        [['list', 'extra'], /^keys: /],
        [['list', '--role', 'auditor'], /^keys: /],
        [['create', '--role', 'auditor', '--reason', 'x'], /^keys: /],
      ];
      for (const [args, message] of cases) {
        const result = run(...args);
        expect({ args, status: result.status }).toEqual({ args, status: 2 });
        expect(result.stderr.toString()).toMatch(message);
        expect(result.stderr.toString().trim().split('\n')).toHaveLength(1);
      }
    });
  });
});
