/**
 * A payout executor in a process of its own, for tests that kill it (SIGKILL) while it settles. DATABASE_URL names the
 * database, SYNQ_DATA_DIR holds the treasury key, EPOCH the epoch. CRASH_AFTER=recorded makes it kill itself right
 * after recording its first attempts, before sending any. Prints "ready" once it owns the chain, "settled" and exits 0 when the epoch is settled.
 */
import { Pool } from 'pg';
import { EmbeddedChain } from '../../src/chain/embedded-chain';
import { loadTreasuryKey } from '../../src/chain/treasury-key';
import { PostgresEventStore } from '../../src/event-store/postgres-event-store';
import { ProjectionReader } from '../../src/projections/projection-reader';
import { PayoutExecutor } from '../../src/settlement/payout-executor';

async function main() {
  const url = process.env.DATABASE_URL!;
  const pool = new Pool({ connectionString: url, max: 4 });
  const store = new PostgresEventStore(pool);
  const chain = await EmbeddedChain.open(pool, { connectionString: url });
  const config = { databaseUrl: url, eventStoreConnectionString: undefined, port: 0, dataDir: process.env.SYNQ_DATA_DIR! };
  process.stdout.write('ready\n');
  const executor = new PayoutExecutor(store, chain, new ProjectionReader(pool), () => loadTreasuryKey(config));
  await executor.settle(
    Number(process.env.EPOCH),
    { actor: 'crash-test', correlationId: `child-${process.pid}`, commandId: `child-${process.pid}` },
    {
      window: 3,
      afterStep: async (step) => {
        if (process.env.CRASH_AFTER === step) process.kill(process.pid, 'SIGKILL');
        // Room for the parent's SIGKILL to land between any two steps.
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 20));
      },
    },
  );
  process.stdout.write('settled\n');
  await chain.close();
  await store.close();
  await pool.end();
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
