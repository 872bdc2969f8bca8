/**
 * A projection runner in a process of its own, for tests that kill it (SIGKILL) mid-batch. DATABASE_URL names the
 * database; BATCH_SIZE the batch. Prints "running" once started; SIGTERM stops it cleanly.
 */
import { Pool } from 'pg';
import { PostgresEventStore } from '../../src/event-store/postgres-event-store';
import { ProjectionRunner } from '../../src/projections/projection-runner';
import { PROJECTIONS } from '../../src/projections/projections';

const url = process.env.DATABASE_URL!;
const pool = new Pool({ connectionString: url, max: 4 });
const store = new PostgresEventStore(pool);
const runner = new ProjectionRunner({
  pool,
  connection: { connectionString: url },
  store,
  projections: PROJECTIONS,
  instanceId: `child-${process.pid}`,
  batchSize: Number(process.env.BATCH_SIZE ?? 50),
  idleMs: 20,
  takeOverMs: 50,
});
runner.start();
process.stdout.write('running\n');
process.on('SIGTERM', () => {
  void runner.stop().then(async () => {
    await store.close();
    await pool.end();
    process.exit(0);
  });
});
