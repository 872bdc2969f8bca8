import { execFile } from 'node:child_process';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { canonicalReportBytes } from '../domain/metric-report';
import { base58Encode } from '../domain/values';
import { generateReportingKeypair, publicKeyOf, signEd25519 } from '../src/commands/ed25519';
import { EpochClosePipeline } from '../src/epochs/epoch-close';
import { jitoVerify } from './support/jito-verify';
import { startTestApi, type TestApi } from './support/api';
import { expectMoneyInvariants } from './support/money-invariants';
import { awaitJob } from './support/jobs';

const run = promisify(execFile);

const wallet = (seed: number) => base58Encode(Uint8Array.from({ length: 32 }, (_, i) => (seed * 37 + i * 11 + 5) % 256));
const EPOCH_START = Date.parse('2026-11-01T00:00:00Z') / 1000;
const instant = (seconds: number) => new Date(seconds * 1000).toISOString().replace('.000Z', 'Z');

describe('epoch close, rewards and distribution over the REST API', () => {
  let api: TestApi;
  const keys = new Map<string, Uint8Array>();
  // s4 and s5 share a wallet; s3 is suspended before the close; s2 stakes.
  const synqers = ['s0', 's1', 's2', 's3', 's4', 's5'];
  const walletOf = (id: string) => wallet(id === 's5' ? 4 : Number(id.slice(1)));

  beforeAll(async () => {
    api = await startTestApi();
    for (const synqerId of synqers) {
      const keypair = generateReportingKeypair();
      keys.set(synqerId, keypair);
      const registered = await api.call('POST', '/synqers', api.keys.operator, {
        synqerId,
        payoutWallet: walletOf(synqerId),
        reportingKey: publicKeyOf(keypair),
        region: 'eu-west',
      });
      expect(registered.status).toBe(201);
    }
    expect((await api.call('POST', '/treasury/fundings', api.keys.operator, { amount: '10000000000', reference: 'seed' })).status).toBe(201);
    expect((await api.call('POST', '/synqers/s2/stake/deposits', api.keys.operator, { depositId: 'd1', amount: '5000000000' })).status).toBe(201);
  });
  afterAll(async () => {
    await expectMoneyInvariants(api);
    await api.close();
  });

  async function runEpoch(epoch: number, pool: string, reporting = synqers) {
    const start = EPOCH_START + (epoch - 1) * 3600;
    expect((await api.call('POST', '/epochs', api.keys.operator, { epoch, start: instant(start), end: instant(start + 3600), rewardPool: pool })).status).toBe(
      201,
    );
    const reports = reporting.flatMap((synqerId, i) =>
      Array.from({ length: 6 }, (_, k) => {
        const content = {
          reportId: `e${epoch}-${synqerId}-${k}`,
          synqerId,
          epoch,
          periodStart: instant(start + k * 600),
          periodEnd: instant(start + k * 600 + 600),
          bytes: String(1_000_000 * (i + 1) + k),
          sessions: 3 + i,
          uptimeSeconds: 600 - i * 10,
          qosBps: 9_000 + i * 100,
        };
        return { ...content, signature: signEd25519(canonicalReportBytes(content), keys.get(synqerId)!) };
      }),
    );
    const submitted = await api.call('POST', '/metric-reports', api.keys.ingest, { reports });
    expect(submitted.body).toMatchObject({ accepted: reports.length, refused: 0 });
  }

  it('closes an epoch: rewards sum to the pool, reasons are recorded, and every claim verifies as Jito would', async () => {
    await runEpoch(1, '1000000001');
    expect((await api.call('POST', '/synqers/s3/suspend', api.keys.operator, { reason: 'fraud review' })).status).toBe(201);
    const closed = await awaitJob(api, api.call('POST', '/epochs/1/close', api.keys.operator));
    expect(closed.status).toBe(200);
    expect(closed.body).toMatchObject({
      epoch: 1,
      status: 'closed',
      stage: 'distribution_built',
      settlement: { paid: '1000000001', synqers: 6, eligible: 5, ineligible: 1 },
    });

    const rewards = await api.call('GET', '/epochs/1/rewards?limit=10', api.keys.auditor);
    const results = rewards.body.results as {
      synqerId: string;
      reward: string;
      eligible: boolean;
      reasons: string[];
      payoutWallet: string;
      stakeBoostBps: number;
    }[];
    expect(results.reduce((sum, r) => sum + BigInt(r.reward), 0n)).toBe(1_000_000_001n);
    expect(results.find((r) => r.synqerId === 's3')).toMatchObject({ eligible: false, reasons: ['suspended'], reward: '0' });
    expect(results.find((r) => r.synqerId === 's2')!.stakeBoostBps).toBe(1_000);

    const distribution = await api.call('GET', '/epochs/1/distribution', api.keys.developer);
    expect(distribution.body).toMatchObject({
      format: 'jito-merkle-distributor/v1',
      total: '1000000001',
      leafCount: 4,
      maxNumNodes: 4,
      root: closed.body.settlement.distribution.root,
    });
    const owed = new Map<string, bigint>();
    for (const r of results) if (BigInt(r.reward) > 0n) owed.set(r.payoutWallet, (owed.get(r.payoutWallet) ?? 0n) + BigInt(r.reward));
    expect(owed.size).toBe(4);
    for (const [payee, amount] of owed) {
      const claim = await api.call('GET', `/epochs/1/distribution/${payee}`, api.keys.developer);
      expect(claim.body.amount).toBe(amount.toString());
      expect(jitoVerify(payee, amount, claim.body.proof, distribution.body.root)).toBe(true);
      expect(jitoVerify(payee, amount + 1n, claim.body.proof, distribution.body.root)).toBe(false);
    }
    const none = await api.call('GET', `/epochs/1/distribution/${wallet(3)}`, api.keys.developer);
    expect(none).toMatchObject({ status: 404, body: { problems: [{ field: 'wallet' }] } });
  });

  it('resumes a close that stopped between steps, recording each step once', async () => {
    await runEpoch(
      2,
      '500000000',
      synqers.filter((id) => id !== 's3'),
    );
    const pipeline = api.engine.app.get(EpochClosePipeline);
    const crash = new Error('crash after the rewards step');
    await expect(
      pipeline.close(2, { actor: 'test', correlationId: 'c' }, (stage) => {
        if (stage === 'rewards_calculated') throw crash;
      }),
    ).rejects.toBe(crash);
    expect((await api.call('GET', '/epochs/2', api.keys.operator)).body.stage).toBe('rewards_calculated');

    const resumed = await awaitJob(api, api.call('POST', '/epochs/2/close', api.keys.operator));
    expect(resumed.body).toMatchObject({ stage: 'distribution_built', settlement: { paid: '500000000' } });
    const types: string[] = [];
    for await (const event of api.engine.eventStore.readStream('epoch-2')) types.push(event.type);
    expect(types).toEqual(['EpochRewardsCalculated', 'EpochDistributionBuilt']);
  });

  it('returns the pool to the treasury when nobody can be paid', async () => {
    const before = (await api.call('GET', '/treasury', api.keys.operator)).body;
    expect(
      (
        await api.call('POST', '/epochs', api.keys.operator, {
          epoch: 3,
          start: instant(EPOCH_START + 7200),
          end: instant(EPOCH_START + 10800),
          rewardPool: '7',
        })
      ).status,
    ).toBe(201);
    const closed = await awaitJob(api, api.call('POST', '/epochs/3/close', api.keys.operator));
    expect(closed.body).toMatchObject({
      stage: 'distribution_built',
      settlement: { paid: '0', returnedToTreasury: '7', synqers: 0, distribution: { leafCount: 0 } },
    });
    expect((await api.call('GET', '/treasury', api.keys.operator)).body.unallocated).toBe(before.unallocated);
  });

  it('rebuilds the settlement projection into a new generation with the same books, and lists projections with their lag', async () => {
    const before = (await api.call('GET', '/epochs/1', api.keys.auditor)).body.settlement;
    const requested = await api.call('POST', '/projections/settlement/rebuild', api.keys.operator);
    expect(requested.status).toBe(202);
    expect((await api.call('POST', '/projections/nothing/rebuild', api.keys.operator)).status).toBe(404);
    expect((await api.call('POST', '/projections/settlement/rebuild', api.keys.auditor)).status).toBe(403);
    let listed: { name: string; generation: number; status: string; lagEvents: string; position: string }[] = [];
    for (let i = 0; i < 500; i++) {
      listed = (await api.call('GET', '/projections', api.keys.auditor)).body.projections;
      if (listed.find((p) => p.name === 'settlement')!.generation === 2 && listed.every((p) => p.lagEvents === '0')) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(listed.find((p) => p.name === 'settlement')).toMatchObject({
      generation: 2,
      status: 'running',
      lagEvents: '0',
      position: (await api.engine.eventStore.lastPosition()).toString(),
    });
    expect((await api.call('GET', '/epochs/1', api.keys.auditor)).body.settlement).toEqual(before);
  });

  it('lists epochs from the command line', async () => {
    const { stdout } = await run(process.execPath, [path.join(__dirname, '..', 'dist', 'scripts', 'epochs.js'), 'status', '--json'], {
      env: { ...process.env, DATABASE_URL: api.databaseUrl },
    });
    const listed = JSON.parse(stdout).epochs as { epoch: number; stage: string; paid: string | null }[];
    expect(listed.map((e) => [e.epoch, e.stage, e.paid])).toEqual([
      [1, 'distribution_built', '1000000001'],
      [2, 'distribution_built', '500000000'],
      [3, 'distribution_built', '0'],
    ]);
    await expect(
      run(process.execPath, [path.join(__dirname, '..', 'dist', 'scripts', 'epochs.js'), 'close'], { env: { ...process.env, DATABASE_URL: api.databaseUrl } }),
    ).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringMatching(/^epochs: the epoch must be a whole number/),
    });
  });
});
