import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { progress } from '../src/cli/progress';
import { openCliContext, parseArguments, runCli, UsageError } from '../src/cli/context';
import { createProjectionRunner, projectionView, rewindTarget, PROJECTIONS } from '../src/projections/projections';
import type { ProjectionRequest, ProjectionRunner, ProjectionStatus } from '../src/projections/projection-runner';

const USAGE = `usage: npm run projections -- status [--json]
       npm run projections -- rebuild NAME
       npm run projections -- rewind NAME (--to-position P | --to-epoch N)
       npm run projections -- resume NAME
projections: ${PROJECTIONS.map((p) => p.name).join(', ')}`;

/**
 * Operator commands on projections. A request is carried out by whichever engine instance processes the projection;
 * when none does (no engine running), this command processes it itself until the request is done.
 */
runCli('projections', async () => {
  const { words, options } = parseArguments(process.argv.slice(2));
  const [command, name] = words;
  if (command === 'status') return status(options.has('--json'));
  if (!['rebuild', 'rewind', 'resume'].includes(command) || !name) throw new UsageError(USAGE);
  if (!PROJECTIONS.some((p) => p.name === name)) throw new UsageError(`no projection is named ${name} (known: ${PROJECTIONS.map((p) => p.name).join(', ')})`);
  const context = await openCliContext();
  const runner = createProjectionRunner(context.database, context.store, () => undefined, `cli:${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`);
  try {
    runner.start();
    let request: ProjectionRequest;
    if (command === 'rewind') {
      const toPosition = options.get('--to-position');
      const toEpoch = options.get('--to-epoch');
      request = {
        action: 'rewind',
        toPosition: await rewindTarget(context.store, { toPosition, toEpoch: toEpoch === undefined ? undefined : Number(toEpoch) }).catch((error: Error) => {
          throw new UsageError(error.message);
        }),
      };
    } else request = { action: command as 'rebuild' | 'resume' };
    await runner.waitFor({ names: [name], timeoutMs: 1 }).catch(() => undefined);
    await runner.request(name, request);
    const final = await follow(runner, name, request);
    process.stdout.write(`${describe(final)}\n`);
    return final.status === 'failed' ? 1 : 0;
  } finally {
    await runner.stop();
    await context.close();
  }
});

/** Shows the request's progress until it is carried out. */
async function follow(runner: ProjectionRunner, name: string, request: ProjectionRequest): Promise<ProjectionStatus> {
  const bar = progress(`${request.action} ${name}`, 'events');
  for (;;) {
    const status = (await runner.status()).find((s) => s.name === name)!;
    if (status.building) bar.update(status.building.position, status.building.target ?? status.building.position);
    const done =
      !status.pendingRequest &&
      !status.building &&
      (status.status === 'failed' || (request.action === 'rewind' ? status.status === 'paused' : status.status === 'running'));
    if (done) {
      bar.finish();
      return status;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function describe(status: ProjectionStatus): string {
  const failure = status.failure ? `, failed at ${status.failure.position}: ${status.failure.error}` : '';
  return `${status.name} v${status.version} generation ${status.generation}: ${status.status} at position ${status.position}, ${status.lagEvents} events behind${failure}`;
}

async function status(json: boolean): Promise<number> {
  const context = await openCliContext();
  try {
    const runner = createProjectionRunner(context.database, context.store, () => undefined);
    const statuses = await runner.status();
    process.stdout.write(json ? `${JSON.stringify({ projections: statuses.map(projectionView) }, null, 2)}\n` : `${statuses.map(describe).join('\n')}\n`);
    return statuses.some((s) => s.status === 'failed') ? 1 : 0;
  } finally {
    await context.close();
  }
}
