import { randomUUID } from 'node:crypto';
import { noMoreWords, readCommandLine, UsageError } from '../src/cli/arguments';
import { jobResult, openCliContext, runCli } from '../src/cli/context';
import { progress } from '../src/cli/progress';
import type { VerificationRun } from '../domain/chain-verification';
import { createVerification } from '../src/verification/chain-verifier';

/**
 * `synq verify chain` (src/cli/commands.ts): replay-verification of the chain against the books
 * (domain/chain-verification.ts; src/verification/chain-verifier.ts, as POST /verification/runs): what is new since the
 * last run's checkpoints, or everything with --full. The run is recorded;
 * exit code 1 when it found a discrepancy (each listed with its type, epoch, account and both values), 0 when none.
 */
runCli('verify', async () => {
  const commandLine = readCommandLine('verify', process.argv.slice(2));
  const [what] = commandLine.words;
  if (what !== 'chain') throw new UsageError(what === undefined ? 'say what to verify: chain' : `unknown subcommand "${what}" (expected chain)`);
  noMoreWords(commandLine.words, 1);
  const context = await openCliContext();
  try {
    const chain = await context.openChain();
    await context.catchUp(['settlement']);
    // As a job, as POST /verification/runs runs it.
    const job = await createVerification({ store: context.store, chain, reader: context.reader, pool: context.database.pool }).start(
      context.jobs(),
      { actor: 'cli', correlationId: randomUUID() },
      { full: commandLine.has('--full') },
    );
    process.stderr.write(`verification job ${job.id}\n`);
    const bar = progress('verifying', 'transactions');
    const run = await jobResult<VerificationRun>(context.jobs(), job, ({ done, total }) => bar.update(done, total));
    bar.finish();
    if (commandLine.has('--json')) process.stdout.write(`${JSON.stringify(run, null, 2)}\n`);
    else {
      process.stdout.write(
        `verification run ${run.runId} on ${run.cluster}: ${run.discrepancyCount} discrepancies (${run.checked.settlementTransactions} settlement transactions, ${run.checked.payouts} payouts, ${run.checked.credits} credits checked)\n` +
          (run.coverage?.scope === 'incremental'
            ? `  incremental: ${run.coverage.reverifiedEpochs.length} epochs verified again, ${run.coverage.reusedEpochs} taken from checkpoints (--full checks them all)\n`
            : ''),
      );
      for (const d of run.discrepancies) {
        process.stdout.write(
          `  ${d.type}${d.epoch === null ? '' : ` epoch ${d.epoch}`}${d.account ? ` account ${d.account}` : ''}${d.signature ? ` tx ${d.signature}` : ''}: expected ${d.expected ?? '-'}, chain ${d.actual ?? '-'} (${d.detail})\n`,
        );
      }
      if (run.discrepancyCount > 0) process.stdout.write('settlement is paused until an operator acknowledges it (POST /settlement/resume with a reason)\n');
    }
    return run.discrepancyCount > 0 ? 1 : 0;
  } finally {
    await context.close();
  }
});
