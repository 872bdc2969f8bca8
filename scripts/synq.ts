/**
 * `synq`: one command for operators and auditors. Each subcommand is the script `npm run <name>` runs (the npm scripts
 * stay as aliases). Exit codes: 0 done; 1 the work failed or found a problem (a failed projection, an audit mismatch, a
 * verification discrepancy); 2 a usage or configuration mistake. Long work shows a progress bar with rate and ETA on
 * a terminal, plain periodic lines otherwise.
 */
const COMMANDS: Record<string, { module: string; usage: string; about: string }> = {
  start: { module: '../src/main', usage: 'synq start', about: 'run the engine (embedded PostgreSQL unless DATABASE_URL) until Ctrl-C' },
  migrate: { module: './migrate', usage: 'synq migrate', about: 'apply pending database migrations' },
  keys: { module: './keys', usage: 'synq keys create --role operator|ingest|developer|auditor [--developer ID]', about: 'create an API key (shown once)' },
  epochs: { module: './epochs', usage: 'synq epochs open N --start ISO --end ISO --pool BASE_UNITS | close N | status [N] [--json]', about: 'open, close and list epochs' },
  settle: { module: './settle', usage: 'synq settle N [--json]', about: "settle a closed epoch in its mode (resumes, never pays twice)" },
  verify: { module: './verify', usage: 'synq verify chain [--json]', about: 'replay-verify the chain against the books (exit 1 on a discrepancy)' },
  audit: { module: './audit', usage: 'synq audit [--epoch N] [--out report.json]', about: 'replay the log and check every closed epoch (exit 1 on a mismatch)' },
  projections: { module: './projections', usage: 'synq projections status [--json] | rebuild NAME | rewind NAME --to-position P|--to-epoch N | resume NAME', about: 'read models: status, rebuild, rewind, resume' },
  chain: { module: './chain', usage: 'synq chain init [--supply BASE_UNITS] [--mint ADDRESS] [--json] | status [--json]', about: 'set up the $SYNQ accounts on chain, or show them' },
  demo: { module: './demo', usage: 'synq demo [--synqers N] [--developers N] [--seed TEXT] [--port P] [--data-dir DIR] [--exit] [--json]', about: 'a whole network on the embedded defaults: three epochs settled and verified' },
};

function help(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((name) => name.length));
  return [
    'usage: synq <command> [options]   (synq <command> --help for its options)',
    '',
    ...Object.entries(COMMANDS).map(([name, command]) => `  ${name.padEnd(width)}  ${command.about}`),
    '',
    'exit codes: 0 done, 1 the work failed or found a problem, 2 a usage or configuration mistake',
    'configuration: DATABASE_URL, EVENTSTORE_CONNECTION_STRING, PORT, SYNQ_DATA_DIR, SOLANA_RPC_URL, SOLANA_COMMITMENT, SYNQ_TREASURY_KEYPAIR (README.md)',
  ].join('\n');
}

const [name, ...rest] = process.argv.slice(2);
if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
  process.stdout.write(`${help()}\n`);
  process.exit(name === undefined ? 2 : 0);
}
const command = COMMANDS[name];
if (!command) {
  process.stderr.write(`synq: unknown command "${name}"; run synq --help\n`);
  process.exit(2);
}
if (rest.includes('--help') || rest.includes('-h')) {
  process.stdout.write(`usage: ${command.usage}\n${command.about}\n`);
  process.exit(0);
}
// The subcommand's script reads its arguments from process.argv, as when npm runs it.
process.argv = [process.argv[0], `synq ${name}`, ...rest];
// eslint-disable-next-line @typescript-eslint/no-require-imports
require(command.module);
