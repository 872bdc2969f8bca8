/**
 * bench/soak: does the engine's memory stay flat under a steady load? The engine runs alone in a child process
 * (bench/soak-engine.ts, with --expose-gc); this process starts embedded PostgreSQL, sets the network up over HTTP
 * (a policy, the treasury, synqers with real ed25519 reporting keys, epoch 1), then runs, each in a worker thread
 * (bench/soak-clients.ts), a load generator posting signed reports at a steady rate and two read loops, and opens and
 * closes an epoch every few minutes so that closes, rewards, distributions and proofs run too. Once a minute (and at
 * the start and the end) the engine collects its garbage fully and reports heap used, heap total, external, array
 * buffers and RSS. The verdict is the slope of heap used over the second half; if it is not flat, heap snapshots of
 * the engine at two points are diffed by constructor and by what holds the new objects.
 *
 * `npm run bench:soak` (30 minutes); `npm run bench:soak -- --minutes 10` or BENCH_SOAK_MINUTES=10 for a shorter run.
 * Other flags: --rate (reports/s, 400), --batch (reports per POST, 40), --synqers (1000), --epoch-minutes (3),
 * --read-rate (requests/s of each read loop, 20), --threshold (MB/min, 0.5), --snapshots auto|always|never (auto:
 * the first snapshot halfway when the first half already grows, the second at the end when the second half does),
 * --keep-snapshots. Prints Markdown and writes bench/results/soak-latest.md.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { base58Encode } from '../domain/values';
import { generateReportingKeypair, publicKeyOf } from '../src/commands/ed25519';
import { startEmbeddedPostgres } from '../src/database/embedded-postgres';
import { projectRoot } from '../src/project-root';
import { diffMarkdown, diffSnapshots } from './heap-snapshot';
import type { ClientCounts, ClientData, ClientMessage, SoakSynqer } from './soak-clients';
import type { EngineAnswer, EngineRequest, MemorySample } from './soak-engine';

export interface SoakOptions {
  minutes: number;
  rate: number;
  batch: number;
  synqers: number;
  epochMinutes: number;
  readRate: number;
  /** MB per minute of heap growth under which the heap counts as flat. */
  threshold: number;
  snapshots: 'auto' | 'always' | 'never';
  keepSnapshots: boolean;
}

/** Flags first, then BENCH_SOAK_MINUTES, then the defaults. */
export function soakOptions(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): SoakOptions {
  const flag = (name: string): string | undefined => {
    const at = argv.indexOf(`--${name}`);
    if (at >= 0) return argv[at + 1];
    return argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  };
  const number = (name: string, fallback: number, min: number): number => {
    const text = flag(name) ?? (name === 'minutes' ? env.BENCH_SOAK_MINUTES : undefined);
    if (text === undefined) return fallback;
    const value = Number(text);
    if (!Number.isFinite(value) || value < min) throw new Error(`--${name} must be a number of at least ${min}, got "${text}"`);
    return value;
  };
  const snapshots = flag('snapshots') ?? 'auto';
  if (snapshots !== 'auto' && snapshots !== 'always' && snapshots !== 'never') throw new Error(`--snapshots must be auto, always or never`);
  return {
    minutes: Math.round(number('minutes', 30, 2)),
    rate: number('rate', 400, 1),
    batch: Math.round(number('batch', 40, 1)),
    synqers: Math.round(number('synqers', 1_000, 1)),
    epochMinutes: Math.round(number('epoch-minutes', 3, 1)),
    readRate: number('read-rate', 20, 0.1),
    threshold: number('threshold', 0.5, 0),
    snapshots,
    keepSnapshots: argv.includes('--keep-snapshots'),
  };
}

/**
 * Least-squares slope of `y` over `x`, with one intercept per phase (`phase[i]`): a pattern that repeats with the
 * epochs (reports of the open epoch held until its close) then does not read as growth, only a drift across cycles
 * does. With one phase it is the plain slope. NaN when no phase has two points.
 */
export function phaseAdjustedSlope(x: readonly number[], y: readonly number[], phase: readonly number[]): number {
  const groups = new Map<number, number[]>();
  phase.forEach((p, i) => groups.set(p, [...(groups.get(p) ?? []), i]));
  let covariance = 0;
  let variance = 0;
  for (const members of groups.values()) {
    const mx = members.reduce((s, i) => s + x[i], 0) / members.length;
    const my = members.reduce((s, i) => s + y[i], 0) / members.length;
    for (const i of members) {
      covariance += (x[i] - mx) * (y[i] - my);
      variance += (x[i] - mx) ** 2;
    }
  }
  return variance === 0 ? NaN : covariance / variance;
}

