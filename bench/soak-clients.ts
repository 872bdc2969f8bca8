/**
 * bench/soak's clients, each in a worker thread of the orchestrating process (never in the engine's process, whose
 * memory is what the soak measures): the load generator, signing and posting metric reports at a steady rate, and the
 * two read loops. Each is told the epochs as they open and close, and answers its counts when asked.
 */
import * as http from 'node:http';
import { parentPort, workerData } from 'node:worker_threads';
import { canonicalReportBytes } from '../domain/metric-report';
import { signEd25519 } from '../src/commands/ed25519';

export interface SoakSynqer {
  synqerId: string;
  keypair: Uint8Array;
  wallet: string;
}

export type ClientData =
  | { role: 'load'; url: string; key: string; synqers: SoakSynqer[]; rate: number; batch: number; inFlight: number }
  | { role: 'readers'; url: string; key: string; synqers: SoakSynqer[]; rate: number };

/** What the orchestrator tells a client: the epoch reports go to (with its bounds), and the epochs closed so far. */
export type ClientMessage =
  { type: 'epoch'; epoch: number; start: number; end: number } | { type: 'closed'; epochs: number[] } | { type: 'counts' } | { type: 'stop' };

/** Counts since the last time they were asked for. */
export interface ClientCounts {
  requests: number;
  /** By status code ('error' for a failed connection). */
  statuses: Record<string, number>;
  /** Answers other than 2xx, by status and route. */
  failures: Record<string, number>;
  /** Load generator only: reports sent, and the outcomes the engine answered. */
  reports?: { sent: number; accepted: number; duplicate: number; refused: number; refusedBy: Record<string, number> };
  /** Seconds these counts cover. */
  seconds: number;
  /** Request latencies, milliseconds. */
  p50: number;
  p99: number;
  max: number;
}

class Counter {
  since = performance.now();
  requests = 0;
  statuses: Record<string, number> = {};
  failures: Record<string, number> = {};
  latencies: number[] = [];
  reports = { sent: 0, accepted: 0, duplicate: 0, refused: 0, refusedBy: {} as Record<string, number> };

  take(withReports: boolean): ClientCounts {
    const sorted = Float64Array.from(this.latencies).sort();
    const at = (q: number) => (sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]);
    const now = performance.now();
    const counts: ClientCounts = {
      seconds: (now - this.since) / 1000,
      requests: this.requests,
      statuses: this.statuses,
      failures: this.failures,
      ...(withReports ? { reports: this.reports } : {}),
      p50: at(0.5),
      p99: at(0.99),
      max: sorted.length === 0 ? 0 : sorted[sorted.length - 1],
    };
    this.since = now;
    this.requests = 0;
    this.statuses = {};
    this.failures = {};
    this.latencies = [];
    this.reports = { sent: 0, accepted: 0, duplicate: 0, refused: 0, refusedBy: {} };
    return counts;
  }
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });

/** One request; resolves with the status and body (never rejects: a failed connection is status 0). */
function request(url: string, method: string, key: string | undefined, body?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    const headers: Record<string, string | number> = {};
    if (key) headers.authorization = `Bearer ${key}`;
    if (body !== undefined) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = Buffer.byteLength(body);
    }
    const req = http.request(url, { method, agent, headers }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
      response.on('error', () => resolve({ status: 0, body: '' }));
    });
    req.on('error', () => resolve({ status: 0, body: '' }));
    req.end(body);
  });
}

