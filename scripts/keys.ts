import { Pool } from 'pg';
import { createApiKey, ROLES, type Role } from '../src/auth/api-keys';
import { ConfigError, loadConfig } from '../src/config/config';
import { openDatabase } from '../src/database/database';

/** `npm run keys -- create --role R [--developer ID]`: prints the new key once. */
async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  const options = new Map<string, string>();
  for (let i = 0; i < rest.length; i += 2) options.set(rest[i], rest[i + 1]);
  if (command !== 'create' || !options.has('--role')) throw new UsageError('usage: npm run keys -- create --role operator|ingest|developer|auditor [--developer ID]');
  const role = options.get('--role') as Role;
  if (!ROLES.includes(role)) throw new UsageError(`--role must be one of ${ROLES.join(', ')}, got "${role}"`);
  const database = await openDatabase(loadConfig(), () => undefined);
  try {
    const { keyId, key } = await createApiKey(database.pool as Pool, role, options.get('--developer'));
    process.stdout.write(`created ${role} key ${keyId}; this is the only time it is shown:\n${key}\n`);
  } finally {
    await database.close();
  }
}

class UsageError extends Error {}

main(process.argv.slice(2)).catch((error: unknown) => {
  const message = error instanceof ConfigError ? error.problems.map((p) => `configuration error: ${p}`).join('\n') : (error as Error).message;
  process.stderr.write(`${message}\n`);
  process.exit(error instanceof UsageError || error instanceof ConfigError ? 2 : 1);
});
