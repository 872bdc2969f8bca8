import { CommandRejected } from '../domain/rejection';
import { progress } from '../src/cli/progress';
import { noMoreWords, readCommandLine, UsageError, wholeNumber } from '../src/cli/arguments';
import { openCliContext, runCli } from '../src/cli/context';
import { createProjectionOperations, projectionView, PROJECTIONS } from '../src/projections/projections';
import type { ProjectionStatus } from '../src/projections/projection-runner';

/**
 * `synq projections` (src/cli/commands.ts): operator commands on projections, through src/projections/projections.ts's
 * ProjectionOperations as the /projections routes. A request is carried out by whichever engine instance processes the
 * projection; when none does (no engine running), this command processes it itself until the request is done.
 */
runCli('projections', async () => {
  const commandLine = readCommandLine('projections', process.argv.slice(2));
  const [command, name] = commandLine.words;
  const known = PROJECTIONS.map((p) => p.name).join(', ');
  if (command === 'status') {
    noMoreWords(commandLine.words, 1);
    return status(commandLine.has('--json'));
  }
  if (command !== 'rebuild' && command !== 'rewind' && command !== 'resume') {
    throw new UsageError(
      command === undefined
        ? 'say what to do: status, rebuild, rewind or resume'
        : `unknown subcommand "${command}" (expected status, rebuild, rewind or resume)`,
    );
  }
  if (name === undefined) throw new UsageError(`${command} needs the projection's name (${known})`);
  noMoreWords(commandLine.words, 2);
  if (!PROJECTIONS.some((p) => p.name === name)) throw new UsageError(`no projection is named ${name} (known: ${known})`);
  const toPosition = commandLine.value('--to-position');
  const toEpochText = commandLine.value('--to-epoch');
  if (command === 'rewind' && (toPosition === undefined) === (toEpochText === undefined))
    throw new UsageError('rewind needs one of --to-position P and --to-epoch N');
  if (toPosition !== undefined && !/^(0|[1-9]\d{0,30})$/.test(toPosition))
    throw new UsageError(`--to-position must be a log position (a whole number), got "${toPosition}"`);
  const toEpoch = toEpochText === undefined ? undefined : wholeNumber('--to-epoch', toEpochText, 1, 1_000_000_000);
  const context = await openCliContext();
  try {
    const runner = context.projectionRunner();
    const operations = createProjectionOperations({ runner, store: context.store });
    // Processed here when no engine runs: give the runner a moment to take the projections up.
    runner.start();
    await runner.waitFor({ names: [name], timeoutMs: 1 }).catch(() => undefined);
    const { request } = await operations
      .request(name, command === 'rewind' ? { action: 'rewind', toPosition, toEpoch } : { action: command })
      .catch((error: unknown) => {
        // The rewind's target: no such position or epoch, or an epoch not closed.
        throw error instanceof CommandRejected ? new UsageError(error.message, false) : error;
      });
    const bar = progress(`${request.action} ${name}`, 'events');
    const final = await operations.carriedOut(name, request.action, (position, target) => bar.update(position, target));
    bar.finish();
    process.stdout.write(`${describe(final)}\n`);
    return final.status === 'failed' ? 1 : 0;
  } finally {
    await context.close();
  }
});

function describe(status: ProjectionStatus): string {
  const failure = status.failure ? `, failed at ${status.failure.position}: ${status.failure.error}` : '';
  const stalled = status.stalled ? `, stalled (no progress for ${Math.round(status.idleSeconds)} s)` : '';
  return `${status.name} v${status.version} generation ${status.generation}: ${status.status} at position ${status.position}, ${status.lagEvents} events behind${stalled}${failure}`;
}

async function status(json: boolean): Promise<number> {
  const context = await openCliContext();
  try {
    const statuses = await createProjectionOperations({ runner: context.projectionRunner(), store: context.store }).status();
    process.stdout.write(json ? `${JSON.stringify({ projections: statuses.map(projectionView) }, null, 2)}\n` : `${statuses.map(describe).join('\n')}\n`);
    return statuses.some((s) => s.status === 'failed') ? 1 : 0;
  } finally {
    await context.close();
  }
}
