/**
 * One engine process for bench/ingest's several-processes phase (BENCH_PROCESSES): the engine as `synq start` runs it,
 * configured from the environment (DATABASE_URL, SYNQ_PROJECTIONS, SYNQ_VERIFY_WORKERS, SYNQ_DATA_DIR), on a free
 * port. Tells its parent its URL once it listens, and stops when the parent says `stop`.
 */
import { Logger } from '@nestjs/common';
import { loadConfig } from '../src/config/config';
import { startEngine } from '../src/engine';

async function main(): Promise<void> {
  Logger.overrideLogger(['error', 'warn']);
  const engine = await startEngine({ ...loadConfig(), port: 0 }, new Logger('bench-engine'), { frameworkLogs: false });
  process.on('message', (message) => {
    if (message !== 'stop') return;
    void engine.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  });
  process.send!({ url: engine.url });
}

main().catch((error: unknown) => {
  process.stderr.write(`bench engine failed: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
