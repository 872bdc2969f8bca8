import {
  DISCREPANCY_TYPES,
  verifyChain,
  type ChainTransactionFacts,
  type DistributorFacts,
  type DistributorLeafFacts,
  type VerificationInput,
} from '../domain/chain-verification';
import { anchorMemo, evolvePayout, initialPayout, type PayoutEvent, type SettlementPlan } from '../domain/epoch-payout';
import { CLAWBACK_DISCRIMINATOR, NEW_CLAIM_DISCRIMINATOR, newClaimData, type MerkleDistributorAccount } from '../domain/jito-distributor';

/**
 * The distributor checks of replay-verification (domain/chain-verification.ts), from hand-made facts: one web3 epoch
 * (7) of three leaves, funded with 600 from a treasury of 1,000.
 */
const programs = { token: 'TOKEN', memo: 'MEMO', distributor: 'DISTRIBUTOR_PROGRAM' };
const setup = {
  cluster: 'embedded:test',
  mint: 'MINT',
  decimals: 6,
  treasuryAuthority: 'AUTHORITY',
  treasuryAccount: 'TREASURY',
  stakeVault: 'STAKE_VAULT',
  treasuryOpeningBalance: '1000',
  stakeVaultOpeningBalance: '0',
  mintSupplyAtSetup: '5000',
  signatures: [],
};
const EPOCH = 7;
const ROOT = 'ab'.repeat(32);
const accounts = { version: EPOCH, address: 'DIST7', vault: 'VAULT7', admin: 'AUTHORITY', clawbackReceiver: 'TREASURY' };
const plan: SettlementPlan = {
  epoch: EPOCH,
  mode: 'web3',
  root: ROOT,
  leafCount: 3,
  total: '600',
  batches: [{ batch: 0, kind: 'distributor', firstLeaf: 0, leafCount: 3, creates: '' }],
  distributor: accounts,
};
const FUNDING = 'FUNDING_SIG';
const CLOCK = 1_000_000n;
const CLAWBACK_START = 2_000_000n;

const u64 = (value: bigint) => {
  const out = Buffer.alloc(8);
  out.writeBigUInt64LE(value);
  return out;
};
const transferChecked = (source: string, destination: string, amount: bigint) => ({
  programId: programs.token,
  accounts: [source, setup.mint, destination, setup.treasuryAuthority],
  data: Buffer.concat([Buffer.from([12]), u64(amount), Buffer.from([6])]),
});
const memo = (text: string) => ({ programId: programs.memo, accounts: [], data: Buffer.from(text) });

function payout(status: 'confirmed' | 'awaiting' | 'unsigned' = 'confirmed') {
  const state = initialPayout();
  const events: PayoutEvent[] = [{ type: 'SettlementPlanned', data: plan }];
  if (status !== 'unsigned') {
    events.push({
      type: 'SettlementTransactionSigned',
      data: { epoch: EPOCH, batch: 0, attempt: 1, signature: FUNDING, blockhash: 'B', lastValidBlockHeight: '10', wire: '', rent: '0' },
    });
  }
  if (status === 'confirmed')
    events.push({ type: 'SettlementTransactionConfirmed', data: { epoch: EPOCH, batch: 0, signature: FUNDING, slot: '1', fee: '5000' } });
  for (const event of events) evolvePayout(state, event);
  return state;
}

const funding: ChainTransactionFacts = {
  signature: FUNDING,
  error: null,
  signers: [setup.treasuryAuthority],
  instructions: [
    { programId: programs.distributor, accounts: [accounts.address, 'TREASURY', 'MINT', accounts.vault, 'AUTHORITY'], data: Buffer.alloc(8) },
    transferChecked(setup.treasuryAccount, accounts.vault, 600n),
    memo(anchorMemo(plan)),
  ],
};

const leafAmounts: [string, bigint][] = [
  ['W1', 100n],
  ['W2', 200n],
  ['W3', 300n],
];

