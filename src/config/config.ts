import * as path from 'node:path';

/** Nest injection token of the engine's AppConfig. */
export const APP_CONFIG = Symbol('AppConfig');

/** The engine's configuration, read once from the environment at start. */
export interface AppConfig {
  /** PostgreSQL server to use; undefined means start the embedded one in `dataDir`. */
  databaseUrl: string | undefined;
  /** EventStoreDB / KurrentDB connection string; when set it is the event store, PostgreSQL keeps the projections. */
  eventStoreConnectionString: string | undefined;
  port: number;
  /** Absolute path of the folder that holds the embedded database and other local state. */
  dataDir: string;
  /** A Solana cluster's JSON-RPC URL; undefined means the embedded chain (litesvm, ledger in PostgreSQL). */
  solanaRpcUrl?: string;
  solanaCommitment?: 'processed' | 'confirmed' | 'finalized';
  /** The treasury authority's keypair file (solana-keygen JSON); defaults to `<dataDir>/treasury-keypair.json`. */
  treasuryKeypairPath?: string;
  /**
   * SYNQ_SPONSOR_KEYPAIR: the key that pays sponsored claims' fees and rent (solana-keygen JSON; it should hold only
   * SOL); defaults to `sponsor-keypair.json` beside the treasury keypair.
   */
  sponsorKeypairPath?: string;
  /** LOG_LEVEL: the structured logger's level (pino); undefined means info. `--log-level` on the command line overrides it. */
  logLevel?: LogLevel;
  /** SYNQ_PROJECTION_STALL_SECONDS: a projection behind the log whose state has not changed for this long is stalled (default 60). */
  projectionStallSeconds?: number;
  /** SYNQ_REPORT_CLOCK_SKEW_SECONDS: how far past the engine's clock a metric report's period may end (default 300). */
  reportClockSkewSeconds?: number;
  /**
   * SYNQ_PUBLIC_RATE_LIMIT: requests a minute one client may make to each public route (health, metrics, claims)
   * before 429 (default 600, src/http/public-rate-limit.ts); 0: no limit.
   */
  publicRateLimit?: number;
  /**
   * SYNQ_CLAIMS_CACHE_MB: the most the claims of recently asked epochs hold in memory, in all (default 256,
   * src/epochs/claims-cache.ts); 0: every claim is read from the database.
   */
  claimsCacheMegabytes?: number;
  /**
   * SYNQ_VERIFY_WORKERS: worker threads that check metric reports' signatures (src/commands/signature-verifier.ts);
   * 0 checks them on the event loop. Default: one per core (os.availableParallelism()).
   */
  verifyWorkers?: number;
  /**
   * SYNQ_PROJECTIONS=off: this process never runs the projection runner (an ingest-only engine beside one that does).
   * Default on; with several engines on one database each projection is applied by one of them at a time anyway (its
   * advisory lock, src/projections/projection-runner.ts).
   */
  projections?: 'on' | 'off';
}

/** pino's levels, most to least severe, and `silent`. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Why `text` is not a log level (the same words for LOG_LEVEL and `--log-level`), or undefined when it is one. */
export function logLevelProblem(text: string): string | undefined {
  return (LOG_LEVELS as readonly string[]).includes(text) ? undefined : `must be one of ${LOG_LEVELS.join(', ')}, got "${text}"`;
}

