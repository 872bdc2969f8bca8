/**
 * A stake withdrawal in a process of its own, for tests that kill it (SIGKILL) while it runs: what
 * `POST /synqers/:id/stake/withdrawals` does (the ChangeStake handler's decision, then the vault's transfer). DATABASE_URL
 * names the database, SYNQ_DATA_DIR holds the treasury key, SYNQER and REQUEST the withdrawal. CRASH_AT=n makes it kill
 * itself right after its n-th step (an append to the store, or a transaction sent to the chain). Prints "ready" once it
 * owns the chain, then "answer <json>" (the transfer) and exits 0 when the withdrawal is done. PENDING=1 instead resumes
 * whatever is pending, as `POST /chain/transfers/execute` (a restart) does, and answers that withdrawal's transfer.
 */
import { Pool } from 'pg';
import { EmbeddedChain } from '../../src/chain/embedded-chain';
import type { ChainGateway } from '../../src/chain/chain-gateway';
import { loadTreasuryKey } from '../../src/chain/treasury-key';
import type { EventStore } from '../../src/event-store/event-store';
import { PostgresEventStore } from '../../src/event-store/postgres-event-store';
import { ChainMovements } from '../../src/settlement/chain-movements';
import { TransferExecutor } from '../../src/settlement/transfer-executor';
import { ChangeStake, ChangeStakeHandler } from '../../src/stakes/stakes';

let steps = 0;
async function step(): Promise<void> {
  steps++;
  if (process.env.CRASH_AT !== undefined && Number(process.env.CRASH_AT) === steps) process.kill(process.pid, 'SIGKILL');
  // Room for the parent's SIGKILL to land between any two steps.
  await new Promise((resolve) => setTimeout(resolve, Math.random() * 10));
}

/** The object with `names` counted as steps once they return. */
function counted<T extends object>(target: T, names: string[]): T {
  return new Proxy(target, {
    get(object, property, receiver) {
      const value = Reflect.get(object, property, receiver) as unknown;
      if (typeof value !== 'function') return value;
      if (!names.includes(String(property))) return (value as (...args: unknown[]) => unknown).bind(object);
      return async (...args: unknown[]) => {
        const result = await (value as (...args: unknown[]) => Promise<unknown>).apply(object, args);
        await step();
        return result;
      };
    },
  });
}

async function main() {
  const url = process.env.DATABASE_URL!;
  const pool = new Pool({ connectionString: url, max: 4 });
  const plainStore = new PostgresEventStore(pool);
  const plainChain = await EmbeddedChain.open(pool, { connectionString: url });
  const store = counted<EventStore>(plainStore, ['append', 'appendMany']);
  const chain = counted<ChainGateway>(plainChain, ['sendTransaction']);
  const config = { databaseUrl: url, eventStoreConnectionString: undefined, port: 0, dataDir: process.env.SYNQ_DATA_DIR! };
  process.stdout.write('ready\n');
  const synqerId = process.env.SYNQER!;
  const requestId = process.env.REQUEST!;
  const metadata = { actor: 'crash-test', correlationId: `child-${process.pid}`, commandId: `child-${process.pid}` };
  const executor = new TransferExecutor(store, chain, () => loadTreasuryKey(config));
  let transfer: unknown;
  if (process.env.PENDING) {
    const resumed = await executor.executePending(metadata);
    const state = resumed.find((t) => t.order?.reference === `${synqerId}/${requestId}`);
    transfer = state && { orderId: state.order!.orderId, status: state.status, signature: state.confirmedSignature ?? null };
  } else {
    await new ChangeStakeHandler(store).execute(new ChangeStake({ type: 'WithdrawStake', data: { synqerId, requestId } }, metadata));
    transfer = await new ChainMovements(store, executor).returnStake(synqerId, requestId, { ...metadata, commandId: `transfer-${process.pid}` });
  }
  process.stdout.write(`answer ${JSON.stringify(transfer)}\n`);
  await plainChain.close();
  await plainStore.close();
  await pool.end();
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
