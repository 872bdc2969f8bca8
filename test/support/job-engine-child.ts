/**
 * The engine in a process of its own, for tests that kill it (SIGKILL) while it runs a job. DATABASE_URL names the
 * database, SYNQ_DATA_DIR holds the treasury key. SEND_DELAY_MS holds every transaction that long before it is sent
 * to the (real, embedded) chain, so that a settlement lasts long enough to be killed in the middle. Prints
 * "ready <url>" once it serves.
 */
import { Logger } from '@nestjs/common';
import { EmbeddedChain } from '../../src/chain/embedded-chain';
import { startEngine } from '../../src/engine';

async function main() {
  Logger.overrideLogger(['error']);
  const delay = Number(process.env.SEND_DELAY_MS ?? '0');
  if (delay > 0) {
    const send = EmbeddedChain.prototype.sendTransaction;
    EmbeddedChain.prototype.sendTransaction = async function (this: EmbeddedChain, wire) {
      await new Promise((resolve) => setTimeout(resolve, delay));
      return send.call(this, wire);
    };
  }
  const engine = await startEngine(
    { databaseUrl: process.env.DATABASE_URL!, eventStoreConnectionString: undefined, port: 0, dataDir: process.env.SYNQ_DATA_DIR! },
    new Logger('job-engine-child'),
    { frameworkLogs: false },
  );
  process.stdout.write(`ready ${engine.url}\n`);
  const stop = () => void engine.stop().then(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
