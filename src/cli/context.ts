import { ConfigError, loadConfig, type AppConfig } from '../config/config';
import type { ChainGateway } from '../chain/chain-gateway';
import { EmbeddedChain } from '../chain/embedded-chain';
import { RpcChain } from '../chain/rpc-chain';
import type { ProjectionRunner } from '../projections/projection-runner';
import { createProjectionRunner } from '../projections/projections';
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { openDatabase, type Database } from '../database/database';
import type { EventStore } from '../event-store/event-store';
import { openEventStore } from '../event-store/open-event-store';
import { UsageError } from './arguments';

export { UsageError };

export interface CliContext {
  config: AppConfig;
  database: Database;
  store: EventStore;
  /** The engine's chain (SOLANA_RPC_URL, or the embedded one, which a running engine owns: then this fails and says so). */
  openChain(): Promise<ChainGateway>;
  /**
   * Brings the named projections to the log's head and keeps them following until close: processed here when no
   * engine runs, by the engine when one does (whoever holds a projection's lock processes it).
   */
  catchUp(names: string[]): Promise<void>;
  close(): Promise<void>;
}

/** The engine's database (DATABASE_URL, or the embedded one: a running engine's server is used, not started again) and event store. */
export async function openCliContext(): Promise<CliContext> {
  const config = loadConfig();
  const database = await openDatabase(config, () => undefined);
  const store = openEventStore(config, database);
  let chain: ChainGateway | undefined;
  let runner: ProjectionRunner | undefined;
  return {
    config,
    database,
    store,
    async openChain() {
      if (config.solanaRpcUrl) chain ??= new RpcChain({ url: config.solanaRpcUrl, commitment: config.solanaCommitment });
      else chain ??= await EmbeddedChain.open(database.pool, database.connection);
      return chain;
    },
    async catchUp(names) {
      runner ??= createProjectionRunner(database, store, () => undefined, `cli:${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`);
      runner.start();
      await runner.waitFor({ position: await store.lastPosition(), names });
    },
    async close() {
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
