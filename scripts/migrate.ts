import { noMoreWords, readCommandLine, UsageError } from '../src/cli/arguments';
import { ConfigError, loadConfig, redactUrl } from '../src/config/config';
import { openDatabase } from '../src/database/database';

/** `synq migrate` (src/cli/commands.ts): applies pending migrations (to DATABASE_URL, or the embedded database), exits. */
async function main(): Promise<void> {
  noMoreWords(readCommandLine('migrate', process.argv.slice(2)).words, 0);
  const config = loadConfig();
  const database = await openDatabase(config, (line) => process.stdout.write(`${line}\n`));
  try {
    const { applied, current } = database.migrations;
    const where = config.databaseUrl ? redactUrl(config.databaseUrl) : `embedded PostgreSQL in ${config.dataDir}`;
    process.stdout.write(`${applied.length} migration(s) applied, ${current.length} in total, on ${where}\n`);
  } finally {
    await database.close();
  }
}

main().catch((error: unknown) => {
  const lines =
    error instanceof ConfigError
      ? error.problems.map((p) => `configuration error: ${p}`)
      : error instanceof UsageError
        ? [`migrate: ${error.message}; see synq migrate --help`]
        : [`migrate failed: ${(error as Error).message}`];
  process.stderr.write(`${lines.join('\n')}\n`);
  process.exit(error instanceof ConfigError || error instanceof UsageError ? 2 : 1);
});
