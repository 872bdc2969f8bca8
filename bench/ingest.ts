/**
 * bench/ingest: signed metric reports per second through the whole command path (parse, signature check, decide,
 * append), in process (CommandBus, batches of 1,000) and over HTTP (batches of 1,000 on 8 connections), beside the floor:
 * Node's raw ed25519 verification rate on this machine, on one thread and on two. `npm run bench:ingest`
 * (BENCH_REPORTS per phase, default 60,000). With BENCH_PROCESSES=1,2,4 it then runs, per count, that many engine
 * processes on one fresh database (the first applies the projections, the others run with SYNQ_PROJECTIONS=off) fed
 * over HTTP, and checks the log they wrote: positions gap-free, each stream's revisions in position order, no report
 * twice, the same events and totals whatever the count. Prints Markdown and writes bench/results/ingest-latest.md.
 */
import { createBenchDatabase, postgresCpuSeconds } from './support';
import { CommandBus } from '@nestjs/cqrs';
import { Logger } from '@nestjs/common';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { cpus, tmpdir, totalmem } from 'node:os';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { Session } from 'node:inspector';
import { fork, type ChildProcess } from 'node:child_process';
import { Pool } from 'pg';
import { canonicalReportBytes, type MetricReport } from '../domain/metric-report';
import { base58Encode } from '../domain/values';
import { createApiKey } from '../src/auth/api-keys';
import { generateReportingKeypair, publicKeyOf, signEd25519, verifyEd25519 } from '../src/commands/ed25519';
import { startEmbeddedPostgres } from '../src/database/embedded-postgres';
import { startEngine } from '../src/engine';
import { loadConfig } from '../src/config/config';
import { PostgresEventStore } from '../src/event-store/postgres-event-store';
import { migrate } from '../src/database/migrator';
import { MIGRATIONS_DIR } from '../src/project-root';
import { SubmitMetricReports, type ReportOutcome } from '../src/metric-reports/metric-reports';
import { SignatureVerifier } from '../src/commands/signature-verifier';
import { ProjectionRunner } from '../src/projections/projection-runner';
import { ProjectionReader } from '../src/projections/projection-reader';
import { settlementQueries } from '../projections/settlement';
import { projectRoot } from '../src/project-root';

const REPORTS = Number(process.env.BENCH_REPORTS ?? 60_000);
const SYNQERS = 200;
const BATCH = 1_000;
const HTTP_CONNECTIONS = 8;
const IN_FLIGHT = Number(process.env.BENCH_IN_FLIGHT ?? 2);
const PROJECTIONS_ON = process.env.BENCH_PROJECTIONS !== 'off';
const EPOCH_START = Date.UTC(2026, 0, 1) / 1000;
/** Engine process counts of the several-processes phase (BENCH_PROCESSES=1,2,4); none by default. */
const PROCESSES = (process.env.BENCH_PROCESSES ?? '')
  .split(',')
  .filter((count) => count.trim() !== '')
  .map(Number);
/** Reports per count in that phase: groups of 200 synqers, 1,000-report batches of one group each. */
const PROCESS_REPORTS = Number(process.env.BENCH_PROCESS_REPORTS ?? 40_000);
const GROUPS = 4;
const loadAverage = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const seconds = (started: bigint) => Number(process.hrtime.bigint() - started) / 1e9;

interface Synqer {
  synqerId: string;
  keypair: Uint8Array;
}

/** `count` reports spread evenly over the synqers, consecutive one-minute periods from `firstMinute` on. */
function makeReports(synqers: Synqer[], count: number, firstMinute: number, tag: string): MetricReport[] {
  const reports: MetricReport[] = [];
  for (let i = 0; i < count; i++) {
    const synqer = synqers[i % synqers.length];
    const minute = firstMinute + Math.floor(i / synqers.length);
    const content = {
      reportId: `${tag}-${i}`,
      synqerId: synqer.synqerId,
      epoch: 1,
      periodStart: new Date((EPOCH_START + minute * 60) * 1000).toISOString().replace('.000Z', 'Z'),
      periodEnd: new Date((EPOCH_START + minute * 60 + 60) * 1000).toISOString().replace('.000Z', 'Z'),
      bytes: String(1_000_000 + ((i * 7919) % 50_000_000)),
      sessions: 1 + (i % 40),
      uptimeSeconds: 60,
      qosBps: 9_000 + (i % 1_000),
    };
    reports.push({ ...content, signature: signEd25519(canonicalReportBytes(content), synqer.keypair) });
  }
  return reports;
}

