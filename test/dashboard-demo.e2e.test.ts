import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { DASHBOARD_DIR } from '../src/dashboard/dashboard-assets';
import type { ClaimsSummary, EpochSummary } from '../src/demo/run-demo';
import { launchBrowser } from './support/browser';

interface DemoSummary {
  keys: { auditor: string };
  epochs: EpochSummary[];
  claims: ClaimsSummary;
  url: string;
}

/** `synq demo --json` in a process of its own (as a user runs it), serving until the test ends. */
function startDemo(dataDir: string): Promise<{ child: ChildProcess; demo: DemoSummary }> {
  const child = spawn(
    process.execPath,
    [
      path.join(ROOT, 'dist', 'scripts', 'synq.js'),
      'demo',
      '--json',
      '--port',
      '0',
      '--synqers',
      '60',
      '--developers',
      '4',
      '--seed',
      'dashboard',
      '--data-dir',
      dataDir,
    ],
    {
      env: { ...process.env, DATABASE_URL: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    child.stderr!.on('data', (chunk) => (err += chunk));
    child.stdout!.on('data', (chunk) => {
      out += chunk;
      const end = out.indexOf('serving until Ctrl-C');
      if (end >= 0) resolve({ child, demo: JSON.parse(out.slice(0, end)) as DemoSummary });
    });
    child.on('exit', (code) => reject(new Error(`synq demo exited with ${code}: ${err}`)));
  });
}

/**
 * The dashboard as a new user meets it: on an engine seeded by `synq demo` (a smaller network than the default), in
 * headless Chromium (test/support/browser.ts). The committed screenshots of each page (docs/screenshots) come from
 * here, refreshed with UPDATE_SCREENSHOTS=1; every run leaves them in test-artifacts/dashboard/.
 */
const ROOT = path.resolve(__dirname, '..');
const ARTIFACTS = path.join(ROOT, 'test-artifacts', 'dashboard');
const DOCS = path.join(ROOT, 'docs', 'screenshots');

describe('the dashboard on a demo-seeded engine, in headless Chromium', () => {
  let demo: DemoSummary;
  let child: ChildProcess;
  let browser: Browser;
  let dataDir: string;

  const screenshot = async (page: Page, name: string) => {
    const file = path.join(ARTIFACTS, `demo-${name}.png`);
    await page.evaluate('window.scrollTo(0, 0)');
    await page.screenshot({ path: file, fullPage: true });
    if (process.env.UPDATE_SCREENSHOTS === '1') copyFileSync(file, path.join(DOCS, `${name}.png`));
  };

  beforeAll(async () => {
    if (!existsSync(path.join(DASHBOARD_DIR, 'index.html'))) throw new Error('the dashboard is not built: npm run build (npm test builds it)');
    mkdirSync(ARTIFACTS, { recursive: true });
    dataDir = mkdtempSync(path.join(tmpdir(), 'synq-demo-ui-'));
    // Run as root, the embedded PostgreSQL runs as the postgres user, which must reach the data folder.
    chmodSync(dataDir, 0o755);
    ({ child, demo } = await startDemo(path.join(dataDir, 'demo')));
    browser = await launchBrowser();
    // The demo settles four epochs and has 57 wallets claim on chain: a minute or more on a loaded 2-core machine.
  }, 240_000);
  afterAll(async () => {
    await browser?.close();
    if (child && child.exitCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('shows the four epochs the demo settled, an epoch, the claim progress of the web3 epoch, a synqer and the verification runs', async () => {
    const page = await (await browser.newContext({ viewport: { width: 1440, height: 900 } })).newPage();
    page.setDefaultTimeout(15_000);
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto(`${demo.url}/dashboard/`);
    await page.locator('#api-key').fill(demo.keys.auditor);
    await page.getByRole('button', { name: 'Open dashboard' }).click();

    await page.locator('#epochs-table').waitFor();
    expect(await page.locator('#epochs-table tbody tr').count()).toBe(4);
    for (const summary of demo.epochs) {
      const row = page.locator(`#epochs-table tr[data-epoch="${summary.epoch}"]`);
      expect(await row.locator('[data-column="mode"]').innerText()).toBe(summary.mode);
      expect(await row.locator('[data-column="settlement"]').innerText()).toBe('settled');
    }
    await screenshot(page, 'overview');

    await page.locator('#epochs-table a[href="#/epochs/2"]').click();
    await page.locator('#distribution-root').waitFor();
    expect(await page.locator('#distribution-root').innerText()).toBe(demo.epochs[1].root);
    expect(await page.locator('#batches-table tbody tr').count()).toBe(demo.epochs[1].settlementTransactions);
    await screenshot(page, 'epoch');

    // The web3 epoch: claimed and unclaimed, count and amount, and what the clawback brought back.
    await page.goto(`${demo.url}/dashboard/#/epochs/${demo.claims.epoch}`);
    await page.locator('#claim-progress').waitFor();
    const progress = page.locator('#claim-progress');
    expect(await progress.getAttribute('data-claimed')).toBe(String(demo.claims.claimed));
    expect(await progress.getAttribute('data-unclaimed')).toBe(String(demo.claims.unclaimed));
    const text = await progress.innerText();
    expect(text).toContain(`${demo.claims.claimed} of ${demo.claims.leaves} leaves`);
    expect(text).toContain(`${demo.claims.sponsored} sponsored`);
    expect(text).toContain('back to the treasury');
    expect(text).toContain(demo.claims.distributor);
    await screenshot(page, 'claims');

    const top = demo.epochs[1].topEarners[0].synqerId;
    await page.locator(`#top-table a[href="#/synqers/${top}"]`).click();
    await page.locator('h1', { hasText: `Synqer ${top}` }).waitFor();
    expect(await page.locator('#synqer-epochs tbody tr').count()).toBe(4);
    await screenshot(page, 'synqer');

    await page.getByRole('link', { name: 'Verification', exact: true }).click();
    await page.locator('#runs-table').waitFor();
    // One run per epoch and one after the web3 epoch's clawback, none with a discrepancy.
    expect(await page.locator('#runs-table tbody tr[data-discrepancies="0"]').count()).toBe(5);
    await screenshot(page, 'verification');
    expect(errors).toEqual([]);
  });
});
