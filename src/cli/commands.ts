import { LOG_LEVELS } from '../config/config';

/**
 * Every command-line tool's usage, in one place: `synq --help` lists the commands from here, and each script prints
 * its own entry for `--help` and checks its options against it, whether `synq` ran it or npm did (`npm run demo --
 * --help` runs dist/scripts/demo.js directly). Kept free of heavy imports: `synq --help` loads only this.
 */
export interface OptionSpec {
  name: `--${string}`;
  /** The value's placeholder (`--epoch N`); absent for a flag (`--json`). */
  value?: string;
  about: string;
  /** The subcommands (first word) it applies to; absent: all of them. */
  only?: string[];
}

export interface CommandSpec {
  /** The script that runs it, relative to scripts/ (dist/scripts/ once built). */
  module: string;
  /** One line: `synq <name> ...`, alternatives separated by `|`. */
  usage: string;
  about: string;
  options: OptionSpec[];
  /** Lines after the options: what the words mean, what the command needs. */
  notes?: string[];
}

const LOG_LEVEL: OptionSpec = {
  name: '--log-level',
  value: 'LEVEL',
  about: `the engine's log level: ${LOG_LEVELS.join(', ')} (default info, or LOG_LEVEL)`,
};
const JSON_OUTPUT: OptionSpec = { name: '--json', about: 'print the result as JSON' };

export const COMMANDS = {
  start: {
    module: '../src/main',
    usage: 'synq start [--log-level LEVEL]',
    about: 'run the engine (embedded PostgreSQL unless DATABASE_URL) until Ctrl-C',
    options: [LOG_LEVEL],
    notes: ['logs: one JSON object per line on stdout'],
  },
  migrate: {
    module: './migrate',
    usage: 'synq migrate',
    about: 'apply pending database migrations',
    options: [],
  },
  keys: {
    module: './keys',
    usage: 'synq keys create --role operator|ingest|developer|auditor [--developer ID] | list [--json] | revoke KEY_ID [--reason TEXT]',
    about: 'API keys: create one (shown once), list them (never a secret), revoke one',
    options: [
      { name: '--role', value: 'ROLE', about: 'create: what the key may do: operator, ingest, developer or auditor', only: ['create'] },
      {
        name: '--developer',
        value: 'ID',
        about: 'create: the developer a developer key acts for (required with --role developer, refused otherwise)',
        only: ['create'],
      },
      { name: '--reason', value: 'TEXT', about: 'revoke: why, recorded with the revocation', only: ['revoke'] },
      { ...JSON_OUTPUT, only: ['list'] },
    ],
    notes: ['list: id, role, developer, created, last used (to the minute), revoked', 'revoke: refused by every engine process from its next request on'],
  },
  epochs: {
    module: './epochs',
    usage: 'synq epochs open N --start ISO --end ISO --pool BASE_UNITS | close N | status [N] [--json]',
    about: 'open, close and list epochs',
    options: [
      { name: '--start', value: 'ISO', about: 'open: when the epoch starts, e.g. 2026-11-02T00:00:00Z', only: ['open'] },
      { name: '--end', value: 'ISO', about: 'open: when it ends', only: ['open'] },
      { name: '--pool', value: 'BASE_UNITS', about: 'open: its reward pool in base units (1 SYNQ = 1000000)', only: ['open'] },
      JSON_OUTPUT,
    ],
    notes: ['close runs the close pipeline (close, rewards, distribution), resuming where an earlier run stopped'],
  },
  settle: {
    module: './settle',
    usage: 'synq settle N [--json]',
    about: 'settle a closed epoch in its mode (resumes, never pays twice)',
    options: [JSON_OUTPUT],
    notes: ['with the embedded chain the engine must be stopped; while it runs, use POST /epochs/N/settlement'],
  },
  verify: {
    module: './verify',
    usage: 'synq verify chain [--full] [--json]',
    about: 'replay-verify the chain against the books (exit 1 on a discrepancy)',
    options: [{ name: '--full', about: 'verify the whole history again instead of what is new since the last run' }, JSON_OUTPUT],
  },
  audit: {
    module: './audit',
    usage: 'synq audit [--epoch N] [--out FILE]',
    about: 'replay the log and check every closed epoch (exit 1 on a mismatch)',
    options: [
      { name: '--epoch', value: 'N', about: 'check this epoch only' },
      { name: '--out', value: 'FILE', about: 'also write the whole report as JSON to FILE' },
    ],
    notes: ['with DATABASE_URL it only reads: a role with SELECT on the events, projection_state and the settlement schema is enough'],
  },
  projections: {
    module: './projections',
    usage: 'synq projections status [--json] | rebuild NAME | rewind NAME (--to-position P | --to-epoch N) | resume NAME',
    about: 'read models: status, rebuild, rewind, resume',
    options: [
      { ...JSON_OUTPUT, only: ['status'] },
      { name: '--to-position', value: 'P', about: 'rewind: to this log position', only: ['rewind'] },
      { name: '--to-epoch', value: 'N', about: "rewind: to this closed epoch's cut-off", only: ['rewind'] },
    ],
    notes: ['NAME: a projection, as listed by synq projections status'],
  },
  chain: {
    module: './chain',
    usage: 'synq chain init [--supply BASE_UNITS] [--mint ADDRESS] [--json] | status [--json] | clock --advance SECONDS [--json]',
    about: 'set up the $SYNQ accounts on chain, or show them',
    options: [
      { name: '--supply', value: 'BASE_UNITS', about: 'init on the embedded chain: the supply to mint into the treasury', only: ['init'] },
      { name: '--mint', value: 'ADDRESS', about: 'init on a cluster (SOLANA_RPC_URL): the existing $SYNQ mint', only: ['init'] },
      { name: '--advance', value: 'SECONDS', about: 'clock, embedded chain only: move its clock forward (1 to 315360000 s)', only: ['clock'] },
      JSON_OUTPUT,
    ],
    notes: ['clock: with the embedded chain the engine must be stopped; while it runs, use POST /chain/clock'],
  },
  clawback: {
    module: './clawback',
    usage: 'synq clawback --epoch N [--json]',
    about: "after a web3 epoch's claim deadline: claw back what is unclaimed, once, and apply the unclaimed-rewards policy",
    options: [{ name: '--epoch', value: 'N', about: 'the web3 epoch whose distributor is clawed back' }, JSON_OUTPUT],
    notes: ['with the embedded chain the engine must be stopped; while it runs, use POST /epochs/N/clawback'],
  },
  demo: {
    module: './demo',
    usage: 'synq demo [--synqers N] [--developers N] [--seed TEXT] [--port P] [--data-dir DIR] [--exit] [--json] [--log-level LEVEL]',
    about: 'a whole network on the embedded defaults: three epochs settled and verified',
    options: [
      { name: '--synqers', value: 'N', about: 'how many synqers, 10 to 100000 (default 200)' },
      { name: '--developers', value: 'N', about: 'how many developers, 1 to 1000 (default 20)' },
      { name: '--seed', value: 'TEXT', about: 'the same seed gives the same books (default multisynq)' },
      { name: '--port', value: 'P', about: 'serve on this port (default 3000, or a free one if it is taken)' },
      { name: '--data-dir', value: 'DIR', about: 'the folder to run in, emptied first (default .synq-demo)' },
      { name: '--exit', about: 'stop after the summary instead of serving until Ctrl-C' },
      { name: '--json', about: 'print the summary as JSON' },
      {
        name: '--log-level',
        value: 'LEVEL',
        about: `also show the engine's JSON log lines on stderr from this level: ${LOG_LEVELS.join(', ')} (or LOG_LEVEL); without either, none`,
      },
    ],
  },
  claim: {
    module: './claim',
    usage: 'synq claim --epoch N --keypair FILE [--url URL] [--sponsored]',
    about: "for wallet holders: claim the wallet's reward of a web3 epoch from its distributor",
    options: [
      { name: '--epoch', value: 'N', about: 'the epoch to claim from' },
      { name: '--keypair', value: 'FILE', about: "the wallet's keypair (Solana CLI JSON: an array of 64 numbers); it signs the claim" },
      { name: '--url', value: 'URL', about: "the engine's address (default http://127.0.0.1:PORT)" },
      { name: '--sponsored', about: "the engine's sponsor pays the fee and rent (for a wallet without SOL; above the policy's minimum, once per epoch)" },
    ],
    notes: [
      "uses only the engine's public endpoints: GET /epochs/N/claims/WALLET, and POST .../sponsored with --sponsored",
      "sends through SOLANA_RPC_URL, else the engine's /chain/rpc (the embedded chain); prints the amount, the signature and the new balance",
    ],
  },
  'sign-report': {
    module: './sign-report',
    usage: 'synq sign-report --new-key FILE | --key FILE < report.json',
    about: 'for synqers: make a reporting key, or sign a metric report with it',
    options: [
      { name: '--new-key', value: 'FILE', about: "write a new reporting keypair to FILE (Solana's 64-byte JSON form, mode 0600)" },
      { name: '--key', value: 'FILE', about: 'sign the report read from stdin (what POST /metric-reports takes, without "signature")' },
    ],
  },
} satisfies Record<string, CommandSpec>;

