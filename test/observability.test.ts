import { Keypair, PublicKey } from '@solana/web3.js';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { register } from 'prom-client';
import { canonicalReportBytes } from '../domain/metric-report';
import { base58Encode } from '../domain/values';
import { generateReportingKeypair, publicKeyOf, signEd25519 } from '../src/commands/ed25519';
import { loadTreasuryKey } from '../src/chain/treasury-key';
import { associatedTokenAddress, createAssociatedAccountIdempotent, execute, transferChecked } from '../src/chain/token';
import { refusalReason } from '../src/observability/engine-metrics';
import { scrubText, scrubValue } from '../src/observability/json-logger';
import { ProjectionRunner } from '../src/projections/projection-runner';
import { startTestApi, type TestApi } from './support/api';
import { EPOCH_START, instant, registerSynqers, runAndCloseEpoch, type TestSynqer } from './support/network';
import { awaitJob } from './support/jobs';

/** One sample's value from the Prometheus text format: the sum over every series whose labels include `labels`. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  let total: number | undefined;
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const found = Object.fromEntries([...(match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.entries(labels).every(([label, value]) => found[label] === value)) total = (total ?? 0) + Number(match[3]);
  }
  return total;
}

describe('observability: /metrics and JSON logs', () => {
  let api: TestApi;
  const logs: string[] = [];
  let synqers: TestSynqer[];
  let setup: { mint: string; treasuryAccount: string };

  const scrape = async () => {
    const response = await fetch(`${api.engine.url}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain;.*version=0\.0\.4/);
    return response.text();
  };
  const logLines = () =>
    logs
      .join('')
      .split('\n')
      .filter((line) => line.length > 0);
  const parsedLogs = () => logLines().map((line) => JSON.parse(line) as Record<string, unknown>);
  const requestLogs = () => parsedLogs().filter((line) => line.context === 'http' && typeof line.status === 'number');

  beforeAll(async () => {
    api = await startTestApi({ logs: { write: (line: string) => void logs.push(line) } });
  });
  afterAll(async () => {
    await api?.close();
  });

  it('serves /metrics without an API key, in the Prometheus text format, in a registry of its own', async () => {
    const text = await scrape();
    for (const name of [
      'synq_metric_reports_accepted_total',
      'synq_metric_reports_refused_total',
      'synq_metric_reports_ingest_rate',
      'synq_event_store_append_duration_seconds',
      'synq_projection_position',
      'synq_projection_lag_events',
      'synq_projection_lag_seconds',
      'synq_epoch_close_duration_seconds',
      'synq_settlement_transactions_total',
      'synq_verification_discrepancies_total',
      'synq_verification_last_run_discrepancies',
      'synq_http_requests_total',
      // Node's default metrics, prefixed.
      'synq_process_cpu_user_seconds_total',
      'synq_nodejs_heap_size_used_bytes',
    ]) {
      expect(text).toContain(`# HELP ${name} `);
    }
    expect(sample(text, 'synq_projection_position', { projection: 'settlement' })).toEqual(expect.any(Number));
    expect(sample(text, 'synq_projection_status', { projection: 'developers', status: 'running' })).toBe(1);
    // Nothing leaks into prom-client's global registry (tests run several engines in one process).
    expect(await register.metrics()).not.toContain('synq_');
  });

  it('counts reports accepted and refused by reason, appends, the epoch close, settlement transactions and verification', async () => {
    expect((await api.call('POST', '/chain/init', api.keys.operator, {})).status).toBe(201);
    setup = (await api.call('GET', '/chain', api.keys.auditor)).body;
    expect((await api.call('POST', '/treasury/fundings', api.keys.operator, { amount: '100000000000', reference: 'seed' })).status).toBe(201);
    expect((await api.call('POST', '/settlement/mode', api.keys.operator, { mode: 'hybrid', reason: 'observability test' })).status).toBe(200);
    synqers = await registerSynqers(api, 3);
    await runAndCloseEpoch(api, 1, '3000000000', synqers);

    // Epoch 2 open: one report of each refusal, and one accepted.
    const start = EPOCH_START + 3600;
    expect(
      (await api.call('POST', '/epochs', api.keys.operator, { epoch: 2, start: instant(start), end: instant(start + 3600), rewardPool: '1000000000' })).status,
    ).toBe(201);
    const report = (synqerId: string, epoch: number, key: Uint8Array, reportId: string) => {
      const periodStart = epoch === 2 ? start : EPOCH_START;
      const content = {
        reportId,
        synqerId,
        epoch,
        periodStart: instant(periodStart),
        periodEnd: instant(periodStart + 600),
        bytes: '1000',
        sessions: 1,
        uptimeSeconds: 600,
        qosBps: 9_000,
      };
      return { ...content, signature: signEd25519(canonicalReportBytes(content), key) };
    };
    const submitted = await api.call('POST', '/metric-reports', api.keys.ingest, {
      reports: [
        report(synqers[0].synqerId, 2, synqers[0].reportingKey, 'ok-1'),
        report(synqers[1].synqerId, 2, generateReportingKeypair(), 'forged-1'),
        report('nobody', 2, synqers[0].reportingKey, 'unknown-1'),
        report(synqers[2].synqerId, 1, synqers[2].reportingKey, 'late-1'),
        { reportId: 'broken-1', synqerId: synqers[0].synqerId },
      ],
    });
    expect(submitted.body).toMatchObject({ accepted: 1, refused: 4 });
    const refusals = submitted.body.results.filter((r: { status: string }) => r.status === 'refused');
    expect(refusals.map((r: { problems: { field: string; reason: string }[] }) => refusalReason(r.problems[0]))).toEqual([
      'bad_signature',
      'unknown_synqer',
      'epoch_closed',
      'malformed',
    ]);

    const settled = await awaitJob(api, api.call('POST', '/epochs/1/settlement', api.keys.operator));
    expect(settled.body).toMatchObject({ mode: 'hybrid', status: 'settled' });
    expect((await awaitJob(api, api.call('POST', '/verification/runs', api.keys.operator))).body).toMatchObject({ discrepancyCount: 0 });

    // A transfer out of the treasury the books never ordered: the next run finds it.
    const treasuryKey = await loadTreasuryKey({ databaseUrl: undefined, eventStoreConnectionString: undefined, port: 0, dataDir: api.dataDir });
    const thief = Keypair.generate();
    const mint = new PublicKey(setup.mint);
    await execute(
      api.engine.chain,
      [
        createAssociatedAccountIdempotent(treasuryKey.publicKey, thief.publicKey, mint),
        transferChecked(new PublicKey(setup.treasuryAccount), mint, associatedTokenAddress(thief.publicKey, mint), treasuryKey.publicKey, 1_000_000n),
      ],
      [treasuryKey],
      'rogue transfer',
    );
    const rogue = await awaitJob(api, api.call('POST', '/verification/runs', api.keys.operator));
    expect(rogue.body.discrepancyCount).toBeGreaterThan(0);

    await api.engine.app.get(ProjectionRunner).waitFor();
    const text = await scrape();
    expect(sample(text, 'synq_metric_reports_accepted_total')).toBe(3 * 6 + 1);
    for (const reason of ['bad_signature', 'unknown_synqer', 'epoch_closed', 'malformed'])
      expect(sample(text, 'synq_metric_reports_refused_total', { reason })).toBe(1);
    expect(sample(text, 'synq_metric_reports_ingest_rate')).toBeGreaterThan(0);

    expect(sample(text, 'synq_event_store_append_duration_seconds_count', { operation: 'append', outcome: 'ok' })).toBeGreaterThan(10);
    expect(sample(text, 'synq_event_store_append_duration_seconds_count', { operation: 'append_many', outcome: 'ok' })).toBe(2);
    expect(sample(text, 'synq_event_store_append_duration_seconds_bucket', { operation: 'append', outcome: 'ok', le: '+Inf' })).toBe(
      sample(text, 'synq_event_store_append_duration_seconds_count', { operation: 'append', outcome: 'ok' }),
    );
    expect(sample(text, 'synq_event_store_events_appended_total')).toBeGreaterThan(19);

    const lastPosition = Number(await api.engine.eventStore.lastPosition());
    for (const projection of ['settlement', 'developers']) {
      expect(sample(text, 'synq_projection_position', { projection })).toBe(lastPosition);
      expect(sample(text, 'synq_projection_lag_events', { projection })).toBe(0);
      expect(sample(text, 'synq_projection_lag_seconds', { projection })).toBe(0);
    }

    expect(sample(text, 'synq_epoch_close_duration_seconds_count', { outcome: 'completed' })).toBe(1);
    expect(sample(text, 'synq_epoch_close_duration_seconds_sum', { outcome: 'completed' })).toBeGreaterThan(0);
    for (const stage of ['closed', 'rewards_calculated', 'distribution_built'])
      expect(sample(text, 'synq_epoch_close_stage_duration_seconds_count', { stage })).toBe(1);

    expect(sample(text, 'synq_settlement_transactions_total', { kind: 'payout', outcome: 'confirmed' })).toBe(settled.body.transactions.planned);
    expect(sample(text, 'synq_settlement_transactions_total', { outcome: 'failed' })).toBeUndefined();

    // The hybrid settlement verified the chain itself, then the test ran one clean run more.
    expect(sample(text, 'synq_verification_runs_total', { result: 'clean' })).toBe(2);
    expect(sample(text, 'synq_verification_runs_total', { result: 'discrepancies' })).toBe(1);
    expect(sample(text, 'synq_verification_discrepancies_total', { type: 'unrecorded_treasury_transfer' })).toBe(1);
    expect(sample(text, 'synq_verification_discrepancies_total')).toBe(rogue.body.discrepancyCount);
    expect(sample(text, 'synq_verification_last_run_discrepancies')).toBe(rogue.body.discrepancyCount);

    expect(sample(text, 'synq_http_requests_total', { method: 'POST', route: '/metric-reports', status: '200' })).toBe(2);
    expect(sample(text, 'synq_http_requests_total', { method: 'POST', route: '/epochs/:epoch/close', status: '202' })).toBe(1);
  });

  it('logs every request once as a JSON line with its correlation id, echoed in X-Correlation-Id', async () => {
    const before = await api.engine.eventStore.lastPosition();
    const given = await fetch(`${api.engine.url}/synqers`, {
      method: 'POST',
      headers: { authorization: `Bearer ${api.keys.operator}`, 'content-type': 'application/json', 'x-correlation-id': 'obs-test-42' },
      body: JSON.stringify({
        synqerId: 'logged',
        payoutWallet: base58Encode(Uint8Array.from({ length: 32 }, (_, i) => i + 1)),
        // A sound ed25519 key (small-order and off-curve keys are refused).
        reportingKey: publicKeyOf(generateReportingKeypair()),
        region: 'eu-west',
      }),
    });
    expect(given.status).toBe(201);
    expect(given.headers.get('x-correlation-id')).toBe('obs-test-42');
    // The same id on the events the request recorded.
    const recorded = [];
    for await (const event of api.engine.eventStore.readAll({ after: before })) recorded.push(event);
    expect(recorded.length).toBeGreaterThan(0);
    expect(recorded.every((event) => event.metadata.correlationId === 'obs-test-42')).toBe(true);

    const fresh = await api.call('GET', '/epochs', api.keys.auditor);
    const generated = fresh.headers.get('x-correlation-id');
    expect(generated).toMatch(/^[0-9a-f-]{36}$/);
    const refused = await api.call('GET', '/treasury', 'synq_000000000000_' + 'y'.repeat(43));
    expect(refused.status).toBe(401);
    const malformed = await fetch(`${api.engine.url}/synqers`, { method: 'POST', headers: { 'x-correlation-id': 'not valid!' } });
    expect(malformed.headers.get('x-correlation-id')).toMatch(/^[0-9a-f-]{36}$/);

    await new Promise((resolve) => setTimeout(resolve, 50));
    // Every line written is one JSON object with a level and a time.
    for (const line of parsedLogs()) expect(line).toMatchObject({ level: expect.any(String), time: expect.any(String), service: 'synq-settlement' });
    const requests = requestLogs();
    const posted = requests.filter((line) => line.correlationId === 'obs-test-42');
    expect(posted).toEqual([
      expect.objectContaining({
        level: 'info',
        method: 'POST',
        path: '/synqers',
        route: '/synqers',
        status: 201,
        durationMs: expect.any(Number),
        role: 'operator',
        keyId: api.keys.operator.split('_')[1],
      }),
    ]);
    expect(requests.filter((line) => line.correlationId === generated)).toEqual([
      expect.objectContaining({ method: 'GET', path: '/epochs', status: 200, role: 'auditor' }),
    ]);
    const unauthorized = requests.find((line) => line.correlationId === refused.headers.get('x-correlation-id'));
    expect(unauthorized).toMatchObject({ method: 'GET', path: '/treasury', status: 401 });
    expect(unauthorized).not.toHaveProperty('role');
    // Each request once: as many lines as distinct correlation ids.
    expect(new Set(requests.map((line) => line.correlationId)).size).toBe(requests.length);
    expect(requests.find((line) => line.path === '/metrics')).toMatchObject({ status: 200 });
  });

  it('keeps API keys, their secrets and the treasury key out of the logs', async () => {
    // A key in every place a careless client might put it.
    await fetch(`${api.engine.url}/treasury?api_key=${api.keys.operator}&q=${api.keys.auditor}`, { headers: { 'x-api-key': api.keys.operator } });
    await fetch(`${api.engine.url}/health?token=${api.keys.ingest}`, { headers: { authorization: `Bearer ${api.keys.developer}` } });
    await new Promise((resolve) => setTimeout(resolve, 50));

    const output = logs.join('');
    expect(requestLogs().find((line) => line.path === '/treasury' && line.status === 200)).toMatchObject({
      role: 'operator',
      query: expect.stringContaining('api_key=[Redacted]'),
    });
    for (const key of [...Object.values(api.keys), 'synq_000000000000_' + 'y'.repeat(43)]) {
      expect(output).not.toContain(key);
      expect(output).not.toContain(key.slice('synq_000000000000_'.length));
    }
    const keypairText = readFileSync(path.join(api.dataDir, 'treasury-keypair.json'), 'utf8');
    const secret = Uint8Array.from(JSON.parse(keypairText) as number[]);
    expect(output).not.toContain(keypairText.trim());
    expect(output).not.toContain(Buffer.from(secret).toString('hex'));
    expect(output).not.toContain(Buffer.from(secret).toString('base64'));
    expect(output).not.toContain(base58Encode(secret));
    expect(output).not.toContain([...secret.slice(0, 32)].join(','));
    expect(parsedLogs().some((line) => 'headers' in line || 'authorization' in line)).toBe(false);
  });

  it('scrubs secrets from anything logged: sensitive fields at any depth, keys and keypair bytes in text', () => {
    const key = `synq_abcdefghijkl_${'Z'.repeat(43)}`;
    expect(scrubText(`failed for ${key} (Bearer abc.def)`)).toBe('failed for synq_abcdefghijkl_[Redacted] (Bearer [Redacted])');
    expect(scrubText(`file: [${Array.from({ length: 64 }, (_, i) => i).join(',')}]`)).toBe('file: [Redacted bytes]');
    expect(
      scrubValue({ keyId: 'abc', nested: { headers: { Authorization: 'x', 'X-Api-Key': 'y' }, treasuryKey: [1, 2], password: 'p', clientSecret: 's' } }),
    ).toEqual({
      keyId: 'abc',
      nested: {
        headers: { Authorization: '[Redacted]', 'X-Api-Key': '[Redacted]' },
        treasuryKey: '[Redacted]',
        password: '[Redacted]',
        clientSecret: '[Redacted]',
      },
    });
  });
});