/** Batches for one engine: POSTed on `connections` keep-alive connections of their own. */
interface Target {
  url: string;
  bodies: string[];
  connections: number;
}

/** POSTs every target's bodies from a worker thread (not the engine's event loop); answers how many reports were accepted. */
function postBatches(key: string, targets: Target[]): Promise<number> {
  const source = `
    const { parentPort, workerData } = require('node:worker_threads');
    const http = require('node:http');
    const { key, targets } = workerData;
    let accepted = 0;
    const post = (agent, url, body) => new Promise((resolve, reject) => {
      const request = http.request(url + '/metric-reports', { method: 'POST', agent, headers: { authorization: 'Bearer ' + key, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (response) => {
        const chunks = [];
        response.on('data', (chunk) => chunks.push(chunk));
        response.on('end', () => {
          if (response.statusCode !== 200) return reject(new Error('POST /metric-reports answered ' + response.statusCode));
          accepted += JSON.parse(Buffer.concat(chunks).toString()).accepted;
          resolve();
        });
      });
      request.on('error', reject);
      request.end(body);
    });
    (async () => {
      await Promise.all(targets.map(async ({ url, bodies, connections }) => {
        const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
        await Promise.all(Array.from({ length: connections }, async () => {
          for (let body = bodies.shift(); body; body = bodies.shift()) await post(agent, url, body);
        }));
        agent.destroy();
      }));
      parentPort.postMessage(accepted);
    })().catch((error) => { throw error; });`;
  return new Promise((resolve, reject) => {
    const worker = new Worker(source, { eval: true, workerData: { key, targets } });
    worker.once('message', resolve);
    worker.once('error', reject);
  });
}

/** CPU seconds of a process, all its threads (/proc/<pid>/stat utime + stime); 0 once it is gone. */
function processCpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

