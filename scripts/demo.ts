import * as path from 'node:path';
import { parseArguments, runCli, UsageError } from '../src/cli/context';
import { progress } from '../src/cli/progress';
import { printSummary, runDemo } from '../src/demo/run-demo';

const USAGE = 'usage: synq demo [--synqers N] [--developers N] [--seed TEXT] [--port P] [--data-dir DIR] [--exit] [--json]';

/**
 * The whole product on the embedded defaults, in minutes: see src/demo/run-demo.ts. Prints a summary per epoch and
 * where to look next, then keeps the engine serving until Ctrl-C (`--exit` stops after the summary).
 */
runCli('demo', async () => {
  const { words, options } = parseArguments(process.argv.slice(2));
  if (words.length > 0) throw new UsageError(USAGE);
  const count = (name: string, fallback: number, min: number, max: number) => {
    const value = options.get(name);
    if (value === undefined) return fallback;
    const n = Number(value);
    if (typeof value !== 'string' || !Number.isInteger(n) || n < min || n > max) throw new UsageError(`${name} must be a whole number from ${min} to ${max}; ${USAGE}`);
    return n;
  };
  const seed = options.get('--seed') ?? 'multisynq';
  if (seed === true) throw new UsageError(`--seed needs a value; ${USAGE}`);
  const dataDir = options.get('--data-dir') ?? '.synq-demo';
  if (dataDir === true) throw new UsageError(`--data-dir needs a folder; ${USAGE}`);
  const started = Date.now();
  const say = (line: string) => process.stderr.write(`[${((Date.now() - started) / 1000).toFixed(1).padStart(5)} s] ${line}\n`);
  const result = await runDemo({
    dataDir: path.resolve(dataDir),
    port: count('--port', 3000, 0, 65535),
    anyPortIfTaken: !options.has('--port'),
    synqers: count('--synqers', 200, 10, 100_000),
    developers: count('--developers', 20, 1, 1_000),
    seed,
    say,
    progress: (label, unit) => progress(label, unit),
    out: (line) => process.stdout.write(`${line}\n`),
  });
  if (options.has('--json')) {
    const { engine, ...summary } = result;
    process.stdout.write(`${JSON.stringify({ ...summary, url: engine.url, dashboard: `${engine.url}/dashboard`, docs: `${engine.url}/docs` }, null, 2)}\n`);
  } else printSummary(result, (line) => process.stdout.write(`${line}\n`));
  if (options.has('--exit')) {
    await result.engine.stop();
    return 0;
  }
  process.stdout.write('serving until Ctrl-C\n');
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await result.engine.stop();
  return 0;
});
