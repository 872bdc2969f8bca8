import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { noMoreWords, readCommandLine, UsageError, wholeNumber } from '../src/cli/arguments';
import { openCliContext, runCli } from '../src/cli/context';
import { EpochClosePipeline } from '../src/epochs/epoch-close';
import * as network from '../domain/network';
import { decideAndAppend, loadLatest } from '../src/commands/streams';
import { ProjectionReader } from '../src/projections/projection-reader';
import { createProjectionRunner } from '../src/projections/projections';

/**
 * `synq epochs` (src/cli/commands.ts). `open N` records the epoch as POST /epochs does. `close N` runs the epoch close
 * pipeline (close, rewards, distribution), resuming where an earlier run stopped; the projections are processed by a
 * running engine or, when there is none, by this command. `status` lists the epochs.
 */
runCli('epochs', async () => {
  const commandLine = readCommandLine('epochs', process.argv.slice(2));
  const [command, epochText] = commandLine.words;
  if (command !== 'open' && command !== 'close' && command !== 'status') {
    throw new UsageError(command === undefined ? 'say what to do: open, close or status' : `unknown subcommand "${command}" (expected open, close or status)`);
  }
  noMoreWords(commandLine.words, 2);
  const epoch = command === 'status' && epochText === undefined ? undefined : wholeNumber('the epoch', epochText, 1, 1_000_000_000);
  if (command === 'open') {
    const missing = ['--start', '--end', '--pool'].filter((name) => !commandLine.has(name));
    if (missing.length > 0) throw new UsageError(`open needs ${missing.join(', ')}`);
  }
  const json = commandLine.has('--json');
  const context = await openCliContext();
  const runner = createProjectionRunner(context.database, context.store, () => undefined, `cli:${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`);
  const pipeline = new EpochClosePipeline(context.store, runner, new ProjectionReader(context.database.pool));
  try {
    if (command === 'open') {
      // The same decision as POST /epochs: numbered without gaps, never overlapping, the pool within the treasury.
      await decideAndAppend(
        context.store,
        network.networkDecider,
        undefined,
        (state) => network.openEpoch(state, { epoch, start: commandLine.value('--start'), end: commandLine.value('--end'), rewardPool: commandLine.value('--pool') }),
        { actor: 'cli', correlationId: randomUUID(), commandId: `open-${epoch}-${randomUUID()}` },
      );
    }
    if (command === 'close') {
      runner.start();
      const started = Date.now();
      await pipeline.close(epoch!, { actor: 'cli', correlationId: randomUUID() }, (stage) =>
        process.stderr.write(`epoch ${epoch}: ${stage.replace('_', ' ')} (${((Date.now() - started) / 1000).toFixed(1)} s)\n`),
      );
    }
    const ledger = await loadLatest(context.store, network.networkDecider);
    const epochs = [...ledger.epochs.values()].filter((info) => epoch === undefined || info.epoch === epoch);
    if (epoch !== undefined && epochs.length === 0) throw new UsageError(`epoch ${epoch} was never opened`, false);
    const views = [];
    for (const info of epochs) {
      const stage = await pipeline.stage(info.epoch);
      const row = stage === 'open' ? undefined : await pipeline.settledEpoch(info.epoch).catch(() => undefined);
      views.push({ epoch: info.epoch, status: info.status, stage, rewardPool: info.rewardPool.toString(), paid: row?.paid ?? null, synqers: row?.synqers ?? null, root: row?.root ?? null, digest: row?.digest ?? null });
    }
    if (json) process.stdout.write(`${JSON.stringify({ epochs: views }, null, 2)}\n`);
    else {
      for (const v of views) {
        process.stdout.write(`epoch ${v.epoch}: ${v.stage}, pool ${v.rewardPool}${v.paid !== null ? `, paid ${v.paid} to ${v.synqers} synqers, root ${v.root}, digest ${v.digest}` : ''}\n`);
      }
    }
  } finally {
    await runner.stop();
    await context.close();
  }
});
