import * as path from 'node:path';
import pino from 'pino';
import { logLevelOption, noMoreWords, readCommandLine, wholeNumber } from '../src/cli/arguments';
import { runCli } from '../src/cli/context';
import { progress } from '../src/cli/progress';
import { ConfigError, logLevelSetting } from '../src/config/config';
import { printSummary, runDemo } from '../src/demo/run-demo';
import { createJsonLogger } from '../src/observability/json-logger';

/**
 * `synq demo` (src/cli/commands.ts): the whole product on the embedded defaults, in minutes: see src/demo/run-demo.ts.
 * Prints a summary per epoch and where to look next, then keeps the engine serving until Ctrl-C (`--exit` stops after
 * the summary). It reads no configuration but LOG_LEVEL: its database, chain and folder are its own.
 */
runCli('demo', async () => {
  const commandLine = readCommandLine('demo', process.argv.slice(2));
  noMoreWords(commandLine.words, 0);
  const count = (name: string, fallback: number, min: number, max: number) => {
    const value = commandLine.value(name);
    return value === undefined ? fallback : wholeNumber(name, value, min, max);
  };
  const seed = commandLine.value('--seed') ?? 'multisynq';
  const dataDir = commandLine.value('--data-dir') ?? '.synq-demo';
  const port = count('--port', 3000, 0, 65535);
  const synqers = count('--synqers', 200, 10, 100_000);
  const developers = count('--developers', 20, 1, 1_000);
  const setting = logLevelSetting();
  if (setting.problem) throw new ConfigError([setting.problem]);
  const level = logLevelOption(commandLine) ?? setting.level;
  // Only when asked for: the engine's JSON lines (one per request, too) on stderr; stdout stays the summary.
  const engineLogger = level === undefined ? undefined : createJsonLogger({ level, destination: pino.destination({ dest: 2, sync: true }) });
  const started = Date.now();
  const say = (line: string) => process.stderr.write(`[${((Date.now() - started) / 1000).toFixed(1).padStart(5)} s] ${line}\n`);
  const result = await runDemo({
    dataDir: path.resolve(dataDir),
    port,
    anyPortIfTaken: !commandLine.has('--port'),
    synqers,
    developers,
    seed,
    say,
    engineLogger,
    progress: (label, unit) => progress(label, unit),
    out: (line) => process.stdout.write(`${line}\n`),
  });
  if (commandLine.has('--json')) {
    const { engine, ...summary } = result;
    process.stdout.write(`${JSON.stringify({ ...summary, url: engine.url, dashboard: `${engine.url}/dashboard`, docs: `${engine.url}/docs` }, null, 2)}\n`);
  } else printSummary(result, (line) => process.stdout.write(`${line}\n`));
  if (commandLine.has('--exit')) {
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
