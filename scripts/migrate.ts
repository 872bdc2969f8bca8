import { ConfigError, loadConfig, redactUrl } from '../src/config/config';
import { openDatabase } from '../src/database/database';

/** `npm run migrate`: applies pending migrations (to DATABASE_URL, or the embedded database) and exits. */
async function main(): Promise<void> {
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
  const lines = error instanceof ConfigError ? error.problems.map((p) => `configuration error: ${p}`) : [`migrate failed: ${(error as Error).message}`];
  process.stderr.write(`${lines.join('\n')}\n`);
  process.exit(error instanceof ConfigError ? 2 : 1);
});