function distributorAccount(overrides: Partial<MerkleDistributorAccount> = {}): MerkleDistributorAccount {
  return {
    bump: 255,
    version: BigInt(EPOCH),
    root: Buffer.from(ROOT, 'hex'),
    mint: setup.mint,
    tokenVault: accounts.vault,
    maxTotalClaim: 600n,
    maxNumNodes: 3n,
    totalAmountClaimed: 0n,
    numNodesClaimed: 0n,
    startTs: 100n,
    endTs: 101n,
    clawbackStartTs: CLAWBACK_START,
    clawbackReceiver: setup.treasuryAccount,
    admin: setup.treasuryAuthority,
    clawedBack: false,
    ...overrides,
  };
}

/** Wallets that claimed (with the amount their ClaimStatus unlocked, their leaf's unless told). */
function leaves(claimed: Record<string, bigint> = {}): DistributorLeafFacts[] {
  return leafAmounts.map(([wallet, amount]) => ({
    wallet,
    account: `ATA_${wallet}`,
    amount,
    claimStatus: `CS_${wallet}`,
    claim: wallet in claimed ? { claimant: wallet, lockedAmount: 0n, lockedAmountWithdrawn: 0n, unlockedAmount: claimed[wallet] } : null,
  }));
}

const claimTransaction = (signature: string, claimant: string, amount: bigint, to = `ATA_${claimant}`): ChainTransactionFacts => ({
  signature,
  error: null,
  signers: [claimant],
  instructions: [
    {
      programId: programs.distributor,
      accounts: [accounts.address, `CS_${claimant}`, accounts.vault, to, claimant, programs.token, 'SYSTEM'],
      data: newClaimData(amount, 0n, [Buffer.alloc(32, 1)]),
    },
  ],
});
const clawbackTransaction = (signature: string, receiver = setup.treasuryAccount): ChainTransactionFacts => ({
  signature,
  error: null,
  signers: ['ANYONE'],
  instructions: [
    {
      programId: programs.distributor,
      accounts: [accounts.address, accounts.vault, receiver, 'ANYONE', 'SYSTEM', programs.token],
      data: Buffer.from(CLAWBACK_DISCRIMINATOR),
    },
  ],
});

interface Scenario {
  status?: 'confirmed' | 'awaiting' | 'unsigned';
  facts?: Partial<DistributorFacts> | null;
  extra?: ChainTransactionFacts[];
  treasury?: bigint;
  treasurySignatures?: string[];
  chainClock?: bigint | null;
}

function input(scenario: Scenario = {}): VerificationInput {
  const facts: DistributorFacts = {
    epoch: EPOCH,
    account: distributorAccount(),
    vaultBalance: 600n,
    leaves: leaves(),
    vaultSignatures: [FUNDING, ...(scenario.extra ?? []).map((t) => t.signature)],
    ...scenario.facts,
  };
  return {
    setup,
    programs,
    payouts: [{ state: payout(scenario.status), leaves: [] }],
    credits: [],
    transfers: [],
    transactions: new Map([funding, ...(scenario.extra ?? [])].map((t) => [t.signature, t])),
    treasurySignatures: [FUNDING, ...(scenario.treasurySignatures ?? [])],
    stakeVaultSignatures: [],
    balances: { treasury: scenario.treasury ?? 400n, stakeVault: 0n, mintSupply: 5000n },
    distributors: scenario.facts === null ? [] : [facts],
    chainClock: scenario.chainClock === undefined ? CLOCK : scenario.chainClock,
    liabilities: { epochs: [], orders: [], backedStakeOwed: 0n, purchases: [], withdrawalsWithoutOrder: [] },
  };
}

const run = (scenario: Scenario = {}) => verifyChain(input(scenario));
const types = (scenario: Scenario = {}) => run(scenario).discrepancies.map((d) => d.type);

