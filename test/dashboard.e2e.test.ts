import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Keypair, PublicKey } from '@solana/web3.js';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { DASHBOARD_DIR, serveDashboard } from '../src/dashboard/dashboard-assets';
import { startTestApi, type TestApi } from './support/api';
import { launchBrowser } from './support/browser';
import { canonicalReportBytes } from '../domain/metric-report';
import { signEd25519 } from '../src/commands/ed25519';
import { associatedTokenAddress, createAssociatedAccountIdempotent, execute, transferChecked } from '../src/chain/token';
import { loadTreasuryKey } from '../src/chain/treasury-key';
import { EPOCH_START, instant, registerSynqers, runAndCloseEpoch, type TestSynqer } from './support/network';
import { awaitJob } from './support/jobs';

/**
 * The dashboard end to end: a real engine on real PostgreSQL and the embedded chain, seeded with a small network
 * (three epochs, web2 then hybrid, settled, verified), driven in headless Chromium (test/support/browser.ts).
 * Screenshots of each page go to test-artifacts/dashboard/; with UPDATE_SCREENSHOTS=1 the discrepancies page also goes
 * to docs/screenshots/ (the other pages' come from the demo-seeded test, test/dashboard-demo.e2e.test.ts).
 */

const ROOT = path.resolve(__dirname, '..');
const ARTIFACTS = path.join(ROOT, 'test-artifacts', 'dashboard');
const DOCS = path.join(ROOT, 'docs', 'screenshots');

/** "1,234.567890 $SYNQ", written independently of the dashboard's own code. */
function synq(base: string): string {
  const value = BigInt(base);
  const whole = (value / 1_000_000n).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return `${whole}.${(value % 1_000_000n).toString().padStart(6, '0')} $SYNQ`;
}