export type CommandName = keyof typeof COMMANDS;

export function isCommand(name: string): name is CommandName {
  return Object.prototype.hasOwnProperty.call(COMMANDS, name);
}

const HELP_OPTION = { name: '--help', about: 'show this and exit' };

/** `synq <name> --help`: the usage line, what it does, each option with its meaning. */
export function commandHelp(name: CommandName): string {
  const command: CommandSpec = COMMANDS[name];
  const options = [...command.options, HELP_OPTION].map((option) => ({
    text: option.name === '--help' ? '-h, --help' : `${option.name}${'value' in option && option.value ? ` ${option.value}` : ''}`,
    about: option.about,
  }));
  const width = Math.max(...options.map((option) => option.text.length));
  return [
    `usage: ${command.usage}`,
    command.about,
    '',
    'options:',
    ...options.map((option) => `  ${option.text.padEnd(width)}  ${option.about}`),
    ...(command.notes ? ['', ...command.notes] : []),
  ].join('\n');
}

/** `synq --help`: every command with what it does. */
export function synqHelp(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((name) => name.length));
  return [
    'usage: synq <command> [options]   (synq <command> --help for its options)',
    '',
    ...Object.entries(COMMANDS).map(([name, command]) => `  ${name.padEnd(width)}  ${command.about}`),
    '',
    'exit codes: 0 done, 1 the work failed or found a problem, 2 a usage or configuration mistake',
    'configuration: DATABASE_URL, EVENTSTORE_CONNECTION_STRING, PORT, SYNQ_DATA_DIR, SOLANA_RPC_URL, SOLANA_COMMITMENT, SYNQ_TREASURY_KEYPAIR, SYNQ_SPONSOR_KEYPAIR, LOG_LEVEL (README.md)',
  ].join('\n');
}
