import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Client } from 'pg';
import { canonicalReportBytes, type MetricReport } from '../domain/metric-report';
import { base58Encode } from '../domain/values';
import { Audit } from '../src/audit/audit';
import { generateReportingKeypair, publicKeyOf, signEd25519 } from '../src/commands/ed25519';
import { ProjectionReader } from '../src/projections/projection-reader';
import { startTestApi, type TestApi } from './support/api';
import { serverUrl } from './support/database';
import { expectMoneyInvariants } from './support/money-invariants';
import { awaitJob } from './support/jobs';

/**
 * The auditor's replay against a real engine: a small network built over the REST API and one closed epoch, then the
 * audit of the untouched history, of a tampered projection, of a tampered event, and the command line (also with a
 * role that can only read).
 */

const wallet = (seed: number) => base58Encode(Uint8Array.from({ length: 32 }, (_, i) => (seed * 29 + i * 11 + 5) % 256));
const script = path.join(__dirname, '..', 'dist', 'scripts', 'audit.js');

interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The compiled CLI, asynchronously (the engine in this process keeps serving while it runs). */
function runCli(args: string[], databaseUrl: string): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, ...args], { env: { ...process.env, DATABASE_URL: databaseUrl, EVENTSTORE_CONNECTION_STRING: '' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('audit replay', () => {
  let api: TestApi;
  let audit: Audit;
  let databaseUrl: string;
  let dir: string;
  let settled: { digest: string; paid: string; distribution: { root: string; leafCount: number; total: string } };
  let schema: string;
  const role = `synq_audit_ro_${randomBytes(4).toString('hex')}`;
  const keypairs = new Map<string, Uint8Array>();
  const op = () => api.keys.operator;
  const sql = (text: string, params: unknown[] = []) => api.engine.database.pool.query(text, params);

  function report(synqerId: string, slot: number, figures: { bytes: string; sessions: number; qosBps: number }): MetricReport {
    const start = new Date(Date.UTC(2026, 10, 1, 0, slot * 5));
    const content = {
      reportId: `${synqerId}-r${slot}`,
      synqerId,
      epoch: 1,
      periodStart: start.toISOString().replace('.000Z', 'Z'),
      periodEnd: new Date(start.getTime() + 300_000).toISOString().replace('.000Z', 'Z'),
      uptimeSeconds: 300,
      ...figures,
    };
    return { ...content, signature: signEd25519(canonicalReportBytes(content), keypairs.get(synqerId)!) };
  }

  beforeAll(async () => {
    api = await startTestApi();
    databaseUrl = api.engine.database.connection.connectionString!;
    dir = mkdtempSync(path.join(tmpdir(), 'synq-audit-'));
    // Page size 3: the 8 rewards rows are compared over several keyset pages.
    audit = new Audit(api.engine.eventStore, new ProjectionReader(api.engine.database.pool), { pageRows: 3 });

    // s1..s8; s7 and s8 share a payout wallet (one leaf for both).
    for (let i = 1; i <= 8; i++) {
      const keypair = generateReportingKeypair();
      keypairs.set(`s${i}`, keypair);
      const registered = await api.call('POST', '/synqers', op(), {
        synqerId: `s${i}`,
        payoutWallet: wallet(i === 8 ? 7 : i),
        reportingKey: publicKeyOf(keypair),
        region: 'eu-west',
      });
      expect(registered.status).toBe(201);
    }
    const stake = async (id: string, route: string, body: object) =>
      expect((await api.call('POST', `/synqers/${id}/stake/${route}`, op(), body)).status).toBe(201);
    await stake('s1', 'deposits', { depositId: 'd1', amount: '5000000000' });
    await stake('s2', 'deposits', { depositId: 'd1', amount: '20000000000' });
    await stake('s3', 'deposits', { depositId: 'd1', amount: '10000000000' });
    await stake('s3', 'unstake-requests', { requestId: 'u1', amount: '4000000000' });
    await stake('s4', 'deposits', { depositId: 'd1', amount: '3000000000' });
    await stake('s4', 'slashes', { slashId: 'x1', amount: '1000000000', reason: 'double signing' });

    expect((await api.call('POST', '/treasury/fundings', op(), { amount: '5000000000', reference: 'audit-seed' })).status).toBe(201);
    const opened = await api.call('POST', '/epochs', op(), { epoch: 1, start: '2026-11-01T00:00:00Z', end: '2026-11-01T01:00:00Z', rewardPool: '1000000000' });
    expect(opened.status).toBe(201);

    // 8 periods of 5 minutes (6666 bps of the hour) each, but s4 reports 3 (uptime too low) and s5's QoS is too low.
    const reports: MetricReport[] = [];
    for (let i = 1; i <= 8; i++) {
      for (let slot = 0; slot < (i === 4 ? 3 : 8); slot++) {
        reports.push(report(`s${i}`, slot, { bytes: String(1_000_000 * i + 7_919 * slot), sessions: 3 * i + slot, qosBps: i === 5 ? 5_000 : 9_000 + 50 * i }));
      }
    }
    const submitted = await api.call('POST', '/metric-reports', api.keys.ingest, { reports });
    expect(submitted.body).toMatchObject({ accepted: reports.length, refused: 0 });
    expect((await api.call('POST', '/synqers/s6/suspend', op(), { reason: 'investigation' })).status).toBe(201);

    const closed = await awaitJob(api, api.call('POST', '/epochs/1/close', op()));
    expect(closed.status).toBe(200);
    settled = closed.body.settlement;
    const { rows } = await sql(`SELECT generation FROM projection_state WHERE name = 'settlement'`);
    schema = `projection_settlement_g${rows[0].generation}`;
  });

  afterAll(async () => {
    // The tests tamper with the read model and put it back: the books, the read model and the chain agree again.
    if (api) await expectMoneyInvariants(api);
    await api?.close();
    rmSync(dir, { recursive: true, force: true });
    const admin = new Client({ connectionString: serverUrl() });
    await admin.connect();
    await admin.query(`DROP ROLE IF EXISTS ${role}`);
    await admin.end();
  });

  it('built the network it means to audit: ineligible synqers, a shared wallet, the pool paid out', async () => {
    const rewards = (await api.call('GET', '/epochs/1/rewards', api.keys.auditor)).body.results as {
      synqerId: string;
      reasons: string[];
      reward: string;
      activeStake: string;
    }[];
    const byId = new Map(rewards.map((r) => [r.synqerId, r]));
    expect(byId.size).toBe(8);
    expect(byId.get('s4')!.reasons).toEqual(['uptime_below_minimum']);
    expect(byId.get('s5')!.reasons).toEqual(['qos_below_minimum']);
    expect(byId.get('s6')!.reasons).toEqual(['suspended']);
    expect(byId.get('s3')!.activeStake).toBe('6000000000');
    expect(['s1', 's2', 's3', 's7', 's8'].every((id) => BigInt(byId.get(id)!.reward) > 0n)).toBe(true);
    expect(settled.paid).toBe('1000000000');
    expect(settled.distribution.leafCount).toBe(4);
  });

  it('finds an untouched history matching, through the class and through GET /audit/epochs/{n}', async () => {
    const expected = {
      epoch: 1,
      status: 'match',
      digest: settled.digest,
      root: settled.distribution.root,
      paid: '1000000000',
      synqers: 8,
      leafCount: 4,
      mismatches: [],
      notes: [],
    };
    const report = await audit.run({ epoch: 1 });
    expect(report).toMatchObject({ ok: true, epochs: [expected] });
    // One epoch: the replay stops at its close.
    let closedAt = 0n;
    for await (const event of api.engine.eventStore.readStream('network-ledger')) if (event.type === 'EpochClosed') closedAt = event.position;
    expect(report.lastPosition).toBe(closedAt.toString());
    expect(report.eventsRead).toBeGreaterThan(8 + 61);

    const everything = await audit.run();
    expect(everything).toMatchObject({ ok: true, epochs: [expected], lastPosition: (await api.engine.eventStore.lastPosition()).toString() });
    expect(everything.eventsRead).toBeGreaterThan(report.eventsRead);

    const rest = await api.call('GET', '/audit/epochs/1', api.keys.auditor);
    expect(rest.status).toBe(200);
    expect(rest.body).toEqual(expected);
    expect((await api.call('GET', '/audit/epochs/1', op())).body.status).toBe('match');
    expect((await api.call('GET', '/audit/epochs/1', api.keys.ingest)).status).toBe(403);
    const never = await api.call('GET', '/audit/epochs/2', api.keys.auditor);
    expect(never.status).toBe(404);
    expect(never.body.problems).toEqual([{ field: 'epoch', reason: 'epoch 2 was never closed' }]);
  });

  it('detects a tampered projection row: the first differing synqer, its field and both values', async () => {
    const before = await sql(`SELECT synqer_id, reward::text FROM ${schema}.rewards WHERE epoch = 1 AND synqer_id IN ('s2', 's7') ORDER BY synqer_id`);
    await sql(`UPDATE ${schema}.rewards SET reward = reward + 1 WHERE epoch = 1 AND synqer_id IN ('s2', 's7')`);
    try {
      const result = (await audit.run({ epoch: 1 })).epochs[0];
      expect(result.status).toBe('mismatch');
      expect(result.mismatches).toEqual([
        {
          source: 'projection',
          table: 'rewards',
          synqerId: 's2',
          field: 'reward',
          expected: before.rows[0].reward,
          found: String(BigInt(before.rows[0].reward) + 1n),
          rows: 2,
        },
      ]);
      expect((await api.call('GET', '/audit/epochs/1', api.keys.auditor)).body.mismatches[0]).toMatchObject({
        source: 'projection',
        synqerId: 's2',
        field: 'reward',
      });
    } finally {
      await sql(`UPDATE ${schema}.rewards SET reward = reward - 1 WHERE epoch = 1 AND synqer_id IN ('s2', 's7')`);
    }
    expect((await audit.run({ epoch: 1 })).ok).toBe(true);
  });

  it('detects missing and extra projection rows, a tampered leaf and a tampered root chunk', async () => {
    const leaf = await sql(
      `SELECT wallet, leaf_index, encode(leaf_hash, 'hex') AS leaf_hash FROM ${schema}.distribution_leaves WHERE epoch = 1 ORDER BY leaf_index LIMIT 1`,
    );
    const top = await sql(`SELECT max(level) AS level FROM ${schema}.distribution_nodes WHERE epoch = 1`);
    // A row moved to another epoch is missing from this one; one moved in from another is extra.
    await sql(`UPDATE ${schema}.rewards SET epoch = 99 WHERE epoch = 1 AND synqer_id = 's8'`);
    await sql(`UPDATE ${schema}.rewards SET synqer_id = 'zz' WHERE epoch = 1 AND synqer_id = 's5'`);
    await sql(`UPDATE ${schema}.distribution_leaves SET leaf_hash = '\\x00'::bytea || leaf_hash WHERE epoch = 1 AND wallet = $1`, [leaf.rows[0].wallet]);
    await sql(`UPDATE ${schema}.distribution_nodes SET hashes = '\\x00'::bytea || hashes WHERE epoch = 1 AND level = $1`, [top.rows[0].level]);
    try {
      const { mismatches } = (await audit.run({ epoch: 1 })).epochs[0];
      expect(mismatches).toEqual([
        { source: 'projection', table: 'rewards', synqerId: 's5', field: 'row', expected: 'present', found: null, rows: 2 },
        { source: 'projection', table: 'rewards', synqerId: 'zz', field: 'row', expected: null, found: 'present', rows: 1 },
        {
          source: 'projection',
          table: 'distribution_leaves',
          wallet: leaf.rows[0].wallet,
          field: 'leaf_hash',
          expected: leaf.rows[0].leaf_hash,
          found: `00${leaf.rows[0].leaf_hash}`,
          rows: 1,
        },
        { source: 'projection', table: 'distribution_nodes', field: 'root', expected: settled.distribution.root, found: `00${settled.distribution.root}` },
      ]);
    } finally {
      await sql(`UPDATE ${schema}.rewards SET epoch = 1 WHERE epoch = 99 AND synqer_id = 's8'`);
      await sql(`UPDATE ${schema}.rewards SET synqer_id = 's5' WHERE epoch = 1 AND synqer_id = 'zz'`);
      await sql(`UPDATE ${schema}.distribution_leaves SET leaf_hash = substring(leaf_hash from 2) WHERE epoch = 1 AND wallet = $1`, [leaf.rows[0].wallet]);
      await sql(`UPDATE ${schema}.distribution_nodes SET hashes = substring(hashes from 2) WHERE epoch = 1 AND level = $1`, [top.rows[0].level]);
    }
    expect((await audit.run({ epoch: 1 })).ok).toBe(true);
  });

  /** Rewrites the recorded rewards event's digest, with the immutability triggers off for that one statement. */
  async function tamperRewardsEvent(digest: string) {
    const client = await api.engine.database.pool.connect();
    try {
      await client.query('BEGIN');
      await client.query('ALTER TABLE events DISABLE TRIGGER USER');
      const { rowCount } = await client.query(
        `UPDATE events SET data = jsonb_set(data::jsonb, '{digest}', to_jsonb($1::text))::json WHERE stream_name = 'epoch-1' AND event_type = 'EpochRewardsCalculated'`,
        [digest],
      );
      expect(rowCount).toBe(1);
      await client.query('ALTER TABLE events ENABLE TRIGGER USER');
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK');
      throw error;
    } finally {
      client.release();
    }
  }

  it('detects a tampered rewards event, through the class, the route and the command line (exit 1)', async () => {
    const forged = 'f'.repeat(64);
    await tamperRewardsEvent(forged);
    try {
      const result = (await audit.run({ epoch: 1 })).epochs[0];
      expect(result.status).toBe('mismatch');
      expect(result.mismatches).toEqual([{ source: 'events', event: 'EpochRewardsCalculated', field: 'digest', expected: settled.digest, found: forged }]);
      expect((await api.call('GET', '/audit/epochs/1', api.keys.auditor)).body).toMatchObject({
        status: 'mismatch',
        mismatches: [{ source: 'events', field: 'digest' }],
      });

      const cli = await runCli(['--epoch', '1'], databaseUrl);
      expect(cli.code).toBe(1);
      expect(cli.stdout).toBe(`epoch 1: MISMATCH events EpochRewardsCalculated field=digest expected=${settled.digest} found=${forged}\n`);
    } finally {
      await tamperRewardsEvent(settled.digest);
    }
    // The triggers are back: the events refuse changes again.
    await expect(sql(`UPDATE events SET event_type = event_type WHERE stream_name = 'epoch-1'`)).rejects.toThrow(/events are immutable/);
    expect((await audit.run({ epoch: 1 })).ok).toBe(true);
  });

  it('command line: one line per epoch, the JSON report, exit 0; bad arguments and failures exit 2 with one line', async () => {
    const out = path.join(dir, 'report.json');
    const run = await runCli(['--epoch', '1', '--out', out], databaseUrl);
    expect(run.stderr).toMatch(/audit: \d[\d,]* events replayed up to position \d+/);
    expect(run.stdout).toBe(
      `epoch 1: match (digest ${settled.digest.slice(0, 12)}…, root ${settled.distribution.root.slice(0, 12)}…, 8 synqers, paid 1000000000)\n`,
    );
    expect(run.code).toBe(0);
    const written = JSON.parse(readFileSync(out, 'utf8'));
    expect(written).toMatchObject({
      ok: true,
      eventsRead: expect.any(Number),
      lastPosition: expect.stringMatching(/^\d+$/),
      epochs: [{ epoch: 1, status: 'match', digest: settled.digest }],
    });
    expect(Number.isNaN(Date.parse(written.generatedAt))).toBe(false);

    const bad = await runCli(['--epoch', 'one'], databaseUrl);
    expect([bad.code, bad.stdout, bad.stderr]).toEqual([
      2,
      '',
      'audit: --epoch must be a whole number from 1 to 1000000000, got "one"; see synq audit --help\n',
    ]);
    const unknown = await runCli(['--epochs', '1'], databaseUrl);
    expect([unknown.code, unknown.stderr]).toEqual([2, 'audit: unknown option --epochs; see synq audit --help\n']);
    const never = await runCli(['--epoch', '2'], databaseUrl);
    expect([never.code, never.stdout, never.stderr.split('\n').filter(Boolean).pop()]).toEqual([2, '', 'epoch 2 was never closed']);
    const missing = new URL(databaseUrl);
    missing.pathname = '/synq_no_such_database';
    const failed = await runCli([], missing.toString());
    expect(failed.code).toBe(2);
    expect(failed.stderr).toMatch(/^audit failed: database "synq_no_such_database" does not exist\n$/);
  });

  it('runs with a role that may only read the events, projection_state and the settlement schema', async () => {
    const password = randomBytes(12).toString('hex');
    await sql(`CREATE ROLE ${role} LOGIN PASSWORD '${password}'`);
    await sql(`GRANT SELECT ON events, projection_state TO ${role}`);
    // events_watermark() reads the position sequence (readAll reads up to it).
    await sql(`GRANT SELECT ON SEQUENCE events_global_position_seq TO ${role}`);
    await sql(`GRANT USAGE ON SCHEMA ${schema} TO ${role}`);
    await sql(`GRANT SELECT ON ALL TABLES IN SCHEMA ${schema} TO ${role}`);
    const url = new URL(databaseUrl);
    url.username = role;
    url.password = password;

    const reader = new Client({ connectionString: url.toString() });
    await reader.connect();
    try {
      await expect(reader.query(`INSERT INTO api_keys DEFAULT VALUES`)).rejects.toThrow(/permission denied/);
      await expect(reader.query(`UPDATE ${schema}.rewards SET reward = 0`)).rejects.toThrow(/permission denied/);
    } finally {
      await reader.end();
    }
    const before = await api.engine.eventStore.lastPosition();
    const run = await runCli([], url.toString());
    expect(run.stdout).toBe(
      `epoch 1: match (digest ${settled.digest.slice(0, 12)}…, root ${settled.distribution.root.slice(0, 12)}…, 8 synqers, paid 1000000000)\n`,
    );
    expect(run.code).toBe(0);
    expect(await api.engine.eventStore.lastPosition()).toBe(before);
  });
});
