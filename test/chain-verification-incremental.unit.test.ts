import { isFinal, verifyChain, type ChainTransactionFacts, type PayoutLeaf, type VerificationInput } from '../domain/chain-verification';
import { evolvePayout, initialPayout, payoutMemo, type PayoutEvent, type PayoutState, type SettlementPlan } from '../domain/epoch-payout';
import type { EpochInfo } from '../domain/network';

/**
 * Incremental replay-verification in the domain (domain/chain-verification.ts): a run that takes final epochs from an
 * earlier run's results (`verifiedEpochs`) and looks only at the treasury signatures after those it saw finds what a
 * run over everything finds, and counts the same; a full run compares what was recorded with what it proves again.
 * Hand-made facts: hybrid epochs 1 to 3 of two leaves each, paid from a treasury of 10,000 in one transaction each.
 */
const programs = { token: 'TOKEN', memo: 'MEMO', distributor: 'DISTRIBUTOR_PROGRAM' };
const setup = {
  cluster: 'embedded:test',
  mint: 'MINT',
  decimals: 6,
  treasuryAuthority: 'AUTHORITY',
  treasuryAccount: 'TREASURY',
  stakeVault: 'STAKE_VAULT',
  treasuryOpeningBalance: '10000',
  stakeVaultOpeningBalance: '0',
  mintSupplyAtSetup: '50000',
  signatures: [],
};
const u64 = (value: bigint) => {
  const out = Buffer.alloc(8);
  out.writeBigUInt64LE(value);
  return out;
};
const transferChecked = (destination: string, amount: bigint) => ({
  programId: programs.token,
  accounts: [setup.treasuryAccount, setup.mint, destination, setup.treasuryAuthority],
  data: Buffer.concat([Buffer.from([12]), u64(amount), Buffer.from([6])]),
});
const memo = (text: string) => ({ programId: programs.memo, accounts: [], data: Buffer.from(text) });
const root = (epoch: number) => `${epoch}`.padStart(64, '0');

/** Epoch `epoch`'s leaves: wallets W<epoch>a and W<epoch>b, 100 × epoch and 50; the second repeats epoch 1's first leaf in epoch 3. */
function leavesOf(epoch: number): PayoutLeaf[] {
  const second: PayoutLeaf =
    epoch === 3 ? { wallet: 'W1a', account: 'ATA-W1a', amount: 100n } : { wallet: `W${epoch}b`, account: `ATA-W${epoch}b`, amount: 50n };
  return [{ wallet: `W${epoch}a`, account: `ATA-W${epoch}a`, amount: 100n * BigInt(epoch) }, second];
}

function settled(epoch: number): { state: PayoutState; leaves: PayoutLeaf[]; transaction: ChainTransactionFacts } {
  const leaves = leavesOf(epoch);
  const total = leaves.reduce((sum, leaf) => sum + leaf.amount, 0n);
  const plan: SettlementPlan = {
    epoch,
    mode: 'hybrid',
    root: root(epoch),
    leafCount: 2,
    total: total.toString(),
    batches: [{ batch: 0, kind: 'payout', firstLeaf: 0, leafCount: 2, creates: '11' }],
  };
  const signature = `PAY${epoch}`;
  const events: PayoutEvent[] = [
    { type: 'SettlementPlanned', data: plan },
    {
      type: 'SettlementTransactionSigned',
      data: { epoch, batch: 0, attempt: 1, signature, blockhash: 'B', lastValidBlockHeight: '10', wire: '', rent: '0' },
    },
    { type: 'SettlementTransactionConfirmed', data: { epoch, batch: 0, signature, slot: '1', fee: '5000' } },
    {
      type: 'EpochSettled',
      data: { epoch, mode: 'hybrid', root: plan.root, paid: plan.total, leafCount: 2, transactions: 1, feeLamports: '5000', rentLamports: '0' },
    },
  ];
  const state = initialPayout();
  for (const event of events) evolvePayout(state, event);
  return {
    state,
    leaves,
    transaction: {
      signature,
      error: null,
      signers: [setup.treasuryAuthority],
      instructions: [...leaves.map((leaf) => transferChecked(leaf.account, leaf.amount)), memo(payoutMemo(epoch, 0, plan.root))],
    },
  };
}

const epochInfo = (epoch: number): EpochInfo => ({ epoch, start: 0, end: 1, rewardPool: 1000n, status: 'closed' });
const epochs = [1, 2, 3].map(settled);
const paidOut = epochs.reduce((sum, { leaves }) => sum + leaves.reduce((s, leaf) => s + leaf.amount, 0n), 0n);

/** A run over everything; `extra`: transactions naming the treasury after the settlements (out of band). */
function fullInput(extra: ChainTransactionFacts[] = [], treasury = 10_000n - paidOut): VerificationInput {
  const transactions = new Map([...epochs.map(({ transaction }) => transaction), ...extra].map((t) => [t.signature, t]));
  return {
    setup,
    programs,
    payouts: epochs.map(({ state, leaves }) => ({ state, leaves })),
    credits: [],
    transfers: [],
    transactions,
    treasurySignatures: [...transactions.keys()],
    stakeVaultSignatures: [],
    balances: { treasury, stakeVault: 0n, mintSupply: 50_000n },
    distributors: [],
    chainClock: null,
    liabilities: {
      epochs: [1, 2, 3].map(epochInfo),
      orders: [],
      backedStakeOwed: 0n,
      purchases: [],
      withdrawalsWithoutOrder: [],
      carried: 30n,
      carriedByEpoch: new Map([
        [1, 10n],
        [2, 20n],
      ]),
    },
  };
}

