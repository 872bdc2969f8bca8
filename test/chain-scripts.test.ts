import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { createTestDatabase, type TestDatabase } from './support/database';

const script = (name: string) => path.join(__dirname, '..', 'dist', 'scripts', `${name}.js`);

describe('chain, settle and verify on the command line (embedded chain)', () => {
  let db: TestDatabase;
  let dataDir: string;
  const run = (name: string, ...args: string[]) =>
    spawnSync(process.execPath, [script(name), ...args], { env: { ...process.env, DATABASE_URL: db.url, SYNQ_DATA_DIR: dataDir } });

  beforeAll(async () => {
    db = await createTestDatabase();
    dataDir = mkdtempSync(path.join(tmpdir(), 'synq-chain-cli-'));
  });
  afterAll(async () => {
    await db.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('chain init creates the accounts once, keeps the key 0600 in SYNQ_DATA_DIR and never prints it', () => {
    const first = run('chain', 'init', '--supply', '5000000', '--json');
    expect(first.status).toBe(0);
    const setup = JSON.parse(first.stdout.toString());
    expect(setup).toMatchObject({ created: true, decimals: 6, treasuryOpeningBalance: '5000000', cluster: expect.stringMatching(/^embedded:/) });
    const keyFile = path.join(dataDir, 'treasury-keypair.json');
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    const secret = JSON.parse(readFileSync(keyFile, 'utf8')) as number[];
    const printed = first.stdout.toString() + first.stderr.toString();
    expect(printed).not.toContain(secret.slice(0, 8).join(','));

    const again = run('chain', 'init');
    expect(again.status).toBe(0);
    expect(again.stdout.toString()).toMatch(/^already set up: cluster embedded:\S+, mint \S+/);
    const status = run('chain', 'status', '--json');
    expect(JSON.parse(status.stdout.toString())).toMatchObject({ mint: setup.mint, balances: { treasury: '5000000', mintSupply: '5000000', stakeVault: '0' } });
  });

  it('verify chain records a clean run and exits 0; usage mistakes exit 2 with one line', () => {
    const verified = run('verify', 'chain', '--json');
    expect(verified.status).toBe(0);
    expect(JSON.parse(verified.stdout.toString())).toMatchObject({ discrepancyCount: 0, runId: expect.any(String) });
    // The next run starts from the checkpoints the first left; --full verifies everything again.
    expect(JSON.parse(run('verify', 'chain', '--json').stdout.toString())).toMatchObject({ coverage: { scope: 'incremental' } });
    const full = run('verify', 'chain', '--full');
    expect(full.status).toBe(0);
    expect(full.stdout.toString()).toMatch(/^verification run \S+ on \S+: 0 discrepancies/);
    expect(full.stdout.toString()).not.toContain('incremental');
    expect(run('verify', 'chain', '--full=yes').status).toBe(2);
    const wrong = run('verify', 'everything');
    expect(wrong.status).toBe(2);
    expect(wrong.stderr.toString()).toBe('verify: unknown subcommand "everything" (expected chain); see synq verify --help\n');
    const settle = run('settle', 'x');
    expect(settle.status).toBe(2);
    expect(run('chain', 'init', '--supply', '-5').status).toBe(2);
  });

  it('settle refuses an epoch that does not exist with one readable line and exit code 1', () => {
    const result = run('settle', '7');
    expect(result.status).toBe(1);
    expect(result.stderr.toString()).toBe('settle: epoch: epoch 7 does not exist\n');
  });
});
