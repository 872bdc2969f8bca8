import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { logLevelOption, noMoreWords, readCommandLine, UsageError } from './cli/arguments';
import { ConfigError, loadConfig } from './config/config';
import { startEngine } from './engine';
import { createJsonLogger, JsonLoggerService } from './observability/json-logger';

/**
 * `npm start`, `synq start [--log-level LEVEL]` (src/cli/commands.ts): runs the engine until SIGINT or SIGTERM, then
 * shuts down in order. `--help` and usage mistakes are answered before anything starts.
 */
async function main(): Promise<void> {
  let config;
  let level;
  try {
    const commandLine = readCommandLine('start', process.argv.slice(2));
    noMoreWords(commandLine.words, 0);
    level = logLevelOption(commandLine);
    config = loadConfig();
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`start: ${error.message}; see synq start --help\n`);
      process.exit(2);
    }
    if (error instanceof ConfigError) {
      for (const problem of error.problems) process.stderr.write(`configuration error: ${problem}\n`);
      process.exit(2);
    }
    throw error;
  }
  // Structured logs: one JSON object per line on stdout, secrets redacted (src/observability/json-logger.ts).
  const jsonLogger = createJsonLogger({ level: level ?? config.logLevel ?? 'info' });
  Logger.overrideLogger(new JsonLoggerService(jsonLogger));
  const logger = new Logger('engine');
  // The handlers are in place before the engine starts: a Ctrl-C while it starts stops it once it has started,
  // instead of killing the process with the embedded server (in its own process group) left behind.
  const started: { engine?: Awaited<ReturnType<typeof startEngine>> } = {};
  let signalled = false;
  const stop = (running: NonNullable<typeof started.engine>) =>
    running.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error(`shutdown failed: ${(error as Error).message}`);
        process.exit(1);
      },
    );
  const shutdown = (signal: NodeJS.Signals) => {
    if (signalled) return;
    signalled = true;
    logger.log(`${signal} received: ${started.engine ? 'shutting down' : 'shutting down once started'}`);
    if (started.engine) void stop(started.engine);
  };
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);
  started.engine = await startEngine(config, logger, { jsonLogger });
  if (signalled) await stop(started.engine);
}

main().catch((error: unknown) => {
  // A configuration the engine meets only while starting (an embedded data folder the postgres user cannot reach).
  if (error instanceof ConfigError) {
    for (const problem of error.problems) process.stderr.write(`configuration error: ${problem}\n`);
    process.exit(2);
  }
  process.stderr.write(`synq-settlement failed to start: ${(error as Error).message ?? String(error)}\n`);
  process.exit(1);
});