/** The same, as a run that takes epochs 1 and 2 from `earlier`'s results and looks only at the treasury signatures after those of the settlements. */
function incrementalInput(full: VerificationInput, earlier = verifyChain(fullInput())): VerificationInput {
  const verifiedEpochs = earlier.epochs.filter((epoch) => epoch.epoch !== 3);
  expect(verifiedEpochs.every(isFinal)).toBe(true);
  return {
    ...full,
    payouts: full.payouts.filter(({ state }) => state.plan!.epoch === 3),
    treasurySignatures: full.treasurySignatures.filter((signature) => signature !== 'PAY1' && signature !== 'PAY2'),
    earlierTreasuryTransactions: 2,
    verifiedEpochs,
    verifiedLeafPayments: new Map(epochs.slice(0, 2).flatMap(({ leaves }, i) => leaves.map((leaf) => [`${leaf.account}:${leaf.amount}`, i + 1] as const))),
    liabilities: { ...full.liabilities, carried: 0n, carriedByEpoch: new Map() },
  };
}

describe('incremental replay-verification (domain)', () => {
  it('a clean history: every epoch final, with its share of the checks and of the treasury', () => {
    const result = verifyChain(fullInput());
    expect(result.discrepancies).toEqual([]);
    expect(result.epochs.map((epoch) => [epoch.epoch, epoch.treasuryOut, epoch.carried, epoch.checked.payouts, isFinal(epoch)])).toEqual([
      [1, 150n, 10n, 2, true],
      [2, 250n, 20n, 2, true],
      [3, 400n, 0n, 2, true],
    ]);
    const incremental = verifyChain(incrementalInput(fullInput()));
    expect(incremental).toMatchObject({ discrepancies: [], checked: result.checked });
    expect(incremental.epochs.map((epoch) => epoch.epoch)).toEqual([3]);
  });

  it('finds what a full run finds after the checkpoint: a transfer out of band, and one that repeats a leaf of a verified epoch', () => {
    const rogue: ChainTransactionFacts = { signature: 'ROGUE', error: null, signers: ['AUTHORITY'], instructions: [transferChecked('ATA-THIEF', 100n)] };
    const repeat: ChainTransactionFacts = { signature: 'REPEAT', error: null, signers: ['AUTHORITY'], instructions: [transferChecked('ATA-W2a', 200n)] };
    const full = verifyChain(fullInput([rogue, repeat]));
    expect(full.discrepancies.map((d) => [d.type, d.epoch, d.signature])).toEqual([
      ['unrecorded_treasury_transfer', null, 'ROGUE'],
      ['leaf_paid_twice', 2, 'REPEAT'],
    ]);
    const incremental = verifyChain(incrementalInput(fullInput([rogue, repeat])));
    expect(incremental.discrepancies).toEqual(full.discrepancies);
    expect(incremental.checked).toEqual(full.checked);
    // A leaf repeated in two epochs is the latest one's, whichever of them was verified before.
    const twice: ChainTransactionFacts = { signature: 'TWICE', error: null, signers: ['AUTHORITY'], instructions: [transferChecked('ATA-W1a', 100n)] };
    const both = [verifyChain(fullInput([twice])), verifyChain(incrementalInput(fullInput([twice])))];
    for (const result of both) expect(result.discrepancies.find((d) => d.signature === 'TWICE')).toMatchObject({ type: 'leaf_paid_twice', epoch: 3 });
  });

  it('counts what verified epochs took from the treasury and carried: a treasury short by one is found either way', () => {
    const full = verifyChain(fullInput([], 10_000n - paidOut - 1n));
    const incremental = verifyChain(incrementalInput(fullInput([], 10_000n - paidOut - 1n)));
    expect(full.discrepancies).toEqual([expect.objectContaining({ type: 'treasury_balance_mismatch', expected: (10_000n - paidOut).toString() })]);
    expect(incremental.discrepancies).toEqual(full.discrepancies);
    // Reservations: the verified epochs are settled, nothing reserved; their carries are still owed.
    const short = { ...fullInput([], 25n), liabilities: { ...fullInput().liabilities, epochs: [...[1, 2, 3].map(epochInfo), epochInfo(4)] } };
    const reserved = (input: VerificationInput) => verifyChain(input).discrepancies.find((d) => d.type === 'treasury_below_reserved')?.expected;
    expect(reserved(short)).toBe('1030');
    expect(reserved(incrementalInput(short))).toBe('1030');
  });

  it('a full run compares what earlier runs recorded: a checkpoint that does not hold is a checkpoint_mismatch', () => {
    const earlier = verifyChain(fullInput()).epochs;
    const tampered = earlier.map((epoch) => (epoch.epoch === 2 ? { ...epoch, treasuryOut: epoch.treasuryOut + 1n } : epoch));
    const full = verifyChain({ ...fullInput(), checkpoints: tampered });
    expect(full.discrepancies).toEqual([
      expect.objectContaining({ type: 'checkpoint_mismatch', epoch: 2, expected: expect.stringContaining('"251"'), actual: expect.stringContaining('"250"') }),
    ]);
    expect(verifyChain({ ...fullInput(), checkpoints: earlier }).discrepancies).toEqual([]);
    // The incremental run that believed it sees the treasury a unit off.
    const believed = verifyChain(incrementalInput(fullInput(), { ...verifyChain(fullInput()), epochs: tampered }));
    expect(believed.discrepancies).toEqual([expect.objectContaining({ type: 'treasury_balance_mismatch' })]);
  });
});
