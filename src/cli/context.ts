import { ConfigError, loadConfig, type AppConfig } from '../config/config';
import type { ChainGateway } from '../chain/chain-gateway';
import { EmbeddedChain } from '../chain/embedded-chain';
import { RpcChain } from '../chain/rpc-chain';
import type { Keypair } from '@solana/web3.js';
import { treasuryKeyLoader } from '../chain/treasury-key';
import { ProjectionReader } from '../projections/projection-reader';
import type { ProjectionRunner } from '../projections/projection-runner';
import { createProjectionRunner } from '../projections/projections';
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { openDatabase, type Database } from '../database/database';
import type { EventStore } from '../event-store/event-store';
import { openEventStore } from '../event-store/open-event-store';
import { UsageError } from './arguments';
import { JobService, type JobProgress, type JobView } from '../jobs/jobs';

export { UsageError };

/**
 * What a command is made of: the engine's plain dependencies, opened for the command line. Commands hand them to the
 * same factories the engine's modules call (createSettlement, createVerification, createEpochClose, ...), so a use case
 * is composed once whoever calls it.
 */
export interface CliContext {
  config: AppConfig;
  database: Database;
  store: EventStore;
  /** Reads of the read models' tables. */
  reader: ProjectionReader;
  /** The treasury authority's key (SYNQ_TREASURY_KEYPAIR, or the one in SYNQ_DATA_DIR), read when first needed. */
  treasuryKey: () => Promise<Keypair>;
  /** The engine's chain (SOLANA_RPC_URL, or the embedded one, which a running engine owns: then this fails and says so). */
  openChain(): Promise<ChainGateway>;
  /**
   * This command's projection runner, made when first asked for and stopped on close. It processes only once started
   * (`catchUp` starts it), and then only the projections no engine processes.
   */
  projectionRunner(): ProjectionRunner;
  /**
   * Brings the named projections to the log's head and keeps them following until close: processed here when no
   * engine runs, by the engine when one does (whoever holds a projection's lock processes it).
   */
  catchUp(names: string[]): Promise<void>;
  /**
   * This command's job service (src/jobs): long work (settle, close, verify) runs as a job here, visible to the
   * engine's `GET /jobs` and to other commands; work another process is running already is followed instead.
   */
  jobs(): JobService;
  close(): Promise<void>;
}

/**
 * Follows a job to its end, showing its progress (`onProgress`), and answers its result; a job that failed or was
 * interrupted throws its problem's detail (exit 1).
 */
export async function jobResult<T>(jobs: JobService, job: JobView, onProgress: (progress: JobProgress) => void = () => undefined): Promise<T> {
  if (job.progress) onProgress(job.progress);
  const done = await jobs.outcome(job.id, onProgress);
  if (done.state !== 'succeeded') throw new Error(`${done.error?.detail ?? `the job ${done.state}`} (job ${done.id}, ${done.state})`);
  return done.result as T;
}

/** The engine's database (DATABASE_URL, or the embedded one: a running engine's server is used, not started again) and event store. */
export async function openCliContext(): Promise<CliContext> {
  const config = loadConfig();
  const database = await openDatabase(config, () => undefined);
  const store = openEventStore(config, database);
  let chain: ChainGateway | undefined;
  let runner: ProjectionRunner | undefined;
  let jobs: JobService | undefined;
  const projectionRunner = () =>
    (runner ??= createProjectionRunner(
      database,
      store,
      () => undefined,
      `cli:${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`,
      config.projectionStallSeconds,
    ));
  return {
    config,
    database,
    store,
    reader: new ProjectionReader(database.pool),
    treasuryKey: treasuryKeyLoader(config),
    async openChain() {
      if (config.solanaRpcUrl) chain ??= new RpcChain({ url: config.solanaRpcUrl, commitment: config.solanaCommitment });
      else chain ??= await EmbeddedChain.open(database.pool, database.connection);
      return chain;
    },
    projectionRunner,
    async catchUp(names) {
      const processing = projectionRunner();
      processing.start();
      await processing.waitFor({ position: await store.lastPosition(), names });
    },
    jobs: () => (jobs ??= new JobService(database.pool, { role: 'cli', log: (line) => process.stderr.write(`${line}\n`) })),
    async close() {
      await jobs?.stop();
      await runner?.stop();
      await chain?.close();
      await store.close();
      await database.close();
    },
  };
}

/** Runs a CLI's main: one readable line on failure; exit 2 for usage and configuration mistakes, 1 otherwise. */
export function runCli(name: string, main: () => Promise<number | void>): void {
  main().then(
    (code) => process.exit(code ?? 0),
    (error: unknown) => {
      const message =
        error instanceof ConfigError
          ? error.problems.map((p) => `configuration error: ${p}`).join('\n')
          : error instanceof UsageError
            ? `${name}: ${oneLine(error.message)}${error.seeHelp ? `; see synq ${name} --help` : ''}`
            : `${name}: ${oneLine((error as Error).message ?? String(error))}`;
      process.stderr.write(`${message}\n`);
      process.exit(error instanceof UsageError || error instanceof ConfigError ? 2 : 1);
    },
  );
}

const oneLine = (text: string) => text.replace(/\s*\n\s*/g, ' ');