/** CPU seconds of this process's main thread alone (the event loop's thread): /proc/self/task/<pid>/stat. */
function mainThreadCpuSeconds(): number {
  const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/**
 * Where a phase's CPU went, in microseconds per report: the engine's threads, its main thread (the event loop) alone,
 * the event loop's busy wall time (which counts time the thread waited for a core), PostgreSQL.
 */
function cpuMeter(dataDir: string) {
  const node = process.cpuUsage();
  const main = mainThreadCpuSeconds();
  const loop = performance.eventLoopUtilization();
  const pg = postgresCpuSeconds(dataDir) ?? 0;
  return (reports: number) => {
    const used = process.cpuUsage(node);
    const active = performance.eventLoopUtilization(loop).active / 1000;
    const per = (secondsUsed: number) => (secondsUsed * 1e6) / reports;
    return {
      engine: per((used.user + used.system) / 1e6),
      mainThread: per(mainThreadCpuSeconds() - main),
      eventLoop: per(active),
      postgres: per((postgresCpuSeconds(dataDir) ?? 0) - pg),
    };
  };
}

/**
 * BENCH_PROFILE=<folder>: the main thread's CPU profile of each phase, written there as <phase>.cpuprofile (open in
 * Chrome's DevTools); the phase is timed with the profiler on, so its rate is not a result.
 */
async function profiled<T>(phase: string, work: () => Promise<T>): Promise<T> {
  const folder = process.env.BENCH_PROFILE;
  if (!folder) return work();
  const session = new Session();
  session.connect();
  const post = (method: string, params?: object) =>
    new Promise<unknown>((resolve, reject) => session.post(method, params ?? {}, (error, result) => (error ? reject(error) : resolve(result))));
  await post('Profiler.enable');
  await post('Profiler.setSamplingInterval', { interval: 200 });
  await post('Profiler.start');
  try {
    return await work();
  } finally {
    const { profile } = (await post('Profiler.stop')) as { profile: unknown };
    mkdirSync(folder, { recursive: true });
    writeFileSync(path.join(folder, `${phase}.cpuprofile`), JSON.stringify(profile));
    session.disconnect();
  }
}

function batches<T>(items: T[], size: number): T[][] {
  return Array.from({ length: Math.ceil(items.length / size) }, (_, i) => items.slice(i * size, (i + 1) * size));
}

/** ed25519 verifications per second of `samples`, on `threads` worker threads at once. */
async function verificationFloor(samples: { message: Uint8Array; signature: string; publicKey: string }[], threads: number): Promise<number> {
  const script = `
    const { parentPort, workerData } = require('node:worker_threads');
    const { verifyEd25519 } = require(${JSON.stringify(path.join(__dirname, '..', 'src', 'commands', 'ed25519.js'))});
    let ok = 0;
    for (const s of workerData) if (verifyEd25519(s.message, s.signature, s.publicKey)) ok++;
    parentPort.postMessage(ok);`;
  const started = process.hrtime.bigint();
  const results = await Promise.all(
    Array.from(
      { length: threads },
      () =>
        new Promise<number>((resolve, reject) => {
          const worker = new Worker(script, { eval: true, workerData: samples });
          worker.once('message', resolve);
          worker.once('error', reject);
        }),
    ),
  );
  if (results.some((ok) => ok !== samples.length)) throw new Error('a verification failed');
  return (samples.length * threads) / seconds(started);
}

type Call = (method: string, route: string, key: string, body: unknown) => Promise<unknown>;

function caller(url: string): Call {
  return async (method, route, key, body) => {
    const response = await fetch(`${url}${route}`, {
      method,
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    if (response.status >= 300) throw new Error(`${method} ${route}: ${response.status} ${await response.text()}`);
    return response.json();
  };
}

/** The synqers registered, the treasury funded and epoch 1 (a year long) opened, through the API. */
async function openNetwork(call: Call, operator: string, synqers: Synqer[]): Promise<void> {
  for (const [i, synqer] of synqers.entries()) {
    await call('POST', '/synqers', operator, {
      synqerId: synqer.synqerId,
      payoutWallet: base58Encode(Uint8Array.from({ length: 32 }, (_, j) => (i + j * 3 + 1 + Math.floor(i / 256) * 7) % 256)),
      reportingKey: publicKeyOf(synqer.keypair),
      region: ['eu-west', 'us-east', 'ap-south'][i % 3],
    });
  }
  await call('POST', '/treasury/fundings', operator, { amount: '1000000000000', reference: 'bench' });
  await call('POST', '/epochs', operator, {
    epoch: 1,
    start: new Date(EPOCH_START * 1000).toISOString().replace('.000Z', 'Z'),
    end: new Date((EPOCH_START + 365 * 86_400) * 1000).toISOString().replace('.000Z', 'Z'),
    rewardPool: '1000000000',
  });
}

const newSynqers = (count: number, prefix: string): Synqer[] =>
  Array.from({ length: count }, (_, i) => ({ synqerId: `${prefix}${i}`, keypair: generateReportingKeypair() }));

interface ProcessesRun {
  processes: number;
  seconds: number;
  rate: number;
  /** CPU per report, microseconds: the engine processes (all threads), the load generator's process, PostgreSQL. */
  cpu: { engines: number; generator: number; postgres: number };
  /** Seconds from the last answer until the projections had applied everything. */
  catchUp: number;
  load: string;
  log: { events: number; first: number; last: number; gaps: number; outOfOrder: number; duplicates: number; reports: number };
  eventsDigest: string;
  /** Epoch 1's totals as the settlement projection has them. */
  totals: string;
}

/**
 * `processes` engine processes on a fresh database `ingest_p<processes>`, fed `reportBatches` over HTTP (batch b to
 * the process of its synqer group, so no two processes write one stream), then the log checked.
 */
async function severalProcesses(
  serverUrl: string,
  processes: number,
  synqers: Synqer[],
  reportBatches: MetricReport[][],
  pgDataDir: string,
): Promise<ProcessesRun> {
  const url = await createBenchDatabase(serverUrl, `ingest_p${processes}`);
  const pool = new Pool({ connectionString: url, max: 4 });
  await migrate(pool, MIGRATIONS_DIR);
  const store = new PostgresEventStore(pool);
  const children: ChildProcess[] = [];
  const dataDirs: string[] = [];
  try {
    const operator = (await createApiKey({ pool, store }, 'operator')).key;
    const ingest = (await createApiKey({ pool, store }, 'ingest')).key;
    // The first applies the projections; the others only ingest (their runners never start).
    const urls = await Promise.all(
      Array.from({ length: processes }, (_, i) => {
        const dataDir = mkdtempSync(path.join(tmpdir(), 'synq-bench-engine-'));
        dataDirs.push(dataDir);
        const child = fork(path.join(__dirname, 'ingest-engine.js'), [], {
          env: { ...process.env, DATABASE_URL: url, SYNQ_DATA_DIR: dataDir, SYNQ_PROJECTIONS: i === 0 ? 'on' : 'off' },
          stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
        });
        children.push(child);
        return new Promise<string>((resolve, reject) => {
          child.once('message', (message: { url: string }) => resolve(message.url));
          child.once('exit', (code) => reject(new Error(`engine process ${i} exited with ${code} before it listened`)));
        });
      }),
    );
    await openNetwork(caller(urls[0]), operator, synqers);

    const targets: Target[] = urls.map((target) => ({ url: target, bodies: [], connections: Math.max(1, Math.floor(HTTP_CONNECTIONS / processes)) }));
    reportBatches.forEach((batch, b) => targets[(b % GROUPS) % processes].bodies.push(JSON.stringify({ reports: batch })));
    const reports = reportBatches.reduce((sum, batch) => sum + batch.length, 0);
    const load = loadAverage();
    const cpuBefore = {
      engines: children.map((child) => processCpuSeconds(child.pid!)),
      generator: process.cpuUsage(),
      postgres: postgresCpuSeconds(pgDataDir) ?? 0,
    };
    const started = process.hrtime.bigint();
    const accepted = await postBatches(ingest, targets);
    const elapsed = seconds(started);
    const generator = process.cpuUsage(cpuBefore.generator);
    const per = (cpuSeconds: number) => (cpuSeconds * 1e6) / reports;
    const cpu = {
      engines: per(children.reduce((sum, child, i) => sum + processCpuSeconds(child.pid!) - cpuBefore.engines[i], 0)),
      generator: per((generator.user + generator.system) / 1e6),
      postgres: per((postgresCpuSeconds(pgDataDir) ?? 0) - cpuBefore.postgres),
    };
    if (accepted !== reports) throw new Error(`${processes} processes: ${accepted} of ${reports} accepted`);

    // The projections (in the first process) catch up with everything written.
    const head = await store.lastPosition();
    const caughtUpFrom = process.hrtime.bigint();
    for (;;) {
      const { rows } = await pool.query<{ behind: number }>('SELECT count(*)::int AS behind FROM projection_state WHERE position < $1', [head.toString()]);
      if (rows[0].behind === 0) break;
      if (seconds(caughtUpFrom) > 300) throw new Error('the projections did not catch up within 300 s');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const catchUp = seconds(caughtUpFrom);

    // The log: every position from the first to the last used once; within each stream, revisions follow positions
    // one by one; no report recorded twice. And the same events and totals whatever the number of processes (a
    // stream's revisions follow the order its batches were decided in, which concurrent requests may change).
    const { rows: log } = await pool.query<ProcessesRun['log']>(`
      SELECT count(*)::int AS events, min(global_position)::int AS first, max(global_position)::int AS last,
             (max(global_position) - min(global_position) + 1 - count(*))::int AS gaps,
             (SELECT count(*)::int FROM (SELECT stream_revision - lag(stream_revision) OVER (PARTITION BY stream_name ORDER BY global_position) AS step FROM events) s
               WHERE step IS NOT NULL AND step <> 1) AS "outOfOrder",
             (SELECT (count(*) - count(DISTINCT (stream_name, data->>'reportId')))::int FROM events WHERE event_type = 'MetricReportAccepted') AS duplicates,
             (SELECT count(*)::int FROM events WHERE event_type = 'MetricReportAccepted') AS reports
        FROM events`);
    const { rows: digests } = await pool.query<{ events: string }>(`
      SELECT md5(string_agg(event_id::text || ' ' || stream_name || ' ' || event_type || ' ' || data::text, E'\n' ORDER BY event_id)) AS events
        FROM events WHERE stream_category = 'metrics'`);
    const totals = await settlementQueries.reportedTotals(new ProjectionReader(pool), 1);
    if (totals.reports !== reports) throw new Error(`${processes} processes: the settlement projection counts ${totals.reports} reports of ${reports}`);
    return {
      processes,
      seconds: elapsed,
      rate: reports / elapsed,
      cpu,
      catchUp,
      load,
      log: log[0],
      eventsDigest: digests[0].events,
      totals: `${totals.synqers} synqers, ${totals.bytes} bytes, ${totals.sessions} sessions, ${totals.reports} reports`,
    };
  } finally {
    await Promise.all(
      children.map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null) return resolve();
            child.once('exit', () => resolve());
            child.send('stop');
          }),
      ),
    );
    await pool.end();
    for (const dir of dataDirs) rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  Logger.overrideLogger(['error', 'warn']);
  const dataDir = mkdtempSync(path.join(tmpdir(), 'synq-bench-ingest-'));
  chmodSync(dataDir, 0o755);
  const db = await startEmbeddedPostgres({ dataDir, databaseName: 'ingest' });
  // SYNQ_VERIFY_WORKERS as the engine reads it (the processes of BENCH_PROCESSES inherit it).
  const { verifyWorkers } = loadConfig();
  const engine = await startEngine({ databaseUrl: db.url, eventStoreConnectionString: undefined, port: 0, dataDir, verifyWorkers }, new Logger('bench'), {
    frameworkLogs: false,
  });
  try {
    const operator = (await createApiKey(engine, 'operator')).key;
    const ingest = (await createApiKey(engine, 'ingest')).key;
    const synqers = newSynqers(SYNQERS, 's');
    await openNetwork(caller(engine.url), operator, synqers);

    process.stderr.write('signing reports...\n');
    const perPhaseMinutes = Math.ceil(REPORTS / SYNQERS);
    const inProcessReports = makeReports(synqers, REPORTS, 0, 'in');
    const httpReports = makeReports(synqers, REPORTS, perPhaseMinutes, 'http');

    // The floor: raw verification of the same messages with cached key objects.
    const samples = inProcessReports.slice(0, 20_000).map(({ signature, ...content }) => ({
      message: canonicalReportBytes(content),
      signature,
      publicKey: publicKeyOf(synqers.find((s) => s.synqerId === content.synqerId)!.keypair),
    }));
    for (const s of samples.slice(0, 500)) verifyEd25519(s.message, s.signature, s.publicKey);
    const loadBefore = loadAverage();
    const floorOne = await verificationFloor(samples, 1);
    const floorTwo = await verificationFloor(samples, 2);

    // In process: the command bus, batches of 1,000, two batches in flight.
    // The projections follow the log as in a running engine, unless BENCH_PROJECTIONS=off: then the command path alone.
    if (!PROJECTIONS_ON) await engine.app.get(ProjectionRunner).stop();
    const bus = engine.app.get(CommandBus);
    const metadata = { actor: 'bench', correlationId: 'bench-in-process', commandId: 'bench' };
    let accepted = 0;
    let meter = cpuMeter(dataDir);
    let started = process.hrtime.bigint();
    const queue = batches(inProcessReports, BATCH);
    await profiled('in-process', () =>
      Promise.all(
        Array.from({ length: IN_FLIGHT }, async () => {
          for (let batch = queue.shift(); batch; batch = queue.shift()) {
            const outcomes: ReportOutcome[] = await bus.execute(new SubmitMetricReports(batch, metadata));
            accepted += outcomes.filter((o) => o.status === 'accepted').length;
          }
        }),
      ),
    );
    const inProcessSeconds = seconds(started);
    const inProcessCpu = meter(REPORTS);
    if (accepted !== REPORTS) throw new Error(`in process: ${accepted} of ${REPORTS} accepted`);

    // Over HTTP: 8 keep-alive connections, batches of 1,000, sent from a worker thread (the client is not the engine:
    // it must not share the engine's event loop, though it shares the machine's two cores).
    meter = cpuMeter(dataDir);
    const bodies = batches(httpReports, BATCH).map((batch) => JSON.stringify({ reports: batch }));
    started = process.hrtime.bigint();
    accepted = await profiled('http', () => postBatches(ingest, [{ url: engine.url, bodies, connections: HTTP_CONNECTIONS }]));
    const httpSeconds = seconds(started);
    const httpCpu = meter(REPORTS);
    if (accepted !== REPORTS) throw new Error(`over HTTP: ${accepted} of ${REPORTS} accepted`);
    const loadAfter = loadAverage();

    // Several engine processes on one database, each run on a fresh one with the same signed reports.
    const runs: ProcessesRun[] = [];
    let floorBeforeProcesses = 0;
    if (PROCESSES.length > 0) {
      await engine.app.get(ProjectionRunner).stop();
      const groupSynqers = newSynqers(SYNQERS * GROUPS, 'g');
      const minutes = Math.ceil(PROCESS_REPORTS / (SYNQERS * GROUPS));
      // Batch b: group b % GROUPS, five consecutive minutes of its 200 synqers.
      const reportBatches: MetricReport[][] = [];
      for (let minute = 0; minute < minutes; minute += BATCH / SYNQERS) {
        for (let group = 0; group < GROUPS; group++) {
          const members = groupSynqers.slice(group * SYNQERS, (group + 1) * SYNQERS);
          reportBatches.push(makeReports(members, BATCH, minute, `p${group}-${minute}`));
        }
      }
      floorBeforeProcesses = await verificationFloor(samples, 2);
      for (const processes of PROCESSES) {
        process.stderr.write(`${processes} engine process(es)...\n`);
        runs.push(await severalProcesses(db.url, processes, groupSynqers, reportBatches, dataDir));
      }
    }

    const { rows } = await engine.database.pool.query<{ server_version: string }>('SHOW server_version');
    const cpu = /model name\s*:\s*(.+)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? 'unknown CPU';
    const inProcessRate = REPORTS / inProcessSeconds;
    const httpRate = REPORTS / httpSeconds;
    const share = (rate: number, floor: number) => `${((rate / floor) * 100).toFixed(0)}%`;
    const markdown = [
      `Run ${new Date().toISOString()} on ${cpu}, ${cpus().length} cores, ${Math.round(totalmem() / 2 ** 30)} GiB; PostgreSQL ${rows[0].server_version} (embedded); ` +
        `Node ${process.version}; ${fmt(REPORTS)} reports per phase from ${SYNQERS} synqers; projections ${PROJECTIONS_ON ? 'following the log meanwhile' : 'stopped (the command path alone)'}; ` +
        `signatures checked on ${engine.app.get(SignatureVerifier).workers} worker thread(s). Load average (1, 5, 15 min) before the floor ${loadBefore}, after the HTTP phase ${loadAfter}.`,
      `Command: \`${[process.env.BENCH_REPORTS && `BENCH_REPORTS=${REPORTS}`, PROCESSES.length > 0 && `BENCH_PROCESSES=${PROCESSES.join(',')}`, 'npm run bench:ingest'].filter(Boolean).join(' ')}\``,
      '',
      '| path | reports/s | share of the 2-thread floor |',
      '| --- | ---: | ---: |',
      `| floor: ed25519 verify, 1 thread, cached keys | ${fmt(floorOne)} | ${share(floorOne, floorTwo)} |`,
      `| floor: ed25519 verify, 2 threads, cached keys | ${fmt(floorTwo)} | 100% |`,
      `| in process, batches of 1,000 (${IN_FLIGHT} in flight) | ${fmt(inProcessRate)} | ${share(inProcessRate, floorTwo)} |`,
      `| HTTP, batches of 1,000 on ${HTTP_CONNECTIONS} connections | ${fmt(httpRate)} | ${share(httpRate, floorTwo)} |`,
      '',
      `CPU per report, microseconds (the floor's verification alone: ${fmt(1e6 / floorOne)} on one thread):`,
      '',
      '| path | engine, all threads | of which its main thread (CPU) | event loop busy (wall) | PostgreSQL | total |',
      '| --- | ---: | ---: | ---: | ---: | ---: |',
      ...(
        [
          ['in process', inProcessCpu],
          ['HTTP (the load generator, a worker thread, included)', httpCpu],
        ] as const
      ).map(
        ([name, cpu]) =>
          `| ${name} | ${fmt(cpu.engine)} | ${fmt(cpu.mainThread)} | ${fmt(cpu.eventLoop)} | ${fmt(cpu.postgres)} | ${fmt(cpu.engine + cpu.postgres)} |`,
      ),
      ...(runs.length === 0
        ? []
        : [
            '',
            `Several engine processes on one database (${fmt(PROCESS_REPORTS)} reports from ${fmt(SYNQERS * GROUPS)} synqers in ${GROUPS} groups, each group's batches to one process, ` +
              `${HTTP_CONNECTIONS} connections in all; the first process applies the projections, the others run with SYNQ_PROJECTIONS=off; a fresh database each). ` +
              `The 2-thread floor measured again just before: ${fmt(floorBeforeProcesses)}/s.`,
            '',
            '| engine processes | reports/s | vs 1 process | share of the floor | CPU per report: engines / load generator / PostgreSQL (µs) | projections caught up after (s) | load average before |',
            '| ---: | ---: | ---: | ---: | ---: | ---: | --- |',
            ...runs.map(
              (run) =>
                `| ${run.processes} | ${fmt(run.rate)} | ${(run.rate / runs[0].rate).toFixed(2)}x | ${share(run.rate, floorBeforeProcesses)} | ` +
                `${fmt(run.cpu.engines)} / ${fmt(run.cpu.generator)} / ${fmt(run.cpu.postgres)} | ${run.catchUp.toFixed(1)} | ${run.load} |`,
            ),
            '',
            '| engine processes | events | positions | gaps | revisions out of position order | reports twice | reports | metric events (md5 of ids, streams, types, data) |',
            '| ---: | ---: | --- | ---: | ---: | ---: | ---: | --- |',
            ...runs.map(
              ({ processes, log, eventsDigest }) =>
                `| ${processes} | ${fmt(log.events)} | ${log.first} to ${log.last} | ${log.gaps} | ${log.outOfOrder} | ${log.duplicates} | ${fmt(log.reports)} | ${eventsDigest} |`,
            ),
            '',
            `Epoch 1 as the settlement projection has it: ${runs.map((run) => `${run.processes} process(es): ${run.totals}`).join('; ')}.`,
          ]),
    ].join('\n');
    process.stdout.write(`${markdown}\n`);
    const out = path.join(projectRoot(), 'bench', 'results');
    mkdirSync(out, { recursive: true });
    writeFileSync(path.join(out, 'ingest-latest.md'), `${markdown}\n`);
    const broken = runs.filter(
      (run) =>
        run.log.gaps !== 0 ||
        run.log.outOfOrder !== 0 ||
        run.log.duplicates !== 0 ||
        run.eventsDigest !== runs[0].eventsDigest ||
        run.totals !== runs[0].totals,
    );
    if (broken.length > 0) throw new Error(`the log written by ${broken.map((run) => run.processes).join(', ')} processes is not what one process writes`);
  } finally {
    await engine.stop();
    await db.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench/ingest failed: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