async function timed(counter: Counter, url: string, method: string, key: string | undefined, body?: string) {
  const started = performance.now();
  const answer = await request(url, method, key, body);
  counter.latencies.push(performance.now() - started);
  counter.requests++;
  const status = answer.status === 0 ? 'error' : String(answer.status);
  counter.statuses[status] = (counter.statuses[status] ?? 0) + 1;
  if (!status.startsWith('2')) {
    const route = new URL(url).pathname
      .replace(/\/[1-9A-HJ-NP-Za-km-z]{32,44}/g, '/{wallet}')
      .replace(/\/\d+/g, '/{n}')
      .replace(/soak-\d+/g, '{synqer}');
    // A refusal's problem+json detail says why (its numbers and wallets left out, so that alike ones count together).
    let detail = '';
    try {
      detail = String((JSON.parse(answer.body) as { detail?: unknown }).detail ?? '')
        .replace(/[1-9A-HJ-NP-Za-km-z]{32,44}/g, '{wallet}')
        .replace(/\d+/g, 'N');
    } catch {
      // not JSON: no detail
    }
    const label = `${status} ${method} ${route}${detail ? ` "${detail}"` : ''}`;
    counter.failures[label] = (counter.failures[label] ?? 0) + 1;
  }
  return answer;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const iso = (seconds: number) => new Date(seconds * 1000).toISOString().replace('.000Z', 'Z');

/**
 * Reports at `rate` per second in batches of `batch`, on a fixed schedule (a batch every batch/rate seconds); at most
 * `inFlight` batches wait for an answer at once, so an engine that falls behind lowers the rate actually sent
 * (the counts say so) instead of piling requests up.
 */
async function runLoad(data: Extract<ClientData, { role: 'load' }>, counter: Counter, state: ClientState): Promise<void> {
  const interval = (data.batch / data.rate) * 1000;
  let next = performance.now();
  let synqer = 0;
  let inFlight = 0;
  const sequence = new Map<number, number>();
  while (!state.stopped) {
    next += interval;
    const wait = next - performance.now();
    if (wait > 0) await sleep(wait);
    if (state.epoch === undefined || inFlight >= data.inFlight) continue;
    if (state.resetSequence) {
      sequence.clear();
      state.resetSequence = false;
    }
    const { epoch, start } = state.epoch;
    const reports = [];
    for (let i = 0; i < data.batch; i++) {
      const s = synqer;
      synqer = (synqer + 1) % data.synqers.length;
      // Consecutive one-minute periods per synqer inside the epoch.
      const n = sequence.get(s) ?? 0;
      sequence.set(s, n + 1);
      const { synqerId, keypair } = data.synqers[s];
      const content = {
        reportId: `e${epoch}-${synqerId}-${n}`,
        synqerId,
        epoch,
        periodStart: iso(start + n * 60),
        periodEnd: iso(start + n * 60 + 60),
        bytes: String(1_000_000 + ((n * 7919 + s * 104_729) % 50_000_000)),
        sessions: 1 + ((n + s) % 40),
        uptimeSeconds: 60,
        qosBps: 9_000 + ((n * 31 + s) % 1_000),
      };
      reports.push({ ...content, signature: signEd25519(canonicalReportBytes(content), keypair) });
    }
    inFlight++;
    counter.reports.sent += reports.length;
    void timed(counter, `${data.url}/metric-reports`, 'POST', data.key, JSON.stringify({ reports })).then(({ status, body }) => {
      inFlight--;
      if (status !== 200) return;
      const answer = JSON.parse(body) as {
        accepted: number;
        duplicate: number;
        refused: number;
        results: { status: string; problems?: { field: string; reason: string }[] }[];
      };
      counter.reports.accepted += answer.accepted;
      counter.reports.duplicate += answer.duplicate;
      counter.reports.refused += answer.refused;
      for (const result of answer.results) {
        if (result.status !== 'refused') continue;
        const reason = `${result.problems?.[0]?.field}: ${result.problems?.[0]?.reason.replace(/\d+/g, 'N')}`;
        counter.reports.refusedBy[reason] = (counter.reports.refusedBy[reason] ?? 0) + 1;
      }
    });
  }
  while (inFlight > 0) await sleep(10);
}

/**
 * Two read loops at `rate` requests per second each. The first is a monitor and the dashboard: health (with a key and
 * without), metrics, the epochs list, an epoch's statistics. The second is wallets and synqers: a closed epoch's
 * rewards page, a wallet's proof, a wallet's public claim (no key), a synqer's epochs and the synqer itself.
 */
async function runReaders(data: Extract<ClientData, { role: 'readers' }>, counter: Counter, state: ClientState): Promise<void> {
  const pick = <T>(items: readonly T[]) => items[Math.floor(Math.random() * items.length)];
  const monitor = (i: number): [string, string | undefined] => {
    const open = state.epoch?.epoch ?? 1;
    switch (i % 6) {
      case 0:
        return ['/health', data.key];
      case 1:
        return ['/health', undefined];
      case 2:
        return ['/metrics', data.key];
      case 3:
        return ['/epochs', data.key];
      case 4:
        return [`/epochs/${open}/statistics`, data.key];
      default:
        return [`/epochs/${state.closed.length > 0 ? pick(state.closed) : open}/statistics`, data.key];
    }
  };
  const wallets = (i: number): [string, string | undefined] => {
    const synqer = pick(data.synqers);
    const closed = state.closed.length > 0 ? pick(state.closed) : undefined;
    switch (closed === undefined ? 3 + (i % 2) : i % 5) {
      case 0:
        return [`/epochs/${closed}/rewards?limit=100&offset=${Math.floor(Math.random() * data.synqers.length)}`, data.key];
      case 1:
        return [`/epochs/${closed}/distribution/${synqer.wallet}`, data.key];
      case 2:
        return [`/epochs/${closed}/claims/${synqer.wallet}`, undefined];
      case 3:
        return [`/synqers/${synqer.synqerId}/epochs`, data.key];
      default:
        return [`/synqers/${synqer.synqerId}`, data.key];
    }
  };
  const loop = async (route: (i: number) => [string, string | undefined]) => {
    const interval = 1000 / data.rate;
    let next = performance.now();
    for (let i = 0; !state.stopped; i++) {
      next += interval;
      const wait = next - performance.now();
      if (wait > 0) await sleep(wait);
      else next = performance.now(); // behind: no burst to catch up
      const [path, key] = route(i);
      await timed(counter, `${data.url}${path}`, 'GET', key);
    }
  };
  await Promise.all([loop(monitor), loop(wallets)]);
}

interface ClientState {
  epoch: { epoch: number; start: number; end: number } | undefined;
  closed: number[];
  stopped: boolean;
  resetSequence: boolean;
}

if (parentPort && workerData) {
  const port = parentPort;
  const data = workerData as ClientData;
  const counter = new Counter();
  const state: ClientState = { epoch: undefined, closed: [], stopped: false, resetSequence: false };
  port.on('message', (message: ClientMessage) => {
    if (message.type === 'epoch') {
      state.epoch = { epoch: message.epoch, start: message.start, end: message.end };
      state.resetSequence = true;
    } else if (message.type === 'closed') state.closed = message.epochs;
    else if (message.type === 'counts') port.postMessage({ type: 'counts', counts: counter.take(data.role === 'load') });
    else if (message.type === 'stop') state.stopped = true;
  });
  const run = data.role === 'load' ? runLoad(data, counter, state) : runReaders(data, counter, state);
  void run.then(() => {
    agent.destroy();
    port.postMessage({ type: 'stopped', counts: counter.take(data.role === 'load') });
  });
}