/** LOG_LEVEL alone, for a command that reads nothing else of the configuration (the demo): its level, or its problem. */
export function logLevelSetting(env: NodeJS.ProcessEnv = process.env): { level?: LogLevel; problem?: string } {
  const text = env.LOG_LEVEL?.trim();
  if (text === undefined || text === '') return {};
  const reason = logLevelProblem(text);
  return reason ? { problem: `LOG_LEVEL: ${reason}` } : { level: text as LogLevel };
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration: ${problems.join('; ')}`);
    this.name = 'ConfigError';
  }
}

const DEFAULT_PORT = 3000;
const DEFAULT_DATA_DIR = '.synq';

/** Validates every variable and reports all bad values at once, one reason each. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, cwd: string = process.cwd()): AppConfig {
  const problems: string[] = [];
  const text = (name: string): string | undefined => {
    const value = env[name];
    return value === undefined || value.trim() === '' ? undefined : value.trim();
  };

  const databaseUrl = text('DATABASE_URL');
  if (databaseUrl !== undefined) {
    const reason = postgresUrlProblem(databaseUrl);
    if (reason) problems.push(`DATABASE_URL: ${reason}`);
  }

  const eventStoreConnectionString = text('EVENTSTORE_CONNECTION_STRING');
  if (
    eventStoreConnectionString !== undefined &&
    !/^(esdb|esdb\+discover|kurrentdb|kurrentdb\+discover|kdb|kdb\+discover):\/\/[^\s]+$/.test(eventStoreConnectionString)
  ) {
    problems.push('EVENTSTORE_CONNECTION_STRING: must be a connection string such as esdb://host:2113?tls=false');
  }

  let port = DEFAULT_PORT;
  const portText = text('PORT');
  if (portText !== undefined) {
    if (!/^\d+$/.test(portText) || Number(portText) > 65535) {
      problems.push(`PORT: must be a whole number from 0 to 65535, got "${portText}"`);
    } else {
      port = Number(portText);
    }
  }

  const dataDirText = text('SYNQ_DATA_DIR') ?? DEFAULT_DATA_DIR;
  if (dataDirText.includes('\0')) problems.push('SYNQ_DATA_DIR: must be a path without NUL characters');

  const solanaRpcUrl = text('SOLANA_RPC_URL');
  if (solanaRpcUrl !== undefined && !/^https?:\/\/\S+$/.test(solanaRpcUrl))
    problems.push('SOLANA_RPC_URL: must be an http(s) URL such as http://127.0.0.1:8899');
  const commitment = text('SOLANA_COMMITMENT') ?? 'confirmed';
  if (!['processed', 'confirmed', 'finalized'].includes(commitment))
    problems.push(`SOLANA_COMMITMENT: must be processed, confirmed or finalized, got "${commitment}"`);
  const keypathText = text('SYNQ_TREASURY_KEYPAIR');
  const sponsorPathText = text('SYNQ_SPONSOR_KEYPAIR');
  const { level: logLevel, problem: logLevelReason } = logLevelSetting(env);
  if (logLevelReason) problems.push(logLevelReason);
  const stallText = text('SYNQ_PROJECTION_STALL_SECONDS');
  if (stallText !== undefined && (!/^\d{1,9}$/.test(stallText) || Number(stallText) < 1))
    problems.push(`SYNQ_PROJECTION_STALL_SECONDS: must be a whole number of seconds from 1, got "${stallText}"`);
  const skewText = text('SYNQ_REPORT_CLOCK_SKEW_SECONDS');
  if (skewText !== undefined && (!/^\d{1,6}$/.test(skewText) || Number(skewText) > 86_400))
    problems.push(`SYNQ_REPORT_CLOCK_SKEW_SECONDS: must be a whole number of seconds from 0 to 86400, got "${skewText}"`);

  const rateText = text('SYNQ_PUBLIC_RATE_LIMIT');
  if (rateText !== undefined && !/^\d{1,9}$/.test(rateText))
    problems.push(`SYNQ_PUBLIC_RATE_LIMIT: must be a whole number of requests a minute (0: no limit), got "${rateText}"`);

  const claimsCacheText = text('SYNQ_CLAIMS_CACHE_MB');
  if (claimsCacheText !== undefined && (!/^\d{1,7}$/.test(claimsCacheText) || Number(claimsCacheText) > 1_048_576))
    problems.push(`SYNQ_CLAIMS_CACHE_MB: must be a whole number of megabytes from 0 to 1048576, got "${claimsCacheText}"`);
  const verifyWorkersText = text('SYNQ_VERIFY_WORKERS');
  if (verifyWorkersText !== undefined && (!/^\d{1,3}$/.test(verifyWorkersText) || Number(verifyWorkersText) > 256))
    problems.push(`SYNQ_VERIFY_WORKERS: must be a whole number of worker threads from 0 (on the event loop) to 256, got "${verifyWorkersText}"`);
  const projectionsText = text('SYNQ_PROJECTIONS');
  if (projectionsText !== undefined && projectionsText !== 'on' && projectionsText !== 'off')
    problems.push(`SYNQ_PROJECTIONS: must be on or off, got "${projectionsText}"`);

  if (problems.length > 0) throw new ConfigError(problems);
  const dataDir = path.resolve(cwd, dataDirText);
  return {
    databaseUrl,
    eventStoreConnectionString,
    port,
    dataDir,
    solanaRpcUrl,
    solanaCommitment: commitment as AppConfig['solanaCommitment'],
    treasuryKeypairPath: keypathText === undefined ? undefined : path.resolve(cwd, keypathText),
    ...(sponsorPathText === undefined ? {} : { sponsorKeypairPath: path.resolve(cwd, sponsorPathText) }),
    logLevel,
    ...(stallText === undefined ? {} : { projectionStallSeconds: Number(stallText) }),
    ...(skewText === undefined ? {} : { reportClockSkewSeconds: Number(skewText) }),
    ...(rateText === undefined ? {} : { publicRateLimit: Number(rateText) }),
    ...(claimsCacheText === undefined ? {} : { claimsCacheMegabytes: Number(claimsCacheText) }),
    ...(verifyWorkersText === undefined ? {} : { verifyWorkers: Number(verifyWorkersText) }),
    ...(projectionsText === undefined ? {} : { projections: projectionsText as 'on' | 'off' }),
  };
}

function postgresUrlProblem(value: string): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return 'must be a URL such as postgres://user@127.0.0.1:5432/dbname';
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    return `must use the postgres:// or postgresql:// scheme, got "${url.protocol}//"`;
  }
  if (url.pathname.length <= 1) return 'must name a database, as in postgres://user@host:5432/dbname';
  return undefined;
}

/** Redacts the password of a connection URL so it can be logged or shown. */
export function redactUrl(value: string): string {
  try {
    const url = new URL(value);
    if (url.password) url.password = '***';
    return url.toString();
  } catch {
    return '<unparseable url>';
  }
}
