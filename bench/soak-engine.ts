/**
 * bench/soak's engine: the engine alone in a process of its own (started by bench/soak with --expose-gc and an IPC
 * channel), so that its heap holds nothing of the load generator, the readers or the bench's bookkeeping. Answers the
 * orchestrator's requests: a memory sample after a full garbage collection, a heap snapshot, stop.
 */
import { Logger } from '@nestjs/common';
import { performance } from 'node:perf_hooks';
import { writeHeapSnapshot } from 'node:v8';
import { createApiKey } from '../src/auth/api-keys';
import { startEngine } from '../src/engine';

export interface MemorySample {
  rss: number;
  heapTotal: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
  /** The engine's CPU seconds (all its threads) and its event loop's utilisation since the previous sample. */
  cpuSeconds: number;
  eventLoop: number;
}

export type EngineRequest = { type: 'sample'; id: number } | { type: 'snapshot'; id: number; file: string } | { type: 'stop'; id: number };
export type EngineAnswer =
  | { type: 'ready'; url: string; operator: string; ingest: string }
  | { type: 'sample'; id: number; sample: MemorySample }
  | { type: 'snapshot'; id: number; file: string; seconds: number }
  | { type: 'stopped'; id: number }
  | { type: 'failed'; error: string };

const send = (answer: EngineAnswer) => process.send!(answer);

/** Two full collections (the second takes what the first's finalizers let go): what is left is retained. */
function collect(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('bench/soak-engine needs --expose-gc');
  gc();
  gc();
}

async function main(): Promise<void> {
  Logger.overrideLogger(['error', 'warn']);
  const engine = await startEngine(
    { databaseUrl: process.env.SOAK_DATABASE_URL, eventStoreConnectionString: undefined, port: 0, dataDir: process.env.SOAK_DATA_DIR! },
    new Logger('soak-engine'),
    { frameworkLogs: false },
  );
  const operator = (await createApiKey(engine, 'operator')).key;
  const ingest = (await createApiKey(engine, 'ingest')).key;
  let cpu = process.cpuUsage();
  let loop = performance.eventLoopUtilization();
  process.on('message', (request: EngineRequest) => {
    void (async () => {
      if (request.type === 'sample') {
        collect();
        const memory = process.memoryUsage();
        const used = process.cpuUsage(cpu);
        const utilisation = performance.eventLoopUtilization(loop).utilization;
        cpu = process.cpuUsage();
        loop = performance.eventLoopUtilization();
        send({
          type: 'sample',
          id: request.id,
          sample: {
            rss: memory.rss,
            heapTotal: memory.heapTotal,
            heapUsed: memory.heapUsed,
            external: memory.external,
            arrayBuffers: memory.arrayBuffers,
            cpuSeconds: (used.user + used.system) / 1e6,
            eventLoop: utilisation,
          },
        });
      } else if (request.type === 'snapshot') {
        const started = performance.now();
        collect();
        const file = writeHeapSnapshot(request.file);
        send({ type: 'snapshot', id: request.id, file, seconds: (performance.now() - started) / 1000 });
      } else {
        await engine.stop();
        send({ type: 'stopped', id: request.id });
        process.disconnect();
      }
    })().catch((error: unknown) => send({ type: 'failed', error: (error as Error).stack ?? String(error) }));
  });
  send({ type: 'ready', url: engine.url, operator, ingest });
}

main().catch((error: unknown) => {
  send({ type: 'failed', error: (error as Error).stack ?? String(error) });
  process.exit(1);
});
