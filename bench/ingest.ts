/**
 * bench/ingest: signed metric reports per second through the whole command path (parse, signature check, decide,
 * append), in process (CommandBus, batches of 1,000) and over HTTP (batches of 1,000 on 8 connections), beside the floor:
 * Node's raw ed25519 verification rate on this machine, on one thread and on two. `npm run bench:ingest`
 * (BENCH_REPORTS per phase, default 60,000). Prints Markdown and writes bench/results/ingest-latest.md.
 */
import { postgresCpuSeconds } from './support';
import { CommandBus } from '@nestjs/cqrs';
import { Logger } from '@nestjs/common';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { cpus, tmpdir, totalmem } from 'node:os';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { canonicalReportBytes, type MetricReport } from '../domain/metric-report';
import { base58Encode } from '../domain/values';
import { createApiKey } from '../src/auth/api-keys';
import { generateReportingKeypair, publicKeyOf, signEd25519, verifyEd25519 } from '../src/commands/ed25519';
import { startEmbeddedPostgres } from '../src/database/embedded-postgres';
import { startEngine } from '../src/engine';
import { SubmitMetricReports, type ReportOutcome } from '../src/metric-reports/metric-reports';
import { ProjectionRunner } from '../src/projections/projection-runner';
import { projectRoot } from '../src/project-root';

const REPORTS = Number(process.env.BENCH_REPORTS ?? 60_000);
const SYNQERS = 200;
const BATCH = 1_000;
const HTTP_CONNECTIONS = 8;
const IN_FLIGHT = Number(process.env.BENCH_IN_FLIGHT ?? 2);
const PROJECTIONS_ON = process.env.BENCH_PROJECTIONS !== 'off';
const EPOCH_START = Date.UTC(2026, 0, 1) / 1000;

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

/** POSTs the bodies on HTTP_CONNECTIONS keep-alive connections from a worker thread; answers how many reports were accepted. */
function postBatches(url: string, key: string, bodies: string[]): Promise<number> {
  const source = `
    const { parentPort, workerData } = require('node:worker_threads');
    const http = require('node:http');
    const { url, key, bodies, connections } = workerData;
    const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
    let accepted = 0;
    const post = (body) => new Promise((resolve, reject) => {
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
      await Promise.all(Array.from({ length: connections }, async () => {
        for (let body = bodies.shift(); body; body = bodies.shift()) await post(body);
      }));
      agent.destroy();
      parentPort.postMessage(accepted);
    })();`;
  return new Promise((resolve, reject) => {
    const worker = new Worker(source, { eval: true, workerData: { url, key, bodies, connections: HTTP_CONNECTIONS } });
    worker.once('message', resolve);
    worker.once('error', reject);
  });
}

