import { randomUUID } from 'node:crypto';
import { noMoreWords, readCommandLine, wholeNumber } from '../src/cli/arguments';
import { openCliContext, runCli } from '../src/cli/context';
import { ClaimObserver } from '../src/claims/claims';
import { createClawback } from '../src/clawback/clawback';

/**
 * `synq clawback --epoch N` (src/cli/commands.ts): after web3 epoch N's claim deadline (by the chain clock), claws back
 * what is unclaimed in its distributor to the treasury, once, and applies the unclaimed-rewards policy in force for
 * the epoch (src/clawback/clawback.ts, as POST /epochs/N/clawback). With the embedded chain, the engine must be
 * stopped (it owns the chain): while it runs, use POST /epochs/N/clawback.
 */
runCli('clawback', async () => {
  const commandLine = readCommandLine('clawback', process.argv.slice(2));
  noMoreWords(commandLine.words, 0);
  const epoch = wholeNumber('--epoch', commandLine.value('--epoch'), 1, 1_000_000_000);
  const context = await openCliContext();
  try {
    const chain = await context.openChain();
    await context.catchUp(['settlement']);
    const observer = new ClaimObserver({ store: context.store, chain, reader: context.reader });
    const clawback = createClawback({ store: context.store, chain, reader: context.reader, treasuryKey: context.treasuryKey, observer });
    const view = await clawback.run(epoch, { actor: 'cli', correlationId: randomUUID(), commandId: `clawback-${epoch}-${randomUUID()}` });
    if (commandLine.has('--json')) process.stdout.write(`${JSON.stringify(view, null, 2)}\n`);
    else
      process.stdout.write(
        `epoch ${epoch}: clawed back ${view.amount} base units (${view.signature}); ${view.unclaimed?.count} leaves unclaimed totalling ${view.unclaimed?.total}, ` +
          `policy ${view.policy}${view.mismatch !== '0' ? `; the amount differs from the unclaimed leaves by ${view.mismatch}` : ''}\n`,
      );
    return 0;
  } finally {
    await context.close();
  }
});
