import { randomUUID } from 'node:crypto';
import { noMoreWords, readCommandLine, UsageError, wholeNumber } from '../src/cli/arguments';
import { jobResult, openCliContext, runCli } from '../src/cli/context';
import { createEpochClose } from '../src/epochs/epoch-close';
import { changeNetwork } from '../src/network/network';

/**
 * `synq epochs` (src/cli/commands.ts). `open N` records the epoch as POST /epochs does (src/network/network.ts
 * `changeNetwork`). `close N` runs the epoch close pipeline (close, rewards, distribution; src/epochs/epoch-close.ts,
 * as POST /epochs/N/close), resuming where an earlier run stopped; the projections are processed by a running engine
 * or, when there is none, by this command. `status` lists the epochs.
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
  try {
    const runner = context.projectionRunner();
    const pipeline = createEpochClose({ store: context.store, runner, reader: context.reader });
    if (command === 'open') {
      // The same decision as POST /epochs: numbered without gaps, never overlapping, the pool within the treasury.
      await changeNetwork(
        context.store,
        { type: 'OpenEpoch', data: { epoch, start: commandLine.value('--start'), end: commandLine.value('--end'), rewardPool: commandLine.value('--pool') } },
        { actor: 'cli', correlationId: randomUUID(), commandId: `open-${epoch}-${randomUUID()}` },
      );
    }
    if (command === 'close') {
      runner.start();
      const started = Date.now();
      // As a job, as POST /epochs/N/close runs it (or the one an engine is running for the epoch already).
      const job = await pipeline.start(context.jobs(), epoch!, { actor: 'cli', correlationId: randomUUID() });
      process.stderr.write(`epoch ${epoch}: close job ${job.id}${context.jobs().runsHere(job.id) ? '' : ' (running already elsewhere: following it)'}\n`);
      let shown = '';
      await jobResult(context.jobs(), job, ({ phase }) => {
        if (phase === shown || phase === 'open') return;
        shown = phase;
        process.stderr.write(`epoch ${epoch}: ${phase.replace('_', ' ')} (${((Date.now() - started) / 1000).toFixed(1)} s)\n`);
      });
    }
    const views = await pipeline.progress(epoch);
    if (epoch !== undefined && views.length === 0) throw new UsageError(`epoch ${epoch} was never opened`, false);
    if (json) process.stdout.write(`${JSON.stringify({ epochs: views }, null, 2)}\n`);
    else {
      for (const v of views) {
        process.stdout.write(
          `epoch ${v.epoch}: ${v.stage}, pool ${v.rewardPool}${v.paid !== null ? `, paid ${v.paid} to ${v.synqers} synqers, root ${v.root}, digest ${v.digest}` : ''}\n`,
        );
      }
    }
  } finally {
    await context.close();
  }
});
