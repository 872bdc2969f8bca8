import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

const synq = (args: string[], env: NodeJS.ProcessEnv = {}) =>
  spawnSync(process.execPath, [path.join(__dirname, '..', 'dist', 'scripts', 'synq.js'), ...args], {
    env: { ...process.env, ...env },
    encoding: 'utf8',
    timeout: 180_000,
  });

describe('the synq command and its demo', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'synq-demo-'));
    // Run as root, the embedded PostgreSQL runs as the postgres user, which must reach the data folder.
    chmodSync(dir, 0o755);
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('lists its commands with --help, explains each, and refuses an unknown one with exit code 2', () => {
    const help = synq(['--help']);
    expect(help.status).toBe(0);
    for (const command of ['start', 'migrate', 'keys', 'epochs', 'settle', 'verify', 'audit', 'projections', 'chain', 'demo'])
      expect(help.stdout).toMatch(new RegExp(`^  ${command} +\\S`, 'm'));
    expect(synq(['epochs', '--help']).stdout).toMatch(/^usage: synq epochs open N --start ISO --end ISO --pool BASE_UNITS \| close N/);
    const unknown = synq(['payout']);
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toBe('synq: unknown command "payout"; run synq --help\n');
    expect(synq(['demo', '--synqers', 'many']).status).toBe(2);
  });

  it('runs four epochs (web2, hybrid, hybrid, web3 with claims and a clawback), settles and verifies each, audits and rewinds, the same books for the same seed', () => {
    const runs = [1, 2].map(() =>
      synq(['demo', '--exit', '--port', '0', '--synqers', '30', '--developers', '3', '--seed', 'test-seed', '--data-dir', path.join(dir, 'demo')], {
        DATABASE_URL: '',
      }),
    );
    for (const run of runs) {
      expect(run.stderr).not.toMatch(/Error|failed/);
      expect(run.status).toBe(0);
      expect(run.stdout).toMatch(/^epoch 1 \(web2\): pool 50,000 SYNQ, paid 50,000 SYNQ to \d+ of 29 synqers; reports \d+ accepted, 6 refused$/m);
      expect(run.stdout).toMatch(/^epoch 2 \(hybrid\): /m);
      expect(run.stdout).toMatch(/^epoch 3 \(hybrid\): /m);
      expect(run.stdout).toMatch(/^epoch 4 \(web3\): /m);
      expect(run.stdout).toMatch(/^ {2}settled on chain: \d+ transactions, fees \d+ lamports, rent \d+ lamports$/m);
      // Most synqers claimed with their own keys, two sponsored, three did not: their part came back at the clawback.
      expect(run.stdout).toMatch(
        /^epoch 4 claims: (\d+) of (\d+) claimed \(2 sponsored\), [\d,.]+ SYNQ; 3 unclaimed, [\d,.]+ SYNQ clawed back to the treasury \(carried into those wallets' next leaves\)$/m,
      );
      expect(run.stdout.match(/chain matches the books/g)).toHaveLength(5);
      expect(run.stdout).toMatch(/^audit replay: epoch 1 match, epoch 2 match, epoch 3 match, epoch 4 match$/m);
      expect(run.stdout).toMatch(/^dashboard: http:\/\/127\.0\.0\.1:\d+\/dashboard \(auditor key: synq_/m);
    }
    // Run ids, ports and keys differ; the books do not.
    const books = (out: string) => out.split('\n').filter((line) => /^(epoch \d| {2}top earners| {2}root| {2}settled)/.test(line));
    expect(books(runs[0].stdout)).toHaveLength(17);
    expect(books(runs[1].stdout)).toEqual(books(runs[0].stdout));
  });
});