/** Where a phase's CPU went, in microseconds per report: the engine's threads, its event loop alone, PostgreSQL. */
function cpuMeter(dataDir: string) {
  const node = process.cpuUsage();
  const loop = performance.eventLoopUtilization();
  const pg = postgresCpuSeconds(dataDir) ?? 0;
  return (reports: number) => {
    const used = process.cpuUsage(node);
    const active = performance.eventLoopUtilization(loop).active / 1000;
    const per = (secondsUsed: number) => (secondsUsed * 1e6) / reports;
    return { engine: per((used.user + used.system) / 1e6), eventLoop: per(active), postgres: per((postgresCpuSeconds(dataDir) ?? 0) - pg) };
  };
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

async function main(): Promise<void> {
  Logger.overrideLogger(['error', 'warn']);
  const dataDir = mkdtempSync(path.join(tmpdir(), 'synq-bench-ingest-'));
  chmodSync(dataDir, 0o755);
  const db = await startEmbeddedPostgres({ dataDir, databaseName: 'ingest' });
  const engine = await startEngine({ databaseUrl: db.url, eventStoreConnectionString: undefined, port: 0, dataDir }, new Logger('bench'), {
    frameworkLogs: false,
  });
  try {
    const operator = (await createApiKey(engine, 'operator')).key;
    const ingest = (await createApiKey(engine, 'ingest')).key;
    const call = async (method: string, route: string, key: string, body: unknown) => {
      const response = await fetch(`${engine.url}${route}`, {
        method,
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      if (response.status >= 300) throw new Error(`${method} ${route}: ${response.status} ${await response.text()}`);
      return response.json();
    };
    const synqers: Synqer[] = [];
    for (let i = 0; i < SYNQERS; i++) {
      const synqer = { synqerId: `s${i}`, keypair: generateReportingKeypair() };
      synqers.push(synqer);
      await call('POST', '/synqers', operator, {
        synqerId: synqer.synqerId,
        payoutWallet: base58Encode(Uint8Array.from({ length: 32 }, (_, j) => (i + j * 3 + 1) % 256)),
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
    await Promise.all(
      Array.from({ length: IN_FLIGHT }, async () => {
        for (let batch = queue.shift(); batch; batch = queue.shift()) {
          const outcomes: ReportOutcome[] = await bus.execute(new SubmitMetricReports(batch, metadata));
          accepted += outcomes.filter((o) => o.status === 'accepted').length;
        }
      }),
    );
    const inProcessSeconds = seconds(started);
    const inProcessCpu = meter(REPORTS);
    if (accepted !== REPORTS) throw new Error(`in process: ${accepted} of ${REPORTS} accepted`);

    // Over HTTP: 8 keep-alive connections, batches of 1,000, sent from a worker thread (the client is not the engine:
    // it must not share the engine's event loop, though it shares the machine's two cores).
    meter = cpuMeter(dataDir);
    const bodies = batches(httpReports, BATCH).map((batch) => JSON.stringify({ reports: batch }));
    started = process.hrtime.bigint();
    accepted = await postBatches(engine.url, ingest, bodies);
    const httpSeconds = seconds(started);
    const httpCpu = meter(REPORTS);
    if (accepted !== REPORTS) throw new Error(`over HTTP: ${accepted} of ${REPORTS} accepted`);

    const { rows } = await engine.database.pool.query<{ server_version: string }>('SHOW server_version');
    const cpu = /model name\s*:\s*(.+)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? 'unknown CPU';
    const inProcessRate = REPORTS / inProcessSeconds;
    const httpRate = REPORTS / httpSeconds;
    const markdown = [
      `Run ${new Date().toISOString()} on ${cpu}, ${cpus().length} cores, ${Math.round(totalmem() / 2 ** 30)} GiB; PostgreSQL ${rows[0].server_version} (embedded); ` +
        `Node ${process.version}; ${fmt(REPORTS)} reports per phase from ${SYNQERS} synqers; projections ${PROJECTIONS_ON ? 'following the log meanwhile' : 'stopped (the command path alone)'}.`,
      'Command: `npm run bench:ingest`',
      '',
      '| path | reports/s | share of the 2-thread floor |',
      '| --- | ---: | ---: |',
      `| floor: ed25519 verify, 1 thread, cached keys | ${fmt(floorOne)} | ${((floorOne / floorTwo) * 100).toFixed(0)}% |`,
      `| floor: ed25519 verify, 2 threads, cached keys | ${fmt(floorTwo)} | 100% |`,
      `| in process, batches of 1,000 (${IN_FLIGHT} in flight) | ${fmt(inProcessRate)} | ${((inProcessRate / floorTwo) * 100).toFixed(0)}% |`,
      `| HTTP, batches of 1,000 on ${HTTP_CONNECTIONS} connections | ${fmt(httpRate)} | ${((httpRate / floorTwo) * 100).toFixed(0)}% |`,
      '',
      `CPU per report, microseconds (the floor's verification alone: ${fmt(1e6 / floorOne)} on one thread):`,
      '',
      '| path | engine, all threads | of which its event loop | PostgreSQL | total |',
      '| --- | ---: | ---: | ---: | ---: |',
      ...(
        [
          ['in process', inProcessCpu],
          ['HTTP (the load generator, a worker thread, included)', httpCpu],
        ] as const
      ).map(([name, cpu]) => `| ${name} | ${fmt(cpu.engine)} | ${fmt(cpu.eventLoop)} | ${fmt(cpu.postgres)} | ${fmt(cpu.engine + cpu.postgres)} |`),
    ].join('\n');
    process.stdout.write(`${markdown}\n`);
    const out = path.join(projectRoot(), 'bench', 'results');
    mkdirSync(out, { recursive: true });
    writeFileSync(path.join(out, 'ingest-latest.md'), `${markdown}\n`);
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
