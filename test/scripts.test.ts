import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { canonicalReportBytes } from '../domain/metric-report';
import { authenticate } from '../src/auth/api-keys';
import { verifyEd25519 } from '../src/commands/ed25519';
import { createTestDatabase, type TestDatabase } from './support/database';

const script = (name: string) => path.join(__dirname, '..', 'dist', 'scripts', `${name}.js`);

describe('command-line scripts', () => {
  let db: TestDatabase;
  let dir: string;
  beforeAll(async () => {
    db = await createTestDatabase();
    dir = mkdtempSync(path.join(tmpdir(), 'synq-scripts-'));
  });
  afterAll(async () => {
    await db.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('keys: creates a key shown once that then authenticates with its role', async () => {
    const output = execFileSync(process.execPath, [script('keys'), 'create', '--role', 'auditor'], {
      env: { ...process.env, DATABASE_URL: db.url },
    }).toString();
    const key = output.trim().split('\n').pop()!;
    expect(output).toMatch(/^created auditor key [a-z0-9]{12}; this is the only time it is shown:/);
    expect(await authenticate(db.pool, key)).toMatchObject({ role: 'auditor', developerId: null });
    const { rows } = await db.pool.query('SELECT secret_sha256 FROM api_keys');
    // The secret is everything after the id; base64url may put '_' in it.
    const secret = key.split('_').slice(2).join('_');
    expect(secret.length).toBeGreaterThan(20);
    expect(rows[0].secret_sha256.toString('utf8')).not.toContain(secret);
  });

  it('keys: a developer key acts for the developer named', async () => {
    const output = execFileSync(process.execPath, [script('keys'), 'create', '--role', 'developer', '--developer', 'dev-1'], {
      env: { ...process.env, DATABASE_URL: db.url },
    }).toString();
    expect(await authenticate(db.pool, output.trim().split('\n').pop()!)).toMatchObject({ role: 'developer', developerId: 'dev-1' });
  });

  it('keys: refuses a bad role with one readable line and exit code 2', () => {
    const result = spawnSync(process.execPath, [script('keys'), 'create', '--role', 'admin'], { env: { ...process.env, DATABASE_URL: db.url } });
    expect(result.status).toBe(2);
    expect(result.stderr.toString()).toBe('keys: --role must be one of operator, ingest, developer, auditor, got "admin"; see synq keys --help\n');
  });

  it('sign-report: makes a reporting key and signs a report the engine can verify', () => {
    const keyFile = path.join(dir, 'reporting-key.json');
    const created = execFileSync(process.execPath, [script('sign-report'), '--new-key', keyFile]).toString();
    const publicKey = /reporting key (\w+) written/.exec(created)![1];
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);

    const report = {
      reportId: 'r-1',
      synqerId: 'alpha',
      epoch: 1,
      periodStart: '2026-11-01T00:00:00Z',
      periodEnd: '2026-11-01T00:05:00Z',
      bytes: '5',
      sessions: 1,
      uptimeSeconds: 300,
      qosBps: 9000,
    };
    const signed = JSON.parse(execFileSync(process.execPath, [script('sign-report'), '--key', keyFile], { input: JSON.stringify(report) }).toString());
    const { signature, ...content } = signed;
    expect(content).toEqual(report);
    expect(verifyEd25519(canonicalReportBytes(content), signature, publicKey)).toBe(true);

    const bad = spawnSync(process.execPath, [script('sign-report'), '--key', keyFile], { input: JSON.stringify({ ...report, qosBps: 20000 }) });
    expect(bad.status).toBe(2);
    expect(bad.stderr.toString()).toBe('refused: qosBps: must be a whole number from 0 to 10000\n');
  });
});