interface Row {
  label: string;
  /** A heap snapshot was written right after this sample (the writer's memory stays in RSS afterwards). */
  snapshot?: boolean;
  minute: number;
  sample: MemorySample;
  load: number;
  reports?: ClientCounts;
  reads?: ClientCounts;
  note: string;
}

const MB = 2 ** 20;
const mb = (bytes: number) => (bytes / MB).toFixed(1);
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const log = (line: string) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const iso = (seconds: number) => new Date(seconds * 1000).toISOString().replace('.000Z', 'Z');
// Synthetic epoch windows start here, in the past: reports may not end after the engine's clock.
const FIRST_EPOCH_START = Date.UTC(2000, 0, 1) / 1000;

/** A distinct, valid wallet per synqer. */
function walletOf(i: number): string {
  const bytes = new Uint8Array(32);
  let x = (i + 1) * 2654435761;
  for (let j = 0; j < 32; j++) {
    x = (x * 1103515245 + 12345) % 2147483648;
    bytes[j] = x & 0xff;
  }
  bytes[0] = i & 0xff;
  bytes[1] = (i >> 8) & 0xff;
  bytes[2] = (i >> 16) & 0xff;
  return base58Encode(bytes);
}

type WithoutId<R> = R extends unknown ? Omit<R, 'id'> : never;

/** The engine child: requests by id, answers as they come. */
class EngineProcess {
  private nextId = 0;
  private readonly waiting = new Map<number, (answer: EngineAnswer) => void>();
  readonly ready: Promise<Extract<EngineAnswer, { type: 'ready' }>>;

  constructor(readonly child: ChildProcess) {
    this.ready = new Promise((resolve, reject) => {
      child.on('message', (answer: EngineAnswer) => {
        if (answer.type === 'ready') resolve(answer);
        else if (answer.type === 'failed') {
          log(`the engine failed: ${answer.error}`);
          reject(new Error(`the engine failed: ${answer.error}`));
        } else this.waiting.get(answer.id)?.(answer);
      });
      child.once('exit', (code) => reject(new Error(`the engine exited (${code}) before it was ready`)));
    });
  }

  async sample(): Promise<MemorySample> {
    return ((await this.ask({ type: 'sample' })) as Extract<EngineAnswer, { type: 'sample' }>).sample;
  }

  async snapshot(file: string): Promise<{ file: string; seconds: number }> {
    return (await this.ask({ type: 'snapshot', file })) as Extract<EngineAnswer, { type: 'snapshot' }>;
  }

  async stop(): Promise<void> {
    await this.ask({ type: 'stop' });
  }

  private ask(request: WithoutId<EngineRequest>): Promise<EngineAnswer> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.waiting.set(id, (answer) => {
        this.waiting.delete(id);
        resolve(answer);
      });
      this.child.send({ ...request, id });
    });
  }
}

class Client {
  private readonly worker: Worker;
  private pending: ((counts: ClientCounts) => void) | undefined;
  readonly stopped: Promise<ClientCounts>;

  constructor(data: ClientData) {
    this.worker = new Worker(path.join(__dirname, 'soak-clients.js'), { workerData: data });
    this.stopped = new Promise((resolve, reject) => {
      this.worker.on('message', (message: { type: 'counts' | 'stopped'; counts: ClientCounts }) => {
        if (message.type === 'stopped') resolve(message.counts);
        else this.pending?.(message.counts);
      });
      this.worker.once('error', reject);
    });
  }

  tell(message: ClientMessage): void {
    this.worker.postMessage(message);
  }

  counts(): Promise<ClientCounts> {
    return new Promise((resolve) => {
      this.pending = resolve;
      this.tell({ type: 'counts' });
    });
  }

  async stop(): Promise<ClientCounts> {
    this.tell({ type: 'stop' });
    const counts = await this.stopped;
    await this.worker.terminate();
    return counts;
  }
}

