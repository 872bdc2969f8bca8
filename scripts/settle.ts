import { randomUUID } from 'node:crypto';
import { noMoreWords, readCommandLine, wholeNumber } from '../src/cli/arguments';
import { jobResult, openCliContext, runCli } from '../src/cli/context';
import { progress } from '../src/cli/progress';
import { createSettlement, SETTLEMENT_PHASES } from '../src/settlement/settle-epoch';
import { createVerification } from '../src/verification/chain-verifier';

/**
 * `synq settle N` (src/cli/commands.ts): settles closed epoch N in the mode it was opened under (web2 in the books,
 * hybrid by SPL transfers, web3 by anchoring its root), resuming an interrupted settlement, then verifies the chain
 * (src/settlement/settle-epoch.ts, as POST /epochs/N/settlement). With the embedded chain, the engine must be stopped
 * (it owns the chain): while it runs, use POST /epochs/N/settlement.
 */
runCli('settle', async () => {
  const commandLine = readCommandLine('settle', process.argv.slice(2));
  const epoch = wholeNumber('the epoch', commandLine.words[0], 1, 1_000_000_000);
  noMoreWords(commandLine.words, 1);
  const context = await openCliContext();
  try {
    const chain = await context.openChain();
    await context.catchUp(['settlement']);
    const { store, reader, treasuryKey } = context;
    const { settleEpoch } = createSettlement({
      store,
      chain,
      reader,
      treasuryKey,
      verifier: createVerification({ store, chain, reader, pool: context.database.pool }),
    });
    // As a job, as POST /epochs/N/settlement runs it (or the one an engine is running for the epoch already).
    const job = await settleEpoch.start(context.jobs(), epoch, { actor: 'cli', correlationId: randomUUID(), commandId: `settle-${epoch}-${randomUUID()}` });
    process.stderr.write(`epoch ${epoch}: settlement job ${job.id}${context.jobs().runsHere(job.id) ? '' : ' (running already elsewhere: following it)'}\n`);
    const bar = progress(`settling epoch ${epoch}`, 'transactions');
    let settling = true;
    const view = await jobResult<Awaited<ReturnType<typeof settleEpoch.run>>>(context.jobs(), job, ({ done, total, phase }) => {
      if (phase === SETTLEMENT_PHASES.transactions) bar.update(done, total);
      else if (settling) {
        settling = false;
        bar.finish();
      }
    });
    if (settling) bar.finish();
    const run = view.verification;
    if (commandLine.has('--json')) process.stdout.write(`${JSON.stringify(view, null, 2)}\n`);
    else {
      process.stdout.write(
        `epoch ${epoch}: ${view.status} (${view.mode}), ${view.leafCount} payouts totalling ${view.total}, ${view.transactions.confirmed} transactions, ` +
          `fees ${view.cost.feeLamports} + rent ${view.cost.rentLamports} lamports${view.cost.percentOfPaid === null ? '' : ` (${view.cost.percentOfPaid}% of rewards paid)`}\n`,
      );
      if (run)
        process.stdout.write(
          `verification run ${run.runId}: ${run.discrepancyCount === 0 ? 'the chain matches the books' : `${run.discrepancyCount} discrepancies, settlement paused (npm run verify -- chain lists them)`}\n`,
        );
    }
    return run && run.discrepancyCount > 0 ? 1 : 0;
  } finally {
    await context.close();
  }
});
