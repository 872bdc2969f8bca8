import { Pool } from 'pg';
import { CommandRejected } from '../domain/rejection';
import { Checks } from '../domain/values';
import { noMoreWords, readCommandLine, UsageError } from '../src/cli/arguments';
import { runCli } from '../src/cli/context';
import { createApiKey, ROLES, type Role } from '../src/auth/api-keys';
import { loadConfig } from '../src/config/config';
import { openDatabase } from '../src/database/database';

/** `synq keys create --role R [--developer ID]` (src/cli/commands.ts): prints the new key once. */
runCli('keys', async () => {
  const commandLine = readCommandLine('keys', process.argv.slice(2));
  const [command] = commandLine.words;
  if (command !== 'create') throw new UsageError(command === undefined ? 'say what to do: create' : `unknown subcommand "${command}" (expected create)`);
  noMoreWords(commandLine.words, 1);
  const role = commandLine.value('--role');
  if (role === undefined) throw new UsageError(`--role is required: ${ROLES.join(', ')}`);
  if (!(ROLES as readonly string[]).includes(role)) throw new UsageError(`--role must be one of ${ROLES.join(', ')}, got "${role}"`);
  const developerId = commandLine.value('--developer');
  if (role === 'developer' && developerId === undefined) throw new UsageError('--role developer needs --developer ID');
  if (role !== 'developer' && developerId !== undefined) throw new UsageError(`--developer goes with --role developer only, not ${role}`);
  if (developerId !== undefined) developerIdOrUsageError(developerId);
  const database = await openDatabase(loadConfig(), () => undefined);
  try {
    const { keyId, key } = await createApiKey(database.pool as Pool, role as Role, developerId);
    process.stdout.write(`created ${role} key ${keyId}; this is the only time it is shown:\n${key}\n`);
  } finally {
    await database.close();
  }
});

/** A developer id as the domain takes it when the developer registers (domain/values.ts). */
function developerIdOrUsageError(developerId: string): void {
  const checks = new Checks();
  checks.id('--developer', developerId);
  try {
    checks.done();
  } catch (error) {
    if (error instanceof CommandRejected) throw new UsageError(error.message);
    throw error;
  }
}
