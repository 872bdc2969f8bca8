import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { parseCommandLine, UsageError } from '../src/cli/arguments';
import { COMMANDS, type CommandName } from '../src/cli/commands';
import { progress } from '../src/cli/progress';

/**
 * The command line's promises (src/cli/commands.ts, src/cli/arguments.ts): every command explains itself with --help
 * without doing any work, whether synq runs it or npm runs its script; a usage or configuration mistake is one line on
 * stderr and exit code 2. The commands run from dist/ (built by `npx tsc -p tsconfig.build.json`).
 */
const ROOT = path.join(__dirname, '..');
const SYNQ = path.join(ROOT, 'dist', 'scripts', 'synq.js');
const NAMES = Object.keys(COMMANDS) as CommandName[];
/** Where npm's alias runs each command: its script itself, not synq. */
const scriptOf = (name: CommandName) => path.join(ROOT, 'dist', 'scripts', `${COMMANDS[name].module}.js`);

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

describe('the command line', () => {
  let cwd: string;
  // Doing any work would fail or leave a trace: the database is unreachable, and the demo (which starts its own
  // embedded PostgreSQL whatever DATABASE_URL says) would make its folder in the empty working directory.
  const run = (file: string, args: string[], env: NodeJS.ProcessEnv = {}) =>
    new Promise<Run>((resolve, reject) => {
      const child = spawn(process.execPath, [file, ...args], {
        cwd,
        env: { ...process.env, DATABASE_URL: 'postgres://x@127.0.0.1:1/x', SYNQ_DATA_DIR: path.join(cwd, 'data'), LOG_LEVEL: '', ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      child.on('error', reject);
      child.on('close', (status) => {
        clearTimeout(timer);
        resolve({ status, stdout, stderr });
      });
    });
  const synq = (args: string[], env?: NodeJS.ProcessEnv) => run(SYNQ, args, env);

  beforeAll(() => {
    cwd = mkdtempSync(path.join(tmpdir(), 'synq-cli-'));
  });
  afterEach(() => {
    expect(readdirSync(cwd)).toEqual([]);
  });
  afterAll(() => {
    rmSync(cwd, { recursive: true, force: true });
  });

  it.each(NAMES)('%s: --help and -h print its usage and options and exit 0 without doing any work, through synq and through its own script', async (name) => {
    // Help comes first, whatever else is on the line.
    const runs = await Promise.all([
      synq([name, '--help']),
      synq([name, 'extra', '--no-such-option', '-h']),
      run(scriptOf(name), ['--help']),
      run(scriptOf(name), ['-h', '--no-such-option']),
    ]);
    for (const result of runs) {
      expect(result).toMatchObject({ status: 0, stderr: '' });
      const [first, about] = result.stdout.split('\n');
      expect(first).toBe(`usage: ${COMMANDS[name].usage}`);
      expect(about).toBe(COMMANDS[name].about);
      for (const option of COMMANDS[name].options)
        expect(result.stdout).toMatch(new RegExp(`^ {2}${option.name}${'value' in option ? ` ${option.value}` : ''} +\\S`, 'm'));
      expect(result.stdout).toMatch(/^ {2}-h, --help +show this and exit$/m);
    }
  });

  it('synq --help lists every command', async () => {
    const result = await synq(['--help']);
    expect(result.status).toBe(0);
    for (const name of NAMES) expect(result.stdout).toContain(`  ${name.padEnd(Math.max(...NAMES.map((n) => n.length)))}  ${COMMANDS[name].about}\n`);
    expect(await synq(['payout'])).toMatchObject({ status: 2, stderr: 'synq: unknown command "payout"; run synq --help\n' });
  });

  it.each(NAMES)('%s: an unknown option exits 2 with one line naming it, through synq and through its own script', async (name) => {
    for (const result of await Promise.all([synq([name, '--no-such-option']), run(scriptOf(name), ['--no-such-option'])])) {
      expect(result).toMatchObject({ status: 2, stdout: '', stderr: `${name}: unknown option --no-such-option; see synq ${name} --help\n` });
    }
  });

  it('other usage mistakes: a missing value, a bad number, a stray word, an option of another subcommand', async () => {
    const cases: [string[], string][] = [
      [['audit', '--epoch'], 'audit: --epoch needs a value (--epoch N); see synq audit --help\n'],
      [['audit', '--epoch', 'x'], 'audit: --epoch must be a whole number from 1 to 1000000000, got "x"; see synq audit --help\n'],
      [['demo', '--synqers', 'many'], 'demo: --synqers must be a whole number from 10 to 100000, got "many"; see synq demo --help\n'],
      [['settle', '-1'], 'settle: the epoch must be a whole number from 1 to 1000000000, got "-1"; see synq settle --help\n'],
      [['settle', '1', '--json=yes'], 'settle: --json takes no value; see synq settle --help\n'],
      [['epochs', 'close', '2', '--pool', '5'], 'epochs: --pool goes with open only; see synq epochs --help\n'],
      [['epochs', 'open', '2', '--start', '2026-11-02T00:00:00Z'], 'epochs: open needs --end, --pool; see synq epochs --help\n'],
      [['verify', 'chain', 'now'], 'verify: unexpected argument "now"; see synq verify --help\n'],
      [['projections', 'rewind', 'settlement'], 'projections: rewind needs one of --to-position P and --to-epoch N; see synq projections --help\n'],
      [['chain', 'burn'], 'chain: unknown subcommand "burn" (expected init, status or clock); see synq chain --help\n'],
      [['chain', 'clock'], 'chain: --advance must be a whole number from 1 to 315360000; see synq chain --help\n'],
      [['chain', 'clock', '--advance', '0'], 'chain: --advance must be a whole number from 1 to 315360000, got "0"; see synq chain --help\n'],
      [['chain', 'status', '--advance', '5'], 'chain: --advance goes with clock only; see synq chain --help\n'],
      [['clawback'], 'clawback: --epoch must be a whole number from 1 to 1000000000; see synq clawback --help\n'],
      [['clawback', '--epoch', '2', 'now'], 'clawback: unexpected argument "now"; see synq clawback --help\n'],
      [['keys', 'create', '--role', 'admin'], 'keys: --role must be one of operator, ingest, developer, auditor, got "admin"; see synq keys --help\n'],
      [['sign-report', '--key', 'a', '--new-key', 'b'], 'sign-report: give one of --new-key FILE and --key FILE; see synq sign-report --help\n'],
      [
        ['start', '--log-level', 'loud'],
        'start: --log-level must be one of fatal, error, warn, info, debug, trace, silent, got "loud"; see synq start --help\n',
      ],
    ];
    const results = await Promise.all(cases.map(([args]) => synq(args)));
    results.forEach((result, i) => expect({ args: cases[i][0], ...result }).toEqual({ args: cases[i][0], status: 2, stdout: '', stderr: cases[i][1] }));
  });

  it("keys create: a developer key needs a valid developer id (the domain's), and only a developer key takes one", async () => {
    const [bad, missing, other] = await Promise.all([
      synq(['keys', 'create', '--role', 'developer', '--developer', 'bad id!']),
      synq(['keys', 'create', '--role', 'developer']),
      synq(['keys', 'create', '--role', 'auditor', '--developer', 'dev-1']),
    ]);
    expect(bad).toMatchObject({ status: 2, stdout: '' });
    expect(bad.stderr).toMatch(
      /^keys: --developer: must be 1 to 64 letters, digits, "_", ".", ":" or "-", starting with a letter or digit; see synq keys --help\n$/,
    );
    expect(missing).toMatchObject({ status: 2, stderr: 'keys: --role developer needs --developer ID; see synq keys --help\n' });
    expect(other).toMatchObject({ status: 2, stderr: 'keys: --developer goes with --role developer only, not auditor; see synq keys --help\n' });
  });

  it('a bad LOG_LEVEL is a configuration mistake: one line, exit code 2', async () => {
    const line = 'configuration error: LOG_LEVEL: must be one of fatal, error, warn, info, debug, trace, silent, got "nonsense"\n';
    const runs = await Promise.all([
      synq(['start'], { LOG_LEVEL: 'nonsense' }),
      synq(['demo', '--exit'], { LOG_LEVEL: 'nonsense' }),
      synq(['keys', 'create', '--role', 'auditor'], { LOG_LEVEL: 'nonsense' }),
    ]);
    for (const result of runs) expect(result).toMatchObject({ status: 2, stdout: '', stderr: line });
  });

  it('reads options as the command declares them', () => {
    const spec = COMMANDS.projections;
    const read = parseCommandLine(spec, ['rewind', 'settlement', '--to-epoch=3']);
    expect(read.words).toEqual(['rewind', 'settlement']);
    expect(read.value('--to-epoch')).toBe('3');
    expect(read.has('--json')).toBe(false);
    expect(parseCommandLine(spec, ['status', '--json', '--', '--to-epoch']).words).toEqual(['status', '--to-epoch']);
    expect(() => parseCommandLine(spec, ['rewind', 'x', '--to-epoch', '1', '--to-epoch', '2'])).toThrow(new UsageError('--to-epoch is given twice'));
    expect(() => parseCommandLine(spec, ['rewind', 'x', '--to-epoch', '--json'])).toThrow(new UsageError('--to-epoch needs a value (--to-epoch N)'));
    expect(() => parseCommandLine(spec, ['status', '-x'])).toThrow(new UsageError('unknown option -x'));
  });
});

describe('progress', () => {
  const capture = (isTTY: boolean) => {
    const writes: string[] = [];
    const stream = { isTTY, write: (text: string) => writes.push(text) } as unknown as NodeJS.WriteStream;
    return { stream, writes };
  };

  it.each([false, true])('ends at n of n, the last update drawn when it came too soon after another (terminal: %s)', (tty) => {
    const { stream, writes } = capture(tty);
    const bar = progress('registering', 'synqers', stream);
    const n = 200;
    bar.update(0, n);
    for (let i = 0; i < n; i++) bar.update(i + 1, n);
    bar.finish();
    const last = writes[writes.length - 1];
    expect(last).toMatch(new RegExp(`^\\r?registering.* 100% 200/200 synqers, `));
    expect(last.endsWith(tty ? '\u001b[K\n' : '\n')).toBe(true);
  });
});

describe('synq.cjs: building when the sources changed', () => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { staleReason } = require('../scripts/synq.cjs') as { staleReason(root: string, entry: string): string | undefined };
  let root: string;
  let entry: string;
  const at = (file: string, seconds: number) => utimesSync(file, seconds, seconds);
  const write = (file: string, seconds: number) => {
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, '');
    at(file, seconds);
  };

  beforeEach(() => {
    root = mkdtempSync(path.join(tmpdir(), 'synq-stale-'));
    entry = path.join(root, 'dist', 'scripts', 'synq.js');
    write(path.join(root, 'tsconfig.json'), 1000);
    write(path.join(root, 'tsconfig.build.json'), 1000);
    writeFileSync(path.join(root, 'tsconfig.build.json'), JSON.stringify({ include: ['src', 'domain'] }));
    at(path.join(root, 'tsconfig.build.json'), 1000);
    write(path.join(root, 'src', 'cli', 'a.ts'), 1000);
    write(path.join(root, 'domain', 'b.ts'), 1000);
    write(path.join(root, 'src', 'dashboard', 'web', 'node_modules', 'dep.js'), 5000);
    write(path.join(root, 'migrations', '001.sql'), 5000);
    for (const folder of ['src/cli', 'src/dashboard/web', 'src/dashboard', 'src', 'domain']) at(path.join(root, folder), 1000);
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('builds on the first run, not when dist/ is newer than every source, and again when a source is newer', () => {
    expect(staleReason(root, entry)).toBe('first run');
    write(entry, 2000);
    // node_modules and folders the build does not read (migrations/) do not count.
    expect(staleReason(root, entry)).toBeUndefined();
    at(path.join(root, 'src', 'cli', 'a.ts'), 3000);
    expect(staleReason(root, entry)).toBe(`sources changed since the last build (${path.join('src', 'cli', 'a.ts')})`);
    write(entry, 4000);
    expect(staleReason(root, entry)).toBeUndefined();
    // A file added (or removed) changes its folder.
    at(path.join(root, 'domain'), 5000);
    expect(staleReason(root, entry)).toBe('sources changed since the last build (domain)');
  });
});