function run(command: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${command} ${args.join(' ')} exited with ${code}:\n${output}`))));
  });
}

@Module({})
class NothingModule {}

describe('the dashboard at /dashboard, in headless Chromium', () => {
  let api: TestApi;
  let synqers: TestSynqer[];
  let chain: { mint: string; treasuryAccount: string };
  let browser: Browser;
  const contexts: BrowserContext[] = [];

  const screenshot = async (page: Page, name: string, docs = true) => {
    const file = path.join(ARTIFACTS, `${name}.png`);
    // From the top, so the sticky bar is where it belongs.
    await page.evaluate('window.scrollTo(0, 0)');
    await page.screenshot({ path: file, fullPage: true });
    // The committed screenshots (docs/screenshots) change only when asked: UPDATE_SCREENSHOTS=1.
    if (docs && process.env.UPDATE_SCREENSHOTS === '1') copyFileSync(file, path.join(DOCS, `${name}.png`));
  };

  /** A fresh tab (its own sessionStorage) that records the page's errors and every URL it asks for. */
  const open = async () => {
    const context = await browser.newContext({ viewport: { width: 1440, height: 900 }, deviceScaleFactor: 1 });
    contexts.push(context);
    const page = await context.newPage();
    page.setDefaultTimeout(15_000);
    const errors: string[] = [];
    const requested: string[] = [];
    page.on('pageerror', (error) => errors.push(`pageerror: ${error.message}`));
    page.on('console', (message) => {
      // A refused call is logged by the browser as a failed resource; those are listed, with their URL, in `refused`.
      if (message.type() === 'error' && !message.text().startsWith('Failed to load resource')) errors.push(`console: ${message.text()}`);
    });
    page.on('request', (request) => requested.push(request.url()));
    const refused: string[] = [];
    page.on('response', (response) => {
      if (response.status() >= 400) refused.push(`${response.status()} ${response.url().replace(api.engine.url, '')}`);
    });
    return { page, errors, requested, refused };
  };

  const signIn = async (page: Page, key: string, hash = '') => {
    await page.goto(`${api.engine.url}/dashboard/${hash}`);
    await page.locator('#api-key').fill(key);
    await page.getByRole('button', { name: 'Open dashboard' }).click();
  };

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    mkdirSync(DOCS, { recursive: true });
    // Standalone runs build the dashboard first (npm run build does it otherwise).
    if (!existsSync(path.join(DASHBOARD_DIR, 'index.html')))
      await run('npx', ['vite', 'build', 'src/dashboard/web', '--config', 'src/dashboard/web/vite.config.mts']);

    api = await startTestApi();
    synqers = await registerSynqers(api, 8);
    expect((await api.call('POST', '/treasury/fundings', api.keys.operator, { amount: '100000000000', reference: 'seed' })).status).toBe(201);
    const init = await api.call('POST', '/chain/init', api.keys.operator, {});
    expect(init.status).toBe(201);
    chain = init.body;
    expect((await api.call('POST', '/synqers/s1/stake/deposits', api.keys.operator, { depositId: 'd1', amount: '5000000000' })).status).toBe(201);

    // Epoch 1 in web2; s7 is up a third of the time, below the 50 % minimum.
    await runAndCloseEpoch(api, 1, '1000000000', synqers, { figures: (s) => (s.synqerId === 's7' ? { uptimeSeconds: 200 } : {}) });
    expect((await awaitJob(api, api.call('POST', '/epochs/1/settlement', api.keys.operator))).body).toMatchObject({ mode: 'web2', status: 'settled' });
    // From epoch 2 on, hybrid: the books decide, the chain pays.
    expect((await api.call('POST', '/settlement/mode', api.keys.operator, { mode: 'hybrid', reason: 'phase 2: payouts on chain' })).body.modeOfNextEpoch).toBe(
      'hybrid',
    );
    await runAndCloseEpoch(api, 2, '1500000000', synqers, {
      figures: (s) =>
        s.synqerId === 's6' ? { qosBps: 5_000 } : s.synqerId === 's7' ? { uptimeSeconds: 250, qosBps: 5_500 } : s.synqerId === 's0' ? { bytes: 9_000_000 } : {},
    });
    expect((await awaitJob(api, api.call('POST', '/epochs/2/settlement', api.keys.operator))).body).toMatchObject({ mode: 'hybrid', status: 'settled' });
    await runAndCloseEpoch(api, 3, '2000000000', synqers, {
      figures: (s, i) =>
        s.synqerId === 's7' ? { qosBps: 7_000, uptimeSeconds: 550 } : { bytes: 800_000 * (8 - i), sessions: 2 + ((i * 3) % 7), qosBps: 9_000 + i * 100 },
    });
    expect((await awaitJob(api, api.call('POST', '/epochs/3/settlement', api.keys.operator))).body).toMatchObject({ mode: 'hybrid', status: 'settled' });
    const verification = await awaitJob(api, api.call('POST', '/verification/runs', api.keys.operator));
    expect(verification.body).toMatchObject({ discrepancyCount: 0 });

    browser = await launchBrowser();
  }, 300_000);

  afterAll(async () => {
    for (const context of contexts) await context.close().catch(() => undefined);
    await browser?.close();
    await api?.close();
  });

  it('serves the built files without a key, while every data call needs one', async () => {
    const bare = await fetch(`${api.engine.url}/dashboard`, { redirect: 'manual' });
    expect(bare.status).toBe(301);
    expect(bare.headers.get('location')).toBe('/dashboard/');
    const index = await fetch(`${api.engine.url}/dashboard/`);
    expect(index.status).toBe(200);
    expect(index.headers.get('content-type')).toMatch(/text\/html/);
    expect(index.headers.get('content-security-policy')).toContain("default-src 'self'");
    const html = await index.text();
    const script = /src="(\/dashboard\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    expect(script).toBeDefined();
    const asset = await fetch(`${api.engine.url}${script}`);
    expect(asset.status).toBe(200);
    expect(asset.headers.get('cache-control')).toContain('immutable');
    // Bundled: no CDN, nothing fetched from elsewhere.
    expect(html).not.toMatch(/https?:\/\//);
    expect(readdirSync(path.join(DASHBOARD_DIR, 'assets')).some((file) => file.endsWith('.css'))).toBe(true);

    const missing = await fetch(`${api.engine.url}/dashboard/nope.js`);
    expect(missing.status).toBe(404);
    expect(missing.headers.get('content-type')).toContain('application/problem+json');
    expect((await api.call('GET', '/epochs/1/statistics', undefined)).status).toBe(401);
    expect((await api.call('GET', '/synqers/s1/epochs', api.keys.developer)).status).toBe(403);
  });

  it('answers 404 problem+json saying how to build it when the dashboard is not built', async () => {
    const app = await NestFactory.create<NestExpressApplication>(NothingModule, { logger: false });
    serveDashboard(app, path.join(tmpdir(), 'synq-no-dashboard-here'));
    await app.listen(0, '127.0.0.1');
    try {
      const { port } = app.getHttpServer().address() as { port: number };
      for (const url of ['/dashboard', '/dashboard/', '/dashboard/assets/index.js']) {
        const response = await fetch(`http://127.0.0.1:${port}${url}`);
        expect(response.status).toBe(404);
        expect(response.headers.get('content-type')).toContain('application/problem+json');
        expect(await response.json()).toMatchObject({ status: 404, detail: 'dashboard not built: run npm run build' });
      }
    } finally {
      await app.close();
    }
  });

  it('the read-only routes it adds: epoch statistics and a synqer per epoch', async () => {
    const statistics = (await api.call('GET', '/epochs/2/statistics', api.keys.auditor)).body;
    expect(statistics).toMatchObject({
      epoch: 2,
      calculated: true,
      reported: { synqers: 8, reports: 48 },
      eligibility: {
        synqers: 8,
        eligible: 6,
        ineligible: 2,
        reasons: [
          { reason: 'qos_below_minimum', count: 2 },
          { reason: 'uptime_below_minimum', count: 1 },
        ],
      },
      rewards: { count: 6, total: '1500000000' },
    });
    const histogram = statistics.rewards.histogram as { from: string; to: string; count: number }[];
    expect(histogram.reduce((sum, b) => sum + b.count, 0)).toBe(6);
    expect(histogram[0].from).toBe(statistics.rewards.min);
    expect(histogram.at(-1)!.to).toBe(statistics.rewards.max);

    const s7 = (await api.call('GET', '/synqers/s7/epochs', api.keys.auditor)).body;
    expect(s7.epochs.map((e: { epoch: number; eligible: boolean }) => [e.epoch, e.eligible])).toEqual([
      [1, false],
      [2, false],
      [3, true],
    ]);
    expect(s7.epochs[1]).toMatchObject({ uptimeBps: 4166, qosBps: 5500, reasons: ['uptime_below_minimum', 'qos_below_minimum'], reward: '0', leaf: null });
    const s1 = (await api.call('GET', '/synqers/s1/epochs', api.keys.operator)).body;
    const claim = (await api.call('GET', `/epochs/3/distribution/${synqers[1].wallet.publicKey.toBase58()}`, api.keys.auditor)).body;
    expect(s1.epochs[2]).toMatchObject({
      epoch: 3,
      calculated: true,
      eligible: true,
      activeStake: '5000000000',
      leaf: { index: claim.index, amount: claim.amount },
    });
    expect((await api.call('GET', '/synqers/nobody/epochs', api.keys.auditor)).status).toBe(404);
    expect((await api.call('GET', '/epochs/9/statistics', api.keys.auditor)).status).toBe(404);
    expect((await api.call('GET', '/synqers/s1/epochs?limit=0', api.keys.auditor)).status).toBe(422);
  });

  it('shows an auditor the overview, an epoch with a proof lookup, a synqer and the verification runs', async () => {
    const { page, errors, requested, refused } = await open();
    await page.goto(`${api.engine.url}/dashboard`);
    await signIn(page, api.keys.auditor);

    // Overview: the three epochs with their mode and settlement.
    await page.locator('#epochs-table').waitFor();
    expect(await page.locator('#epochs-table tbody tr').count()).toBe(3);
    for (const [epoch, mode] of [
      [1, 'web2'],
      [2, 'hybrid'],
      [3, 'hybrid'],
    ] as const) {
      const row = page.locator(`#epochs-table tr[data-epoch="${epoch}"]`);
      expect(await row.locator('[data-column="mode"]').innerText()).toBe(mode);
      expect(await row.locator('[data-column="settlement"]').innerText()).toBe('settled');
    }
    expect(await page.locator('#epochs-table tr[data-epoch="2"]').innerText()).toContain('confirmed');
    expect(await page.locator('canvas#chart-pool').count()).toBe(1);
    expect(await page.locator('#projections-table').innerText()).toContain('settlement');
    expect(await page.locator('.cards').innerText()).toContain('0 discrepancies');
    // The jobs that did it: three closes, three settlements and a verification run, all succeeded.
    expect(await page.locator('#jobs-table tbody tr').count()).toBe(7);
    expect(await page.locator('#jobs-table tr[data-state="succeeded"]').count()).toBe(7);
    expect(await page.locator('#jobs-table tr[data-kind="settlement"]').count()).toBe(3);
    await screenshot(page, 'overview', false);

    // Epoch 2: charts, the root, eligibility reasons, the settlement transactions, a proof looked up by wallet.
    await page.locator('#epochs-table a[href="#/epochs/2"]').click();
    await page.locator('#distribution-root').waitFor();
    const epoch = (await api.call('GET', '/epochs/2', api.keys.auditor)).body;
    expect(await page.locator('#distribution-root').innerText()).toBe(epoch.settlement.distribution.root);
    expect(await page.locator('canvas#chart-histogram').count()).toBe(1);
    expect(await page.locator('canvas#chart-eligibility').count()).toBe(1);
    expect(await page.locator('canvas#chart-top').count()).toBe(1);
    expect(await page.locator('#reasons-table tr[data-reason="qos_below_minimum"]').innerText()).toMatch(/qos below minimum\s+2/);
    const settlement = (await api.call('GET', '/epochs/2/settlement', api.keys.auditor)).body;
    expect(await page.locator('#batches-table tbody tr').count()).toBe(settlement.batches.length);
    expect(await page.locator('#batches-table').innerText()).toContain(settlement.batches[0].signature);

    const wallet = synqers[0].wallet.publicKey.toBase58();
    const claim = (await api.call('GET', `/epochs/2/distribution/${wallet}`, api.keys.auditor)).body;
    await page.locator('#wallet-input').fill(wallet);
    await page.getByRole('button', { name: 'Look up' }).click();
    await page.locator('#claim-amount').waitFor();
    expect(await page.locator('#claim-amount').innerText()).toBe(synq(claim.amount));
    expect(await page.locator('.claim').innerText()).toContain(claim.proof[0]);
    await screenshot(page, 'epoch', false);

    // A wallet without a claim says so.
    await page.locator('#wallet-input').fill(synqers[6].wallet.publicKey.toBase58());
    await page.getByRole('button', { name: 'Look up' }).click();
    await page.locator('#proof-result .notice').waitFor();
    expect(await page.locator('#proof-result').innerText()).toContain('has no claim in epoch 2');

    // A synqer: its metrics over the epochs as charts, its stake and payouts.
    await page.locator('#top-table a[href="#/synqers/s1"]').click();
    await page.locator('h1', { hasText: 'Synqer s1' }).waitFor();
    for (const chart of ['chart-bytes', 'chart-sessions', 'chart-quality', 'chart-rewards']) expect(await page.locator(`canvas#${chart}`).count()).toBe(1);
    expect(await page.locator('#synqer-epochs tbody tr').count()).toBe(3);
    expect(await page.locator('[data-section="stake"]').innerText()).toContain(synq('5000000000'));
    expect(await page.locator('#synqer-epochs tr[data-epoch="1"]').innerText()).toContain('web2');
    expect(await page.locator('#synqer-epochs tr[data-epoch="3"]').innerText()).toMatch(/hybrid\s+confirmed/);
    await screenshot(page, 'synqer', false);

    // An ineligible synqer's reasons, through the search box.
    await page.locator('#synqer-jump input').fill('s7');
    await page.locator('#synqer-jump input').press('Enter');
    await page.locator('h1', { hasText: 'Synqer s7' }).waitFor();
    expect(await page.locator('#synqer-epochs tr[data-epoch="2"]').innerText()).toContain('uptime below minimum, qos below minimum');
    await screenshot(page, 'synqer-ineligible', false);

    // Verification: the run found nothing.
    await page.getByRole('link', { name: 'Verification', exact: true }).click();
    await page.locator('#runs-table').waitFor();
    // One run after each hybrid settlement (epochs 2 and 3), and the test's own: none found anything.
    const rows = page.locator('#runs-table tbody tr');
    expect(await rows.count()).toBe(3);
    expect(await page.locator('#runs-table tbody tr[data-discrepancies="0"]').count()).toBe(3);
    const runRow = rows.first();
    expect(await page.locator('#breaker').innerText()).toContain('Settlement is running');
    expect(await page.locator('canvas#chart-runs').count()).toBe(1);
    await screenshot(page, 'verification', false);
    await runRow.locator('a').click();
    await page.locator('#no-discrepancies').waitFor();
    expect(await page.locator('[data-section="run"]').innerText()).toContain('payouts');
    await screenshot(page, 'verification-run', false);

    // The key is asked for once per tab: a reload keeps it.
    await page.reload();
    await page.locator('#no-discrepancies').waitFor();

    expect(errors).toEqual([]);
    expect(refused).toEqual([`404 /epochs/2/distribution/${synqers[6].wallet.publicKey.toBase58()}`]);
    expect(requested.filter((url) => !url.startsWith(api.engine.url))).toEqual([]);
  });

  it('tells a developer key plainly that the dashboard needs an operator or auditor key (403)', async () => {
    const { page } = await open();
    await signIn(page, api.keys.developer);
    const problem = page.locator('.problem[data-status="403"]');
    await problem.waitFor();
    const text = await problem.innerText();
    expect(text).toContain('403 Forbidden');
    expect(text).toContain('the developer role may not do this; allowed: operator');
    expect(text).toContain('The dashboard needs an operator or auditor key.');
    await screenshot(page, 'refused', false);

    // "Use another key" asks again; a wrong key is a 401.
    await page.getByRole('button', { name: 'Use another key' }).click();
    await page.locator('#api-key').fill('synq_not_a_key');
    await page.getByRole('button', { name: 'Open dashboard' }).click();
    await page.locator('.problem[data-status="401"]').waitFor();
  });

  it('shows an open epoch as open, with what its synqers have reported so far', async () => {
    const start = EPOCH_START + 3 * 3600;
    expect(
      (await api.call('POST', '/epochs', api.keys.operator, { epoch: 4, start: instant(start), end: instant(start + 3600), rewardPool: '1000000000' })).status,
    ).toBe(201);
    const content = {
      reportId: 'e4-s1-0',
      synqerId: 's1',
      epoch: 4,
      periodStart: instant(start),
      periodEnd: instant(start + 600),
      bytes: '4000000',
      sessions: 5,
      uptimeSeconds: 600,
      qosBps: 8_800,
    };
    const report = { ...content, signature: signEd25519(canonicalReportBytes(content), synqers[1].reportingKey) };
    expect((await api.call('POST', '/metric-reports', api.keys.ingest, { reports: [report] })).body).toMatchObject({ refused: 0 });

    const { page, errors } = await open();
    await signIn(page, api.keys.operator, '#/epochs/4');
    await page.locator('[data-section="rewards"]').waitFor();
    expect(await page.locator('[data-section="rewards"]').innerText()).toContain('The epoch is open');
    expect(await page.locator('[data-section="books"]').innerText()).toContain('1 report from 1 synqer');

    await page.goto(`${api.engine.url}/dashboard/#/`);
    await page.locator('#epochs-table tr[data-epoch="4"]').waitFor();
    const row = page.locator('#epochs-table tr[data-epoch="4"]');
    expect(await row.locator('[data-column="settlement"]').innerText()).toBe('epoch open');
    expect(await row.locator('[data-column="mode"]').innerText()).toBe('hybrid');

    await page.goto(`${api.engine.url}/dashboard/#/synqers/s1`);
    await page.locator('#synqer-epochs tr[data-epoch="4"]').waitFor();
    expect(await page.locator('#synqer-epochs tr[data-epoch="4"]').innerText()).toMatch(/4\.0 MB[\s\S]*88\.00 %[\s\S]*epoch open/);
    expect(errors).toEqual([]);
  });

  it("follows a settlement job's progress on the epoch page while it runs, then draws the epoch settled", async () => {
    // Epoch 4 (opened above) gets s1's other five periods, so that s1 earns a leaf, and is closed; its settlement's
    // transactions wait at a gate, then go slowly.
    const start = EPOCH_START + 3 * 3600;
    const reports = [1, 2, 3, 4, 5].map((k) => {
      const content = {
        reportId: `e4-s1-${k}`,
        synqerId: 's1',
        epoch: 4,
        periodStart: instant(start + k * 600),
        periodEnd: instant(start + k * 600 + 600),
        bytes: '4000000',
        sessions: 5,
        uptimeSeconds: 600,
        qosBps: 8_800,
      };
      return { ...content, signature: signEd25519(canonicalReportBytes(content), synqers[1].reportingKey) };
    });
    expect((await api.call('POST', '/metric-reports', api.keys.ingest, { reports })).body).toMatchObject({ refused: 0 });
    expect((await awaitJob(api, api.call('POST', '/epochs/4/close', api.keys.operator))).body).toMatchObject({ settlement: { eligible: 1 } });
    const chain = api.engine.chain;
    const send = chain.sendTransaction.bind(chain);
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    chain.sendTransaction = async (wire) => {
      await gate;
      await new Promise((resolve) => setTimeout(resolve, 300));
      return send(wire);
    };
    try {
      const started = await api.call('POST', '/epochs/4/settlement', api.keys.operator);
      expect(started.status).toBe(202);
      const { page, errors } = await open();
      await signIn(page, api.keys.auditor, '#/epochs/4');
      const job = page.locator(`#jobs-table tr[data-job="${started.body.id}"]`);
      await job.locator('.job-progress').waitFor();
      expect(await job.getAttribute('data-state')).toBe('running');
      expect(await job.innerText()).toMatch(/^0 \/ \d+ transactions$/m);
      release();
      // Polled until it ends; then the page draws itself again, with the transactions confirmed.
      await page.locator(`#jobs-table tr[data-job="${started.body.id}"][data-state="succeeded"]`).waitFor({ timeout: 60_000 });
      await page.locator('#batches-table').waitFor();
      expect(await page.locator('#batches-table').innerText()).toContain('confirmed');
      expect(errors).toEqual([]);
    } finally {
      release();
      chain.sendTransaction = send;
    }
  });

  it('shows a run that found discrepancies, each with both values, and settlement paused', async () => {
    // 5 $SYNQ leave the treasury in a transaction the books know nothing of.
    const treasuryKey = await loadTreasuryKey({ databaseUrl: undefined, eventStoreConnectionString: undefined, port: 0, dataDir: api.dataDir });
    const thief = Keypair.generate();
    const mint = new PublicKey(chain.mint);
    await execute(
      api.engine.chain,
      [
        createAssociatedAccountIdempotent(treasuryKey.publicKey, thief.publicKey, mint),
        transferChecked(new PublicKey(chain.treasuryAccount), mint, associatedTokenAddress(thief.publicKey, mint), treasuryKey.publicKey, 5_000_000n),
      ],
      [treasuryKey],
      'rogue transfer',
    );
    const run = (await awaitJob(api, api.call('POST', '/verification/runs', api.keys.operator))).body;
    expect(run.discrepancyCount).toBe(2);

    const { page, errors } = await open();
    await signIn(page, api.keys.auditor, '#/verification');
    await page.locator('#runs-table').waitFor();
    // Epochs 2, 3 and 4's settlements verified, then the test's two runs.
    expect(await page.locator('#runs-table tbody tr').count()).toBe(5);
    expect(await page.locator('#breaker').innerText()).toContain('Settlement is paused');
    await page.locator(`#runs-table tr[data-run="${run.runId}"] a`).click();
    await page.locator('#discrepancies-table').waitFor();
    const rogue = page.locator('#discrepancies-table tr[data-type="unrecorded_treasury_transfer"]');
    const cells = (row: typeof rogue) => row.locator('td').allInnerTexts();
    expect((await cells(rogue)).slice(4, 7)).toEqual(['0.000000', '5.000000', '+5.000000']);
    const mismatch = page.locator('#discrepancies-table tr[data-type="treasury_balance_mismatch"]');
    const expectedBalance = run.discrepancies.find((d: { type: string }) => d.type === 'treasury_balance_mismatch').expected;
    expect((await cells(mismatch)).slice(4, 7)).toEqual([
      synq(expectedBalance).replace(' $SYNQ', ''),
      synq((BigInt(expectedBalance) - 5_000_000n).toString()).replace(' $SYNQ', ''),
      '-5.000000',
    ]);
    expect(await page.locator('canvas#chart-types').count()).toBe(1);
    await screenshot(page, 'verification-discrepancies');
    expect(errors).toEqual([]);
  });
});