async function main(): Promise<void> {
  const options = soakOptions(process.argv.slice(2));
  const loadAtStart = readFileSync('/proc/loadavg', 'utf8').trim();
  const dataDir = mkdtempSync(path.join(tmpdir(), 'synq-bench-soak-'));
  chmodSync(dataDir, 0o755);
  const snapshotDir = mkdtempSync(path.join(tmpdir(), 'synq-soak-snapshots-'));
  const db = await startEmbeddedPostgres({ dataDir, databaseName: 'soak' });
  const child = fork(path.join(__dirname, 'soak-engine.js'), [], {
    execArgv: ['--expose-gc'],
    env: { ...process.env, SOAK_DATABASE_URL: db.url, SOAK_DATA_DIR: dataDir },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const engine = new EngineProcess(child);
  const clients: Client[] = [];
  let engineStopped = false;
  try {
    const { url, operator, ingest } = await engine.ready;
    log(`engine pid ${child.pid} at ${url}`);
    const call = async (method: string, route: string, body?: unknown) => {
      const response = await fetch(`${url}${route}`, {
        method,
        headers: { authorization: `Bearer ${operator}`, 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      if (response.status >= 300) throw new Error(`${method} ${route}: ${response.status} ${await response.text()}`);
      return response.json() as Promise<Record<string, unknown>>;
    };

    // Every synqer with a few reports can be eligible: closes then build distributions whose proofs the readers ask for.
    const { inForce } = (await call('GET', '/policy')) as { inForce: Record<string, unknown> };
    const parameters: Record<string, unknown> = { ...inForce, minUptimeBps: 0, minQosBps: 0 };
    delete parameters.version;
    delete parameters.effectiveFromEpoch;
    await call('POST', '/policy', parameters);
    await call('POST', '/treasury/fundings', { amount: '1000000000000000', reference: 'soak' });
    log(`registering ${options.synqers} synqers`);
    const synqers: SoakSynqer[] = Array.from({ length: options.synqers }, (_, i) => ({
      synqerId: `soak-${i}`,
      keypair: generateReportingKeypair(),
      wallet: walletOf(i),
    }));
    const queue = [...synqers.entries()];
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        for (let next = queue.shift(); next; next = queue.shift()) {
          const [i, synqer] = next;
          await call('POST', '/synqers', {
            synqerId: synqer.synqerId,
            payoutWallet: synqer.wallet,
            reportingKey: publicKeyOf(synqer.keypair),
            region: ['eu-west', 'us-east', 'ap-south'][i % 3],
          });
        }
      }),
    );

    // Epoch n covers a window in the past (a report may not end after the engine's clock) of one-minute periods: four
    // times what each synqer reports in an epoch at the asked rate, so that an epoch kept open longer (a slow close
    // delays the next turn) still holds its reports, and each synqer's uptime is a quarter of the window: eligible,
    // with a reward and a leaf in the distribution the readers ask proofs of. (A window of years made every
    // synqer's uptime 0 bps, so every reward 0 and every distribution empty.)
    const perSynqer = Math.ceil((options.rate * options.epochMinutes * 60) / options.synqers);
    const width = Math.max(60, 4 * perSynqer) * 60;
    const epochsNeeded = Math.ceil(options.minutes / options.epochMinutes) + 2;
    if (FIRST_EPOCH_START + epochsNeeded * width > Date.now() / 1000) throw new Error('the epochs would end after now: fewer minutes or a lower rate');
    const window = (epoch: number) => ({ start: FIRST_EPOCH_START + (epoch - 1) * width, end: FIRST_EPOCH_START + epoch * width });
    const openEpoch = async (epoch: number) => {
      const { start, end } = window(epoch);
      await call('POST', '/epochs', { epoch, start: iso(start), end: iso(end), rewardPool: '1000000000' });
      for (const client of clients) client.tell({ type: 'epoch', epoch, start, end });
    };

    const load = new Client({ role: 'load', url, key: ingest, synqers, rate: options.rate, batch: options.batch, inFlight: 4 });
    const readers = new Client({ role: 'readers', url, key: operator, synqers, rate: options.readRate });
    clients.push(load, readers);

    const rows: Row[] = [];
    const sample = async (label: string, minute: number, note = '', counts = true) => {
      const [reports, reads] = counts ? await Promise.all([load.counts(), readers.counts()]) : [undefined, undefined];
      const memory = await engine.sample();
      const row: Row = { label, minute, sample: memory, load: loadavg()[0], reports, reads, note };
      rows.push(row);
      log(
        `${label}: heap used ${mb(memory.heapUsed)} MB, total ${mb(memory.heapTotal)}, external ${mb(memory.external)}, ` +
          `array buffers ${mb(memory.arrayBuffers)}, RSS ${mb(memory.rss)}` +
          (reports?.reports ? `; ${fmt(reports.reports.accepted / reports.seconds)} reports/s accepted` : '') +
          (note ? `; ${note}` : ''),
      );
      return row;
    };

    await sample('start', 0, 'set up, before any load', false);
    let epoch = 1;
    const closes: { epoch: number; seconds: number }[] = [];
    const closed: number[] = [];
    await openEpoch(epoch);
    const started = Date.now();
    const half = options.minutes / 2;
    // The first snapshot's minute: a whole number of epoch cycles before the last, so both are taken at the same point of a cycle.
    const firstSnapshotMinute = options.minutes - options.epochMinutes * Math.ceil(half / options.epochMinutes);
    const snapshotFiles: string[] = [];
    let snapshotNote = '';
    // As in production: the next epoch opens, reports move to it, then the previous one closes. In the background, so
    // that a slow close (a loaded machine) does not move the samples; the next turn waits for it.
    let turning: Promise<void> | undefined;
    let turnNote = '';
    const turnEpoch = async () => {
      const previous = epoch;
      await openEpoch(previous + 1);
      epoch = previous + 1;
      await sleep(2_000);
      const closeStarted = Date.now();
      await call('POST', `/epochs/${previous}/close`);
      const seconds = (Date.now() - closeStarted) / 1000;
      closes.push({ epoch: previous, seconds });
      closed.push(previous);
      readers.tell({ type: 'closed', epochs: [...closed] });
      turnNote = `epoch ${previous} closed (${seconds.toFixed(1)} s)`;
      log(turnNote);
    };
    for (let minute = 1; minute <= options.minutes; minute++) {
      await sleep(Math.max(0, started + minute * 60_000 - Date.now()));
      const row = await sample(`minute ${minute}`, minute);
      row.note = [turnNote, turning ? `epoch ${epoch - 1} closing` : ''].filter(Boolean).join('; ');
      turnNote = '';
      if (minute % options.epochMinutes === 0 && minute < options.minutes && !turning) {
        turning = turnEpoch().finally(() => (turning = undefined));
        row.note = [row.note, `epoch ${epoch + 1} opens, ${epoch} closes`].filter(Boolean).join('; ');
      }
      // The first snapshot is taken when the first half already grows (or always): a snapshot's writer leaves its
      // memory in RSS, so a run whose heap is flat keeps its RSS figures clean.
      const wantFirst =
        minute === Math.max(1, firstSnapshotMinute) &&
        (options.snapshots === 'always' || (options.snapshots === 'auto' && !(slopeOver(rows, options, 1, minute) < options.threshold)));
      const slope = minute === options.minutes ? verdictOf(rows, options).slope : NaN;
      const wantSecond = minute === options.minutes && snapshotFiles.length === 1 && (options.snapshots === 'always' || !(slope < options.threshold));
      if (wantFirst || wantSecond) {
        const taken = await engine.snapshot(path.join(snapshotDir, `engine-minute-${minute}.heapsnapshot`));
        snapshotFiles.push(taken.file);
        row.snapshot = true;
        row.note = [row.note, `heap snapshot after the sample (${taken.seconds.toFixed(1)} s, engine paused)`].filter(Boolean).join('; ');
        log(`heap snapshot at minute ${minute}: ${taken.file} (${taken.seconds.toFixed(1)} s)`);
      }
    }
    await turning;
    const loadCounts = await load.stop();
    const readCounts = await readers.stop();
    clients.length = 0;
    await sleep(3_000);
    const end = await sample('end', options.minutes, `load stopped 3 s before${turnNote ? `; ${turnNote}` : ''}`, false);
    end.reports = loadCounts;
    end.reads = readCounts;

    let diff = '';
    if (snapshotFiles.length === 2) {
      log('diffing the heap snapshots');
      diff = diffMarkdown(diffSnapshots(snapshotFiles[0], snapshotFiles[1]));
      snapshotNote =
        `Heap snapshots of the engine at minutes ${firstSnapshotMinute} and ${options.minutes}` +
        (options.keepSnapshots ? ` (kept: ${snapshotFiles.join(', ')})` : '') +
        ':';
    } else if (options.snapshots !== 'never' && !(verdictOf(rows, options).slope < options.threshold)) {
      snapshotNote = `The first half did not grow, so no heap snapshot was taken at minute ${firstSnapshotMinute}: run again with --snapshots always for a diff.`;
    }
    await engine.stop();
    engineStopped = true;
    const markdown = report(options, rows, closes, loadAtStart, readFileSync('/proc/loadavg', 'utf8').trim(), diff, snapshotNote);
    process.stdout.write(`${markdown}\n`);
    const out = path.join(projectRoot(), 'bench', 'results');
    mkdirSync(out, { recursive: true });
    writeFileSync(path.join(out, 'soak-latest.md'), `${markdown}\n`);
  } finally {
    for (const client of clients) await client.stop().catch(() => undefined);
    if (!engineStopped) child.kill('SIGTERM');
    await new Promise((resolve) => (child.exitCode !== null ? resolve(undefined) : child.once('exit', resolve)));
    await db.stop();
    rmSync(dataDir, { recursive: true, force: true });
    if (!options.keepSnapshots) rmSync(snapshotDir, { recursive: true, force: true });
  }
}

/** The slope of heap used after GC from minute `from` to minute `to`, MB per minute (one intercept per epoch phase; NaN if too few). */
function slopeOver(rows: readonly Row[], options: SoakOptions, from: number, to: number): number {
  const within = rows.filter((row) => row.label.startsWith('minute') && row.minute >= from && row.minute <= to);
  return phaseAdjustedSlope(
    within.map((row) => row.minute),
    within.map((row) => row.sample.heapUsed / MB),
    within.map((row) => row.minute % options.epochMinutes),
  );
}

/** The slope of heap used after GC over the second half of the run, MB per minute (one intercept per epoch phase). */
function verdictOf(rows: readonly Row[], options: SoakOptions) {
  const second = rows.filter((row) => row.label.startsWith('minute') && row.minute >= options.minutes / 2);
  const x = second.map((row) => row.minute);
  const slopeOf = (pick: (s: MemorySample) => number, phases: boolean) =>
    phaseAdjustedSlope(
      x,
      second.map((row) => pick(row.sample) / MB),
      second.map((row) => (phases ? row.minute % options.epochMinutes : 0)),
    );
  return {
    from: x[0],
    to: x[x.length - 1],
    slope: slopeOf((s) => s.heapUsed, true),
    plain: slopeOf((s) => s.heapUsed, false),
    // RSS keeps what the first heap snapshot's writer took: its slope is read from the samples after it.
    rss: (() => {
      const first = rows.find((row) => row.snapshot)?.minute ?? -Infinity;
      const after = second.filter((row) => row.minute > first);
      return phaseAdjustedSlope(
        after.map((row) => row.minute),
        after.map((row) => row.sample.rss / MB),
        after.map((row) => row.minute % options.epochMinutes),
      );
    })(),
    external: slopeOf((s) => s.external, true),
  };
}

function report(
  options: SoakOptions,
  rows: readonly Row[],
  closes: readonly { epoch: number; seconds: number }[],
  loadAtStart: string,
  loadAtEnd: string,
  diff: string,
  snapshotNote: string,
): string {
  const cpu = /model name\s*:\s*(.+)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? 'unknown CPU';
  const verdict = verdictOf(rows, options);
  const flat = verdict.slope < options.threshold;
  const minuteRows = rows.filter((row) => row.reports?.reports && row.label.startsWith('minute'));
  const accepted = minuteRows.reduce((s, row) => s + row.reports!.reports!.accepted, 0);
  const sent = minuteRows.reduce((s, row) => s + row.reports!.reports!.sent, 0);
  const reads = minuteRows.reduce((s, row) => s + row.reads!.requests, 0);
  const seconds = minuteRows.reduce((s, row) => s + row.reports!.seconds, 0) || 1;
  const statuses: Record<string, number> = {};
  for (const row of rows)
    for (const counts of [row.reports, row.reads])
      for (const [status, n] of Object.entries(counts?.statuses ?? {})) statuses[status] = (statuses[status] ?? 0) + n;
  const failures: Record<string, number> = {};
  for (const row of rows)
    for (const counts of [row.reports, row.reads]) for (const [key, n] of Object.entries(counts?.failures ?? {})) failures[key] = (failures[key] ?? 0) + n;
  const refusedBy: Record<string, number> = {};
  for (const row of rows) for (const [reason, n] of Object.entries(row.reports?.reports?.refusedBy ?? {})) refusedBy[reason] = (refusedBy[reason] ?? 0) + n;
  const slope = (value: number) => (Number.isNaN(value) ? 'n/a' : `${value >= 0 ? '+' : ''}${value.toFixed(2)} MB/min`);
  const perSecond = (counts: ClientCounts | undefined, pick: (c: ClientCounts) => number) => (counts ? fmt(pick(counts) / counts.seconds) : '');
  return [
    `Run ${new Date().toISOString()} on ${cpu}, ${cpus().length} cores, ${Math.round(totalmem() / 2 ** 30)} GiB; Node ${process.version}; ` +
      `embedded PostgreSQL. /proc/loadavg at the start: ${loadAtStart}; at the end: ${loadAtEnd} (other work shares the 2 cores).`,
    `Command: \`npm run bench:soak -- --minutes ${options.minutes}\`` +
      (options.rate !== 400 || options.synqers !== 1000 || options.epochMinutes !== 3 || options.readRate !== 20 || options.batch !== 40
        ? ` --rate ${options.rate} --batch ${options.batch} --synqers ${options.synqers} --epoch-minutes ${options.epochMinutes} --read-rate ${options.readRate}`
        : ''),
    '',
    `Load: ${fmt(options.rate)} signed reports/s asked (batches of ${options.batch} from ${fmt(options.synqers)} synqers with their own ed25519 keys), ` +
      `${fmt(sent / seconds)}/s sent and ${fmt(accepted / seconds)}/s accepted on average; ` +
      `two read loops at ${options.readRate} requests/s each (${fmt(reads / seconds)}/s answered); ` +
      `an epoch every ${options.epochMinutes} minutes (${closes.length} closes, ${closes.map((c) => c.seconds.toFixed(1)).join(', ')} s). ` +
      `Answers by status: ${Object.entries(statuses)
        .sort()
        .map(([s, n]) => `${s}: ${fmt(n)}`)
        .join(', ')}` +
      (Object.keys(failures).length > 0
        ? ` (${Object.entries(failures)
            .sort((a, b) => b[1] - a[1])
            .map(([key, n]) => `${key}: ${fmt(n)}`)
            .join(', ')})`
        : '') +
      '.' +
      (Object.keys(refusedBy).length > 0
        ? ` Reports refused: ${Object.entries(refusedBy)
            .map(([reason, n]) => `${fmt(n)} (${reason})`)
            .join('; ')}.`
        : ''),
    '',
    'Memory of the engine process after two full garbage collections (MB); rates over the minute before:',
    '',
    '| sample | heap used | heap total | external | array buffers | RSS | reports accepted/s | reads/s | read p99 ms | engine CPU s | load (1 min) | note |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
    ...rows.map(
      (row) =>
        `| ${row.label} | ${mb(row.sample.heapUsed)} | ${mb(row.sample.heapTotal)} | ${mb(row.sample.external)} | ${mb(row.sample.arrayBuffers)} | ${mb(row.sample.rss)} | ` +
        `${row.label === 'end' ? '' : perSecond(row.reports, (c) => c.reports!.accepted)} | ${row.label === 'end' ? '' : perSecond(row.reads, (c) => c.requests)} | ` +
        `${row.reads && row.label !== 'end' ? row.reads.p99.toFixed(1) : ''} | ${row.sample.cpuSeconds.toFixed(1)} | ${row.load.toFixed(2)} | ${row.note} |`,
    ),
    '',
    `**Verdict: ${flat ? 'flat' : 'growing'}.** Heap used after GC over the second half (minutes ${verdict.from} to ${verdict.to}) moves ${slope(verdict.slope)} ` +
      `(a least-squares slope with one intercept per point of the ${options.epochMinutes}-minute epoch cycle, so the open epoch's reports held until its ` +
      `close do not read as growth; the plain slope is ${slope(verdict.plain)}); flat means under ${options.threshold} MB/min. ` +
      `RSS moves ${slope(verdict.rss)}${rows.some((row) => row.snapshot && row.minute < options.minutes) ? " (from the samples after the first heap snapshot, whose writer's memory stays in RSS)" : ''}, external ${slope(verdict.external)}.`,
    ...(snapshotNote ? ['', snapshotNote] : []),
    ...(diff ? ['', diff] : []),
  ].join('\n');
}

if (require.main === module) {
  main().catch((error: unknown) => {
    process.stderr.write(`bench/soak failed: ${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  });
}
