import { randomUUID } from 'node:crypto';
import { noMoreWords, readCommandLine, wholeNumber } from '../src/cli/arguments';
import { openCliContext, runCli } from '../src/cli/context';
import { progress } from '../src/cli/progress';
import { loadTreasuryKey } from '../src/chain/treasury-key';
import { payoutDecider } from '../domain/epoch-payout';
import { networkDecider } from '../domain/network';
import { policyFor } from '../domain/policy';
import { load, loadLatest } from '../src/commands/streams';
import { ProjectionReader } from '../src/projections/projection-reader';
import { describePayout } from '../src/settlement/settlement.module';
import { PayoutExecutor } from '../src/settlement/payout-executor';
import { ChainVerifier } from '../src/verification/chain-verifier';

/**
 * `synq settle N` (src/cli/commands.ts): settles closed epoch N in the mode it was opened under (web2 in the books,
 * hybrid by SPL transfers, web3 by anchoring its root), resuming an interrupted settlement. With the embedded chain,
 * the engine must be stopped (it owns the chain): while it runs, use POST /epochs/N/settlement.
 */
runCli('settle', async () => {
  const commandLine = readCommandLine('settle', process.argv.slice(2));
  const epoch = wholeNumber('the epoch', commandLine.words[0], 1, 1_000_000_000);
  noMoreWords(commandLine.words, 1);
  const context = await openCliContext();
  try {
    const chain = await context.openChain();
    await context.catchUp(['settlement']);
    const executor = new PayoutExecutor(context.store, chain, new ProjectionReader(context.database.pool), () => loadTreasuryKey(context.config));
    const bar = progress(`settling epoch ${epoch}`, 'transactions');
    await executor.settle(epoch, { actor: 'cli', correlationId: randomUUID(), commandId: `settle-${epoch}-${randomUUID()}` }, { onProgress: (done, total) => bar.update(done, total) });
    bar.finish();
    const { state: settledState } = await load(context.store, payoutDecider, epoch);
    // Hybrid and web3: the chain executed, now the chain is verified against the books (a discrepancy pauses settlement).
    const run = settledState.plan?.mode === 'web2' ? null : await new ChainVerifier(context.store, chain, new ProjectionReader(context.database.pool)).run({ actor: 'cli', correlationId: randomUUID() });
    const state = settledState;
    const view = { ...describePayout(state, policyFor((await loadLatest(context.store, networkDecider)).policies, epoch).solPriceInSynq), verification: run && { runId: run.runId, discrepancyCount: run.discrepancyCount, byType: run.byType } };
    if (commandLine.has('--json')) process.stdout.write(`${JSON.stringify(view, null, 2)}\n`);
    else {
      process.stdout.write(
        `epoch ${epoch}: ${view.status} (${view.mode}), ${view.leafCount} payouts totalling ${view.total}, ${view.transactions.confirmed} transactions, ` +
          `fees ${view.cost.feeLamports} + rent ${view.cost.rentLamports} lamports${view.cost.percentOfPaid === null ? '' : ` (${view.cost.percentOfPaid}% of rewards paid)`}\n`,
      );
      if (run) process.stdout.write(`verification run ${run.runId}: ${run.discrepancyCount === 0 ? 'the chain matches the books' : `${run.discrepancyCount} discrepancies, settlement paused (npm run verify -- chain lists them)`}\n`);
    }
    return run && run.discrepancyCount > 0 ? 1 : 0;
  } finally {
    await context.close();
  }
});