describe('replay-verification of web3 distributors and their claims', () => {
  it('lists every new discrepancy type', () => {
    for (const type of [
      'distributor_missing',
      'distributor_root_mismatch',
      'distributor_total_mismatch',
      'distributor_vault_mismatch',
      'distributor_clawed_back_early',
      'claim_amount_mismatch',
      'claim_unexplained',
    ])
      expect(DISCREPANCY_TYPES).toContain(type);
  });

  it('is clean for a funded distributor nobody claimed from yet, and counts it', () => {
    const result = run();
    expect(result.discrepancies).toEqual([]);
    expect(result.checked).toMatchObject({ distributors: 1, claims: 0, vaultTransactions: 0, anchors: 1 });
    expect(result.claims).toEqual([]);
  });

  it('is clean after claims by leaf wallets of exactly their amounts, and returns the claims observed with their transactions', () => {
    const result = run({
      facts: { account: distributorAccount({ totalAmountClaimed: 300n, numNodesClaimed: 2n }), vaultBalance: 300n, leaves: leaves({ W1: 100n, W2: 200n }) },
      extra: [claimTransaction('CLAIM_W1', 'W1', 100n), claimTransaction('CLAIM_W2', 'W2', 200n)],
    });
    expect(result.discrepancies).toEqual([]);
    expect(result.checked).toMatchObject({ distributors: 1, claims: 2, vaultTransactions: 2 });
    expect(result.claims).toEqual([
      { epoch: EPOCH, distributor: 'DIST7', wallet: 'W1', claimStatus: 'CS_W1', amount: 100n, signature: 'CLAIM_W1' },
      { epoch: EPOCH, distributor: 'DIST7', wallet: 'W2', claimStatus: 'CS_W2', amount: 200n, signature: 'CLAIM_W2' },
    ]);
  });

  it('does not look at a distributor the books do not count as funded (signed, not landed; or not signed)', () => {
    for (const status of ['unsigned', 'awaiting'] as const) {
      // Nothing landed: not funded, nothing to check (an awaiting attempt is in flight).
      const nothing = input({ status, facts: null, treasury: 1000n });
      const result = verifyChain({ ...nothing, transactions: new Map(), treasurySignatures: [] });
      expect(result.discrepancies).toEqual([]);
      expect(result.checked.distributors).toBe(0);
    }
    // Awaiting and landed: funded.
    expect(types({ status: 'awaiting', facts: null })).toEqual(['distributor_missing']);
  });

  it('distributor_missing: funded in the books, no account on chain (or no facts read)', () => {
    for (const scenario of [{ facts: { account: null, vaultBalance: null } }, { facts: null }]) {
      const { discrepancies, checked } = run(scenario);
      expect(discrepancies).toEqual([
        {
          type: 'distributor_missing',
          epoch: EPOCH,
          account: 'DIST7',
          signature: null,
          expected: '600',
          actual: null,
          detail: expect.stringContaining('no distributor at DIST7'),
        },
      ]);
      expect(checked.distributors).toBe(1);
    }
  });

  it('distributor_root_mismatch: the distributor pays against another root', () => {
    const other = 'cd'.repeat(32);
    expect(run({ facts: { account: distributorAccount({ root: Buffer.from(other, 'hex') }) } }).discrepancies).toEqual([
      expect.objectContaining({ type: 'distributor_root_mismatch', epoch: EPOCH, account: 'DIST7', expected: ROOT, actual: other }),
    ]);
  });

  it('distributor_total_mismatch: max_total_claim or max_num_nodes is not the books', () => {
    expect(run({ facts: { account: distributorAccount({ maxTotalClaim: 601n }) } }).discrepancies).toEqual([
      expect.objectContaining({
        type: 'distributor_total_mismatch',
        account: 'DIST7',
        expected: '600',
        actual: '601',
        detail: expect.stringContaining('max_total_claim'),
      }),
    ]);
    expect(run({ facts: { account: distributorAccount({ maxNumNodes: 4n }) } }).discrepancies).toEqual([
      expect.objectContaining({
        type: 'distributor_total_mismatch',
        account: 'DIST7',
        expected: '3',
        actual: '4',
        detail: expect.stringContaining('max_num_nodes'),
      }),
    ]);
  });

  it('distributor_vault_mismatch: the vault holds other than funded − claimed (short, over, or gone)', () => {
    expect(run({ facts: { vaultBalance: 599n } }).discrepancies).toEqual([
      expect.objectContaining({ type: 'distributor_vault_mismatch', epoch: EPOCH, account: 'VAULT7', expected: '600', actual: '599' }),
    ]);
    expect(run({ facts: { vaultBalance: 601n } }).discrepancies).toEqual([expect.objectContaining({ type: 'distributor_vault_mismatch', actual: '601' })]);
    expect(run({ facts: { vaultBalance: null } }).discrepancies).toEqual([expect.objectContaining({ type: 'distributor_vault_mismatch', actual: null })]);
    // After a claim of 100 the vault must hold 500.
    const claimed = {
      account: distributorAccount({ totalAmountClaimed: 100n, numNodesClaimed: 1n }),
      leaves: leaves({ W1: 100n }),
    };
    expect(types({ facts: { ...claimed, vaultBalance: 500n } })).toEqual([]);
    expect(run({ facts: { ...claimed, vaultBalance: 600n } }).discrepancies).toEqual([
      expect.objectContaining({ type: 'distributor_vault_mismatch', expected: '500', actual: '600' }),
    ]);
  });

  it('claim_amount_mismatch: a leaf wallet ClaimStatus unlocked another amount (or locked some)', () => {
    const result = run({
      facts: { account: distributorAccount({ totalAmountClaimed: 150n, numNodesClaimed: 1n }), vaultBalance: 450n, leaves: leaves({ W1: 150n }) },
    });
    expect(result.discrepancies).toEqual([
      expect.objectContaining({
        type: 'claim_amount_mismatch',
        epoch: EPOCH,
        account: 'CS_W1',
        expected: '100',
        actual: '150',
        detail: expect.stringContaining('W1'),
      }),
    ]);
    const locked = leaves({ W2: 200n });
    locked[1] = { ...locked[1], claim: { ...locked[1].claim!, lockedAmount: 5n } };
    expect(
      run({ facts: { account: distributorAccount({ totalAmountClaimed: 200n, numNodesClaimed: 1n }), vaultBalance: 400n, leaves: locked } }).discrepancies,
    ).toEqual([
      expect.objectContaining({ type: 'claim_amount_mismatch', account: 'CS_W2', expected: '200', actual: '200', detail: expect.stringContaining('locked 5') }),
    ]);
  });

  it('claim_unexplained: the distributor counts more claimed (amount, claims) than its leaves ClaimStatus accounts explain', () => {
    const result = run({
      facts: { account: distributorAccount({ totalAmountClaimed: 150n, numNodesClaimed: 2n }), vaultBalance: 450n, leaves: leaves({ W1: 100n }) },
    });
    expect(result.discrepancies).toEqual([
      expect.objectContaining({
        type: 'claim_unexplained',
        epoch: EPOCH,
        account: 'DIST7',
        expected: '100',
        actual: '150',
        detail: expect.stringContaining('claimed'),
      }),
      expect.objectContaining({
        type: 'claim_unexplained',
        epoch: EPOCH,
        account: 'DIST7',
        expected: '1',
        actual: '2',
        detail: expect.stringContaining('claims'),
      }),
      expect.objectContaining({ type: 'distributor_vault_mismatch', expected: '500', actual: '450' }),
    ]);
  });

  it('claim_unexplained: a claim from the vault by a wallet with no leaf, and tokens out of the vault outside a claim', () => {
    const stranger = claimTransaction('CLAIM_X', 'STRANGER', 50n);
    const result = run({
      facts: { account: distributorAccount({ totalAmountClaimed: 50n, numNodesClaimed: 1n }), vaultBalance: 550n },
      extra: [stranger],
    });
    expect(result.discrepancies).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          type: 'claim_unexplained',
          account: 'ATA_STRANGER',
          signature: 'CLAIM_X',
          expected: '0',
          actual: '50',
          detail: expect.stringContaining('STRANGER'),
        }),
        expect.objectContaining({ type: 'claim_unexplained', account: 'DIST7', expected: '0', actual: '50' }),
        expect.objectContaining({ type: 'distributor_vault_mismatch', expected: '600', actual: '550' }),
      ]),
    );
    expect(result.discrepancies).toHaveLength(4);
    expect(result.claims).toEqual([]);
    const moved: ChainTransactionFacts = { signature: 'MOVE', error: null, signers: ['X'], instructions: [transferChecked(accounts.vault, 'ELSEWHERE', 10n)] };
    expect(run({ extra: [moved] }).discrepancies).toEqual([
      expect.objectContaining({ type: 'claim_unexplained', account: 'ELSEWHERE', signature: 'MOVE', expected: '0', actual: '10' }),
    ]);
    // A failed transaction moved nothing.
    expect(run({ extra: [{ ...moved, error: 'InstructionError' }] }).discrepancies).toEqual([]);
    // The discriminator is read: a new_claim of another distributor is not this one's.
    const elsewhere = claimTransaction('CLAIM_Y', 'STRANGER', 50n);
    elsewhere.instructions[0].accounts[0] = 'DIST8';
    expect(run({ extra: [elsewhere] }).discrepancies).toEqual([]);
    expect(NEW_CLAIM_DISCRIMINATOR.equals(Buffer.from(stranger.instructions[0].data.subarray(0, 8)))).toBe(true);
  });

  it('a clawback empties the vault into the treasury: the treasury counts it, the clawback transaction is not an unrecorded treasury transfer', () => {
    const clawedBack = {
      account: distributorAccount({ totalAmountClaimed: 100n, numNodesClaimed: 1n, clawedBack: true }),
      vaultBalance: 0n,
      leaves: leaves({ W1: 100n }),
    };
    const clean = run({
      facts: clawedBack,
      extra: [claimTransaction('CLAIM_W1', 'W1', 100n), clawbackTransaction('CLAWBACK')],
      treasury: 900n,
      treasurySignatures: ['CLAWBACK'],
      chainClock: CLAWBACK_START + 1n,
    });
    expect(clean.discrepancies).toEqual([]);
    expect(clean.checked).toMatchObject({ claims: 1, vaultTransactions: 2 });
    // The treasury did not get the rest back: the books imply it did.
    expect(
      run({ facts: clawedBack, extra: [clawbackTransaction('CLAWBACK')], treasury: 400n, chainClock: CLAWBACK_START }).discrepancies.map((d) => [
        d.type,
        d.expected,
        d.actual,
      ]),
    ).toEqual([['treasury_balance_mismatch', '900', '400']]);
    // Something stayed in the vault after the clawback.
    expect(run({ facts: { ...clawedBack, vaultBalance: 7n }, treasury: 900n, chainClock: CLAWBACK_START }).discrepancies).toEqual([
      expect.objectContaining({ type: 'distributor_vault_mismatch', expected: '0', actual: '7' }),
    ]);
    // Clawed back to another account than the planned receiver.
    expect(run({ facts: clawedBack, extra: [clawbackTransaction('CLAWBACK', 'THIEF')], treasury: 900n, chainClock: CLAWBACK_START }).discrepancies).toEqual([
      expect.objectContaining({ type: 'claim_unexplained', account: 'THIEF', signature: 'CLAWBACK', expected: 'TREASURY', actual: 'THIEF' }),
    ]);
  });

  it('distributor_clawed_back_early: clawed back while the chain clock is before the clawback start', () => {
    const facts = { account: distributorAccount({ clawedBack: true }), vaultBalance: 0n };
    expect(run({ facts, treasury: 1000n, chainClock: CLAWBACK_START - 1n }).discrepancies).toEqual([
      expect.objectContaining({
        type: 'distributor_clawed_back_early',
        account: 'DIST7',
        expected: CLAWBACK_START.toString(),
        actual: (CLAWBACK_START - 1n).toString(),
      }),
    ]);
    // Without a clock read, not decided.
    expect(run({ facts, treasury: 1000n, chainClock: null }).discrepancies).toEqual([]);
  });
});
