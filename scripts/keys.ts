import { CommandRejected } from '../domain/rejection';
import { Checks } from '../domain/values';
import { noMoreWords, readCommandLine, UsageError, type CommandLine } from '../src/cli/arguments';
import { runCli } from '../src/cli/context';
import { createApiKey, KEY_ID_PATTERN, listApiKeys, revokeApiKey, ROLES, type KeyBooks, type Role } from '../src/auth/api-keys';
import { loadConfig } from '../src/config/config';
import { openDatabase } from '../src/database/database';
import { openEventStore } from '../src/event-store/open-event-store';

/**
 * `synq keys create --role R [--developer ID] | list [--json] | revoke KEY_ID [--reason TEXT]` (src/cli/commands.ts):
 * the same use cases as the operator's /keys routes (src/auth/api-keys.ts). A new key is printed once; a listing never
 * shows a secret; a revoked key is refused by every engine process from its next request on.
 */
runCli('keys', async () => {
  const commandLine = readCommandLine('keys', process.argv.slice(2));
  const [command] = commandLine.words;
  if (command === 'create') return withBooks(createArguments(commandLine), (books, args) => create(books, args));
  if (command === 'list') {
    noMoreWords(commandLine.words, 1);
    return withBooks(commandLine.has('--json'), list);
  }
  if (command === 'revoke') {
    const keyId = commandLine.words[1];
    if (keyId === undefined) throw new UsageError('revoke needs the key id (as synq keys list shows it)');
    noMoreWords(commandLine.words, 2);
    if (!KEY_ID_PATTERN.test(keyId)) throw new UsageError(`"${keyId}" is not a key id: 12 lowercase letters or digits, as synq keys list shows`);
    const reason = commandLine.value('--reason');
    return withBooks({ keyId, reason }, revoke);
  }
  throw new UsageError(command === undefined ? 'say what to do: create, list or revoke' : `unknown subcommand "${command}" (expected create, list or revoke)`);
});

async function withBooks<A>(args: A, run: (books: KeyBooks, args: A) => Promise<void>): Promise<void> {
  const config = loadConfig();
  const database = await openDatabase(config, () => undefined);
  const store = openEventStore(config, database);
  try {
    await run({ pool: database.pool, store }, args);
  } finally {
    await store.close();
    await database.close();
  }
}

function createArguments(commandLine: CommandLine): { role: Role; developerId?: string } {
  noMoreWords(commandLine.words, 1);
  const role = commandLine.value('--role');
  if (role === undefined) throw new UsageError(`--role is required: ${ROLES.join(', ')}`);
  if (!(ROLES as readonly string[]).includes(role)) throw new UsageError(`--role must be one of ${ROLES.join(', ')}, got "${role}"`);
  const developerId = commandLine.value('--developer');
  if (role === 'developer' && developerId === undefined) throw new UsageError('--role developer needs --developer ID');
  if (role !== 'developer' && developerId !== undefined) throw new UsageError(`--developer goes with --role developer only, not ${role}`);
  if (developerId !== undefined) developerIdOrUsageError(developerId);
  return { role: role as Role, developerId };
}

async function create(books: KeyBooks, { role, developerId }: { role: Role; developerId?: string }): Promise<void> {
  const { keyId, key } = await createApiKey(books, role, developerId, cliActor());
  process.stdout.write(`created ${role} key ${keyId}; this is the only time it is shown:\n${key}\n`);
}

async function list(books: KeyBooks, json: boolean): Promise<void> {
  const keys = await listApiKeys(books.pool);
  if (json) {
    process.stdout.write(`${JSON.stringify(keys, null, 2)}\n`);
    return;
  }
  const rows = [
    ['KEY ID', 'ROLE', 'DEVELOPER', 'CREATED', 'LAST USED', 'REVOKED'],
    ...keys.map((k) => [k.keyId, k.role, k.developerId ?? '-', k.createdAt, k.lastUsedAt ?? '-', k.revokedAt ?? '-']),
  ];
  const widths = rows[0].map((_, column) => Math.max(...rows.map((row) => row[column].length)));
  process.stdout.write(
    rows
      .map((row) =>
        row
          .map((cell, column) => cell.padEnd(widths[column]))
          .join('  ')
          .trimEnd(),
      )
      .join('\n') + '\n',
  );
}

async function revoke(books: KeyBooks, { keyId, reason }: { keyId: string; reason?: string }): Promise<void> {
  try {
    const revoked = await revokeApiKey(books, keyId, reason, cliActor());
    process.stdout.write(`revoked ${revoked.role} key ${revoked.keyId} at ${revoked.revokedAt}\n`);
  } catch (error) {
    // An id no key has, or a reason that is not a text: the command line's mistake.
    if (error instanceof CommandRejected) throw new UsageError(error.message, false);
    throw error;
  }
}

/** Who the key events name as their actor when the command line records them. */
const cliActor = () => `cli:${process.env.USER ?? 'unknown'}`;

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
