import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import * as path from 'node:path';
import { Pool } from 'pg';
import { decodeWire } from '../src/chain/chain-gateway';
import { jobResult } from '../src/cli/context';
import { JobService } from '../src/jobs/jobs';
import { SettleEpoch } from '../src/settlement/settle-epoch';
import { startTestApi, type TestApi } from './support/api';
import { awaitJob, type Job } from './support/jobs';
import { expectMoneyInvariants } from './support/money-invariants';
import { EPOCH_START, instant, registerSynqers, runAndCloseEpoch, type TestSynqer } from './support/network';

/**
 * Issue 17 item 8: long work is a job, not a held request. `POST /epochs/{n}/settlement`, `/close` and
 * `/verification/runs` answer 202 with a job (Location: /jobs/{id}) whose result is what the route answered before;
 * what can be refused at once is refused at once; one job per piece of work, whichever engine process is asked; a job
 * whose engine process was killed is interrupted, and asking again resumes it to the end.
 */

const SYNQ = 1_000_000n;
const CHILD = path.join(__dirname, '..', 'dist', 'test', 'support', 'job-engine-child.js');
const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

interface Child {
  process: ChildProcess;
  url: string;
  exited: Promise<void>;
}

/** The built engine in a process of its own on the test's database (test/support/job-engine-child.ts). */
async function startChild(env: Record<string, string>): Promise<Child> {
  const child = spawn(process.execPath, [CHILD], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the child engine did not start within 120 s:\n${output}`)), 120_000);
    child.stdout.on('data', () => {
      const match = /ready (http:\/\/\S+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`the child engine exited before it served:\n${output}`));
    });
  });
  return { process: child, url, exited };
}

async function callAt(url: string, method: string, route: string, key: string) {
  const response = await fetch(`${url}${route}`, { method, headers: { authorization: `Bearer ${key}` } });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined, headers: response.headers };
}

describe('long work is a job', () => {
  let api: TestApi;
  let synqers: TestSynqer[];
  let pool: Pool;
  const children: Child[] = [];
  const jobsOf = async (work: string) => Number((await pool.query(`SELECT count(*) FROM jobs WHERE work = $1`, [work])).rows[0].count);

  beforeAll(async () => {
    api = await startTestApi();
    pool = new Pool({ connectionString: api.databaseUrl, max: 2 });
    synqers = await registerSynqers(api, 120);
  });
  afterAll(async () => {
    for (const child of children) {
      if (child.process.exitCode === null && child.process.signalCode === null) {
        child.process.kill('SIGTERM');
        await child.exited;
      }
    }
    // The children owned the chain at the end: the books and the read model only.
    await expectMoneyInvariants({ store: api.engine.eventStore, pool });
    await pool.end();
    await api.close();
  });

  it('refuses at once, without a job, what can be decided at once', async () => {
    const operator = api.keys.operator;
    expect(await api.call('POST', '/epochs/1/settlement', operator)).toMatchObject({
      status: 404,
      contentType: expect.stringContaining('application/problem+json'),
      body: { problems: [{ field: 'epoch' }] },
    });
    expect(await api.call('POST', '/epochs/1/close', operator)).toMatchObject({ status: 404, body: { problems: [{ field: 'epoch' }] } });
    expect(await api.call('POST', '/epochs/abc/settlement', operator)).toMatchObject({ status: 422, body: { problems: [{ field: 'epoch' }] } });
    expect(await api.call('POST', '/epochs/0/close', operator)).toMatchObject({ status: 422, body: { problems: [{ field: 'epoch' }] } });
    // Nothing on chain to verify yet.
    expect(await api.call('POST', '/verification/runs', operator)).toMatchObject({ status: 409, body: { problems: [{ field: 'chain' }] } });
    for (const key of [api.keys.auditor, api.keys.ingest, api.keys.developer]) {
      expect((await api.call('POST', '/epochs/1/settlement', key)).status).toBe(403);
      expect((await api.call('POST', '/epochs/1/close', key)).status).toBe(403);
      expect((await api.call('POST', '/verification/runs', key)).status).toBe(403);
    }
    expect((await api.call('POST', '/treasury/fundings', operator, { amount: (100_000n * SYNQ).toString(), reference: 'seed' })).status).toBe(201);
    // On chain, enough for epochs 1 and 2, not for epoch 3.
    expect((await api.call('POST', '/chain/init', operator, { supply: (2_500n * SYNQ).toString() })).status).toBe(201);
    expect((await api.call('POST', '/settlement/mode', operator, { mode: 'hybrid', reason: 'jobs' })).status).toBe(200);
    const start = EPOCH_START;
    expect(
      (await api.call('POST', '/epochs', operator, { epoch: 1, start: instant(start), end: instant(start + 3600), rewardPool: (1_000n * SYNQ).toString() }))
        .status,
    ).toBe(201);
    expect(await api.call('POST', '/epochs/1/settlement', operator)).toMatchObject({
      status: 409,
      body: { problems: [{ field: 'epoch', reason: 'epoch 1 is not closed' }] },
    });
    expect((await api.call('GET', '/jobs', operator)).body).toEqual({ jobs: [] });
  });

  it('answers 202 with the job; the close job answers the epoch as POST /epochs/{n}/close did', async () => {
    // runAndCloseEpoch opens epoch 1 again (the same window and pool: a repeat), reports, and closes through the job.
    const closed = await runAndCloseEpoch(api, 1, (1_000n * SYNQ).toString(), synqers);
    const [job] = (await api.call('GET', '/jobs?kind=close', api.keys.auditor)).body.jobs as Job[];
    expect(job).toMatchObject({ kind: 'close', epoch: 1, state: 'succeeded', progress: { done: 3, total: 3, phase: 'distribution_built' }, runs: 1 });
    expect(job.id).toMatch(UUID_V4);
    expect(job).not.toHaveProperty('result');
    const epoch = await api.call('GET', '/epochs/1', api.keys.auditor);
    expect(closed).toEqual(epoch.body);
    const full = await api.call('GET', `/jobs/${job.id}`, api.keys.auditor);
    expect(JSON.stringify(full.body.result)).toBe(JSON.stringify(epoch.body));
    expect(full.body.links).toEqual({ self: `/jobs/${job.id}`, epoch: '/epochs/1' });

    // Closing again after it finished: a new job, done at once, with the same answer.
    const again = await api.call('POST', '/epochs/1/close', api.keys.operator);
    expect(again.status).toBe(202);
    expect(again.headers.get('location')).toBe(`/jobs/${again.body.id}`);
    expect(again.body.id).not.toBe(job.id);
    expect(await awaitJob(api, again)).toMatchObject({ status: 200, body: epoch.body });

    // The command line runs the same close through the same jobs, in its own process: visible to the engine.
    const cli = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [path.join(__dirname, '..', 'dist', 'scripts', 'epochs.js'), 'close', '1'], {
        env: { ...process.env, DATABASE_URL: api.databaseUrl, SYNQ_DATA_DIR: api.dataDir },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      child.on('exit', (code) => resolve({ code, stderr }));
    });
    expect(cli.code).toBe(0);
    const cliJob = /close job ([0-9a-f-]{36})\n/.exec(cli.stderr)?.[1];
    expect(cliJob).toMatch(UUID_V4);
    expect((await api.call('GET', `/jobs/${cliJob}`, api.keys.auditor)).body).toMatchObject({
      kind: 'close',
      epoch: 1,
      state: 'succeeded',
      actor: 'cli',
      result: epoch.body,
    });
  });

  it('runs one settlement job for 50 concurrent POSTs, shows its progress while it runs, and answers the settlement as the route did', async () => {
    // The job's transactions wait at a gate until every POST is answered, then go slowly enough to be watched.
    const chain = api.engine.chain;
    const send = chain.sendTransaction.bind(chain);
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    chain.sendTransaction = async (wire) => {
      await gate;
      await new Promise((resolve) => setTimeout(resolve, 150));
      return send(wire);
    };
    try {
      const answers = await Promise.all(Array.from({ length: 50 }, () => api.call('POST', '/epochs/1/settlement', api.keys.operator)));
      expect(answers.map((answer) => answer.status)).toEqual(Array(50).fill(202));
      const ids = new Set(answers.map((answer) => answer.body.id as string));
      expect(ids.size).toBe(1);
      const [id] = ids;
      expect(id).toMatch(UUID_V4);
      expect(new Set(answers.map((answer) => answer.headers.get('location')))).toEqual(new Set([`/jobs/${id}`]));
      expect(answers[0].body).toMatchObject({ kind: 'settlement', epoch: 1, links: { self: `/jobs/${id}`, settlement: '/epochs/1/settlement' } });
      expect(await jobsOf('settlement:1')).toBe(1);

      // While it waits at the gate: running, none of its transactions done yet.
      let held: Job | undefined;
      for (let i = 0; i < 400 && !held?.progress; i++) {
        held = (await api.call('GET', `/jobs/${id}`, api.keys.auditor)).body as Job;
        if (!held.progress) await new Promise((resolve) => setTimeout(resolve, 25));
      }
      expect(held).toMatchObject({ state: 'running', progress: { done: 0, phase: 'transactions' } });
      expect(held!.progress!.total).toBeGreaterThanOrEqual(5);
      expect((await api.call('GET', '/jobs?kind=settlement&state=running', api.keys.auditor)).body.jobs.map((j: Job) => j.id)).toEqual([id]);
      // Asked again while it runs: the same job.
      expect((await api.call('POST', '/epochs/1/settlement', api.keys.operator)).body.id).toBe(id);
      // So for another process's job service (what `synq settle 1` does): it follows the engine's job, by polling.
      const elsewhere = new JobService(pool, { role: 'cli' });
      const followed = await api.engine.app
        .get(SettleEpoch, { strict: false })
        .start(elsewhere, 1, { actor: 'cli', correlationId: 'jobs-test', commandId: 'jobs-test' });
      expect(followed.id).toBe(id);
      expect(elsewhere.runsHere(id)).toBe(false);
      const progressSeen: number[] = [];
      const following = jobResult<{ status: string }>(elsewhere, followed, (progress) => progressSeen.push(progress.done));

      open();
      const seen: Job[] = [];
      const settled = await awaitJob(api, answers[0], { key: api.keys.auditor, onPoll: (job) => seen.push(job) });
      expect(await following).toEqual(settled.body);
      expect(progressSeen.length).toBeGreaterThan(1);
      await elsewhere.stop();
      const total = held!.progress!.total;
      expect(seen.some((job) => job.state === 'running' && job.progress?.phase === 'transactions' && job.progress.done > 0 && job.progress.done < total)).toBe(
        true,
      );
      expect(settled.job).toMatchObject({ state: 'succeeded', runs: 1, progress: { phase: 'verifying' } });
      expect(settled.body).toMatchObject({ epoch: 1, mode: 'hybrid', status: 'settled', transactions: { planned: total, confirmed: total } });

      // The result is what the route answered before: the settlement, and the verification that followed it.
      const view = (await api.call('GET', '/epochs/1/settlement', api.keys.auditor)).body;
      const run = (await api.call('GET', `/verification/runs/${settled.body.verification.runId}`, api.keys.auditor)).body;
      expect(JSON.stringify(settled.body)).toBe(
        JSON.stringify({ ...view, verification: { runId: run.runId, discrepancyCount: run.discrepancyCount, byType: run.byType } }),
      );
      expect(run.discrepancyCount).toBe(0);
    } finally {
      open();
      chain.sendTransaction = send;
    }

    // After it finished: a new job that answers the settled epoch at once, nothing paid twice.
    const again = await awaitJob(api, api.call('POST', '/epochs/1/settlement', api.keys.operator));
    expect(again.status).toBe(200);
    expect(again.body.batches.every((batch: { attempts: number }) => batch.attempts === 1)).toBe(true);
    expect(await jobsOf('settlement:1')).toBe(2);
    const listed = (await api.call('GET', '/jobs?kind=settlement', api.keys.auditor)).body.jobs as Job[];
    expect(listed.map((job) => job.id)).toEqual([again.job!.id, expect.any(String)]);
    expect(listed.every((job) => job.state === 'succeeded' && !('result' in job))).toBe(true);
  });

  it('lists and shows jobs to operators and auditors only, by ids no one can guess', async () => {
    const [job] = (await api.call('GET', '/jobs?limit=1', api.keys.operator)).body.jobs as Job[];
    expect(job.id).toMatch(UUID_V4);
    expect((await api.call('GET', `/jobs/${job.id}`, api.keys.auditor)).status).toBe(200);
    expect((await api.call('GET', `/jobs/${job.id}`, api.keys.operator)).status).toBe(200);
    for (const key of [api.keys.ingest, api.keys.developer]) {
      expect((await api.call('GET', `/jobs/${job.id}`, key)).status).toBe(403);
      expect((await api.call('GET', '/jobs', key)).status).toBe(403);
    }
    expect((await api.call('GET', `/jobs/${job.id}`, undefined)).status).toBe(401);
    expect(await api.call('GET', `/jobs/${randomUUID()}`, api.keys.auditor)).toMatchObject({ status: 404, body: { problems: [{ field: 'id' }] } });
    expect(await api.call('GET', '/jobs/not-a-job', api.keys.auditor)).toMatchObject({ status: 422, body: { problems: [{ field: 'id' }] } });
    expect(await api.call('GET', '/jobs?state=done', api.keys.auditor)).toMatchObject({ status: 422, body: { problems: [{ field: 'state' }] } });
    expect(await api.call('GET', '/jobs?kind=payout', api.keys.auditor)).toMatchObject({ status: 422, body: { problems: [{ field: 'kind' }] } });
    expect(await api.call('GET', '/jobs?limit=0', api.keys.auditor)).toMatchObject({ status: 422, body: { problems: [{ field: 'limit' }] } });
    // The verification run's job links the run.
    const verified = await awaitJob(api, api.call('POST', '/verification/runs', api.keys.operator));
    expect(verified.job).toMatchObject({ kind: 'verification', state: 'succeeded', links: { run: `/verification/runs/${verified.body.runId}` } });
    expect(verified.job).not.toHaveProperty('epoch');
    expect(verified.body).toEqual((await api.call('GET', `/verification/runs/${verified.body.runId}`, api.keys.auditor)).body);
  });

  it('marks a job interrupted when its owner has not been heard of, on another host too', async () => {
    const id = randomUUID();
    await pool.query(
      `INSERT INTO jobs (id, kind, epoch, work, state, owner, heartbeat_at, actor, correlation_id)
       VALUES ($1, 'close', 9, 'close:9', 'running', 'engine:another-host:4242:abcd1234', now() - interval '1 hour', 'test', 'test')`,
      [id],
    );
    expect((await api.call('GET', `/jobs/${id}`, api.keys.auditor)).body).toMatchObject({
      state: 'interrupted',
      error: { status: 503, detail: expect.stringContaining('has not been heard of') },
    });
  });

  it('marks the job of a killed engine process interrupted at the next start, and resumes it when asked again', async () => {
    await runAndCloseEpoch(api, 2, (1_000n * SYNQ).toString(), synqers);
    // The child processes own the embedded chain from here on.
    await api.engine.chain.close();
    const env = { DATABASE_URL: api.databaseUrl, SYNQ_DATA_DIR: api.dataDir };
    const first = await startChild({ ...env, SEND_DELAY_MS: '300' });
    children.push(first);
    const started = await callAt(first.url, 'POST', '/epochs/2/settlement', api.keys.operator);
    expect(started.status).toBe(202);
    const id = started.body.id as string;
    let running: Job | undefined;
    for (let i = 0; i < 1200 && !(running?.progress && running.progress.phase === 'transactions' && running.progress.done >= 1); i++) {
      running = (await callAt(first.url, 'GET', `/jobs/${id}`, api.keys.auditor)).body as Job;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    expect(running).toMatchObject({ state: 'running', progress: { phase: 'transactions' } });
    expect(running!.progress!.done).toBeLessThan(running!.progress!.total);
    first.process.kill('SIGKILL');
    await first.exited;

    // A new engine process marks it interrupted as it starts (before anyone reads it).
    const second = await startChild(env);
    children.push(second);
    const row = (await pool.query(`SELECT state, error::text FROM jobs WHERE id = $1`, [id])).rows[0];
    expect(row.state).toBe('interrupted');
    expect(JSON.parse(row.error)).toMatchObject({ status: 503, detail: expect.stringContaining('ended before the work was done') });
    expect((await api.call('GET', `/jobs/${id}`, api.keys.auditor)).body).toMatchObject({ state: 'interrupted', runs: 1 });

    // Asked again: the same job runs once more, and resumes the settlement where the killed process left it.
    const resumed = await callAt(second.url, 'POST', '/epochs/2/settlement', api.keys.operator);
    expect(resumed).toMatchObject({ status: 202, body: { id, runs: 2 } });
    const done = await awaitJob({ engine: { url: second.url }, keys: api.keys }, resumed);
    expect(done.job).toMatchObject({ id, state: 'succeeded', runs: 2 });
    expect(done.body).toMatchObject({ epoch: 2, status: 'settled', verification: { discrepancyCount: 0 } });
    expect(done.body.transactions.confirmed).toBe(done.body.transactions.planned);
    // Every batch landed exactly once.
    const { rows } = await pool.query<{ wire: Buffer }>('SELECT wire FROM chain_transactions WHERE error IS NULL');
    const landed = new Map<string, number>();
    for (const { wire } of rows) {
      const memo = decodeWire(wire).instructions.at(-1)!.data.toString();
      if (memo.startsWith('synq:v1:epoch=2:')) landed.set(memo, (landed.get(memo) ?? 0) + 1);
    }
    expect(landed.size).toBe(done.body.transactions.planned);
    expect([...landed.values()].every((count) => count === 1)).toBe(true);
    expect(await jobsOf('settlement:2')).toBe(1);
  }, 300_000);

  it('carries the problem the route would have answered in a job that failed', async () => {
    await runAndCloseEpoch(api, 3, (5_000n * SYNQ).toString(), synqers);
    const second = children.at(-1)!;
    const started = await callAt(second.url, 'POST', '/epochs/3/settlement', api.keys.operator);
    expect(started.status).toBe(202);
    const failed = await awaitJob({ engine: { url: second.url }, keys: api.keys }, started);
    expect(failed.job).toMatchObject({ state: 'failed', runs: 1 });
    expect(failed.body).toEqual({
      type: 'about:blank',
      title: 'Conflict',
      status: 409,
      detail: expect.stringMatching(/^treasury: the treasury holds \d+ base units/),
      problems: [{ field: 'treasury', reason: expect.stringContaining('short; nothing was sent') }],
    });
    // A failed job is not resumed: asking again is a new job (which fails the same way until the treasury is funded).
    const again = await callAt(second.url, 'POST', '/epochs/3/settlement', api.keys.operator);
    expect(again.body.id).not.toBe(started.body.id);
    expect((await awaitJob({ engine: { url: second.url }, keys: api.keys }, again)).status).toBe(409);
  }, 120_000);
});
