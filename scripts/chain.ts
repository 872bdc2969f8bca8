import { randomUUID } from 'node:crypto';
import { noMoreWords, readCommandLine, UsageError, wholeNumber } from '../src/cli/arguments';
import { EmbeddedChain } from '../src/chain/embedded-chain';
import { MAX_CLOCK_ADVANCE_SECONDS } from '../src/treasury/treasury.module';
import { openCliContext, runCli } from '../src/cli/context';
import { createTreasurySetup } from '../src/treasury/chain-setup';

/**
 * `synq chain` (src/cli/commands.ts), through src/treasury/chain-setup.ts's TreasurySetup as POST /chain/init and
 * GET /chain. `init` sets the chain up for settlement and records it: on the embedded chain it creates the mint,
 * treasury and stake vault; on a cluster (SOLANA_RPC_URL) it takes `--mint` and the treasury key from
 * SYNQ_TREASURY_KEYPAIR. `status` shows the recorded accounts and their balances on chain. The key is never printed.
 * `clock --advance SECONDS` moves the embedded chain's clock forward (as POST /chain/clock), e.g. past a claim deadline.
 */
runCli('chain', async () => {
  const commandLine = readCommandLine('chain', process.argv.slice(2));
  const [command] = commandLine.words;
  if (command !== 'init' && command !== 'status' && command !== 'clock')
    throw new UsageError(command === undefined ? 'say what to do: init, status or clock' : `unknown subcommand "${command}" (expected init, status or clock)`);
  noMoreWords(commandLine.words, 1);
  const advance = command === 'clock' ? wholeNumber('--advance', commandLine.value('--advance'), 1, MAX_CLOCK_ADVANCE_SECONDS) : undefined;
  const supplyText = commandLine.value('--supply');
  if (supplyText !== undefined && !/^(0|[1-9]\d{0,30})$/.test(supplyText))
    throw new UsageError(`--supply must be a whole number of base units, got "${supplyText}"`);
  const mint = commandLine.value('--mint');
  const json = commandLine.has('--json');
  const context = await openCliContext();
  try {
    if (advance !== undefined) {
      const chain = await context.openChain();
      if (!(chain instanceof EmbeddedChain))
        throw new UsageError("clock: only the embedded chain's clock can be moved (SOLANA_RPC_URL names a cluster)", false);
      const unixTimestamp = Number(await chain.advanceClock(BigInt(advance)));
      const at = new Date(unixTimestamp * 1000).toISOString();
      process.stdout.write(json ? `${JSON.stringify({ unixTimestamp, at }, null, 2)}\n` : `the embedded chain's clock is now ${at} (unix ${unixTimestamp})\n`);
      return 0;
    }
    const treasury = createTreasurySetup({ chain: await context.openChain(), store: context.store, config: context.config });
    if (command === 'init') {
      const { setup, created } = await treasury.init(
        { supply: supplyText === undefined ? undefined : BigInt(supplyText), mint, log: (line) => process.stderr.write(`${line}\n`) },
        { actor: 'cli', correlationId: randomUUID(), commandId: `chain-init-${randomUUID()}` },
      );
      if (json) process.stdout.write(`${JSON.stringify({ created, ...setup }, null, 2)}\n`);
      else
        process.stdout.write(
          `${created ? 'set up' : 'already set up'}: cluster ${setup.cluster}, mint ${setup.mint}, treasury ${setup.treasuryAccount} (authority ${setup.treasuryAuthority}), stake vault ${setup.stakeVault}\n`,
        );
      return 0;
    }
    const status = await treasury.status();
    if (!status) throw new UsageError('the chain is not set up: run synq chain init', false);
    const { gateway: _gateway, blockHeight: _blockHeight, balances: all, ...setup } = status;
    const balances = { mintSupply: all.mintSupply, treasury: all.treasury, stakeVault: all.stakeVault };
    if (json) process.stdout.write(`${JSON.stringify({ ...setup, balances }, null, 2)}\n`);
    else
      process.stdout.write(
        `cluster ${setup.cluster}\nmint ${setup.mint} (supply ${balances.mintSupply})\ntreasury ${setup.treasuryAccount} (${balances.treasury})\nstake vault ${setup.stakeVault} (${balances.stakeVault})\n`,
      );
    return 0;
  } finally {
    await context.close();
  }
});
