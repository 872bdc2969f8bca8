import {
  burnedAccounts,
  chainProofDecider,
  checkSignature,
  MEMO_PROGRAM,
  proveBurn,
  proveStakeDeposit,
  TOKEN_PROGRAM,
  tokenBurns,
  type ObservedInstruction,
  type ObservedTransaction,
} from '../domain/chain-proofs';
import { developerDecider, type DeveloperCommand, type DeveloperEvent, type OnChainBurnFacts } from '../domain/developer';
import { CommandRejected } from '../domain/rejection';
import { stakeDecider, type OnChainDepositFacts, type StakeCommand, type StakeEvent } from '../domain/stake';
import { base58Encode } from '../domain/values';
import { DeciderSpecification } from './support/decider-specification';

/** The pure checks of domain/chain-proofs.ts on hand-built instructions (the API test runs them on real ones). */

const address = (seed: number) => base58Encode(Uint8Array.from({ length: 32 }, (_, i) => (seed * 29 + i * 11 + 7) % 256));
const SIGNATURE = base58Encode(Uint8Array.from({ length: 64 }, (_, i) => (i * 37 + 5) % 256));
const MINT = address(1);
const OTHER_MINT = address(2);
const VAULT = address(3);
const WALLET = address(4);
const OTHER_WALLET = address(5);
const WALLET_ACCOUNT = address(6);
const OTHER_ACCOUNT = address(7);
const STAKER_ACCOUNT = address(8);
const addresses = { mint: MINT, stakeVault: VAULT };

const u64 = (value: bigint) => Array.from({ length: 8 }, (_, i) => Number((value >> BigInt(8 * i)) & 0xffn));
const burn = (account: string, amount: bigint, mint = MINT, extra: number[] = []): ObservedInstruction => ({
  programId: TOKEN_PROGRAM,
  accounts: [account, mint, WALLET],
  data: Uint8Array.from([8, ...u64(amount), ...extra]),
});
const burnChecked = (account: string, amount: bigint, mint = MINT): ObservedInstruction => ({
  programId: TOKEN_PROGRAM,
  accounts: [account, mint, WALLET],
  data: Uint8Array.from([15, ...u64(amount), 6]),
});
const transferChecked = (source: string, destination: string, amount: bigint, mint = MINT): ObservedInstruction => ({
  programId: TOKEN_PROGRAM,
  accounts: [source, mint, destination, WALLET],
  data: Uint8Array.from([12, ...u64(amount), 6]),
});
const memo = (text: string, programId = MEMO_PROGRAM): ObservedInstruction => ({ programId, accounts: [WALLET], data: new TextEncoder().encode(text) });
const landed = (...instructions: ObservedInstruction[]): ObservedTransaction => ({ signature: SIGNATURE, error: null, instructions });
const owners = new Map<string, string | null>([
  [WALLET_ACCOUNT, WALLET],
  [OTHER_ACCOUNT, OTHER_WALLET],
]);

function refusal(run: () => unknown): { kind: string; field: string; reason: string } {
  try {
    run();
  } catch (error) {
    if (!(error instanceof CommandRejected)) throw error;
    return { kind: error.kind, ...error.problems[0] };
  }
  throw new Error('not refused');
}

describe('burns proven on chain', () => {
  it('reads Burn and BurnChecked as the token program does, trailing bytes ignored, short data and other programs not', () => {
    const transaction = landed(
      burn(WALLET_ACCOUNT, 5n, MINT, [1, 2, 3]),
      burnChecked(WALLET_ACCOUNT, 2n ** 64n - 1n),
      { programId: TOKEN_PROGRAM, accounts: [WALLET_ACCOUNT, MINT, WALLET], data: Uint8Array.from([8, 1, 2, 3]) },
      { ...burn(WALLET_ACCOUNT, 9n), programId: MEMO_PROGRAM },
      transferChecked(WALLET_ACCOUNT, VAULT, 4n),
    );
    expect(tokenBurns(transaction)).toEqual([
      { account: WALLET_ACCOUNT, mint: MINT, authority: WALLET, amount: 5n },
      { account: WALLET_ACCOUNT, mint: MINT, authority: WALLET, amount: 2n ** 64n - 1n },
    ]);
    expect(burnedAccounts(landed(burn(WALLET_ACCOUNT, 1n), burn(OTHER_ACCOUNT, 1n, OTHER_MINT), burn(WALLET_ACCOUNT, 2n)), addresses)).toEqual([
      WALLET_ACCOUNT,
    ]);
    expect(burnedAccounts(null, addresses)).toEqual([]);
  });

  it("takes the one burn of $SYNQ from the wallet's accounts, ignores others' and other mints', refuses two", () => {
    const transaction = landed(burn(OTHER_ACCOUNT, 100n), burnChecked(WALLET_ACCOUNT, 4n), burn(WALLET_ACCOUNT, 50n, OTHER_MINT), burn(WALLET_ACCOUNT, 0n));
    expect(proveBurn(transaction, addresses, WALLET, owners)).toEqual({ amount: 4n, tokenAccount: WALLET_ACCOUNT });
    expect(refusal(() => proveBurn(landed(burn(WALLET_ACCOUNT, 3n), burnChecked(WALLET_ACCOUNT, 4n)), addresses, WALLET, owners)).reason).toBe(
      "the transaction burns the developer's $SYNQ in 2 instructions: a credit is for a transaction with one burn",
    );
  });

  it('refuses, each with its own reason: unknown, failed, no $SYNQ burned, not the wallet’s account, an account since closed', () => {
    expect(refusal(() => proveBurn(null, addresses, WALLET, owners))).toMatchObject({
      kind: 'not_found',
      reason: expect.stringMatching(/^the chain has no transaction/),
    });
    expect(refusal(() => proveBurn({ ...landed(burn(WALLET_ACCOUNT, 1n)), error: 'InsufficientFunds' }, addresses, WALLET, owners))).toMatchObject({
      kind: 'invalid',
      reason: 'the transaction failed on chain and moved nothing (InsufficientFunds)',
    });
    expect(refusal(() => proveBurn(landed(burn(WALLET_ACCOUNT, 1n, OTHER_MINT), burn(WALLET_ACCOUNT, 0n)), addresses, WALLET, owners))).toMatchObject({
      kind: 'invalid',
      reason: `the transaction burns no $SYNQ (mint ${MINT})`,
    });
    expect(refusal(() => proveBurn(landed(burn(OTHER_ACCOUNT, 1n)), addresses, WALLET, owners)).reason).toBe(
      `the $SYNQ was burned from ${OTHER_ACCOUNT}, which is not owned by the developer's registered wallet ${WALLET} (its owner is ${OTHER_WALLET})`,
    );
    expect(refusal(() => proveBurn(landed(burn(STAKER_ACCOUNT, 1n)), addresses, WALLET, owners)).reason).toMatch(/\(the account no longer exists\)$/);
  });

  it('credits whole credits once per signature, and leaves the claim to its claimant', () => {
    const spec = DeciderSpecification.for(developerDecider);
    const registered: DeveloperEvent = { type: 'DeveloperRegistered', data: { developerId: 'd1', wallet: WALLET } };
    const credit = (facts: OnChainBurnFacts): DeveloperCommand => ({ type: 'CreditOnChainBurn', data: { facts, addresses, creditsPerToken: 1000n } });
    const facts = { signature: SIGNATURE, claim: undefined, transaction: landed(burn(WALLET_ACCOUNT, 3_000_000n)), tokenAccountOwners: owners };
    const creditedEvent: DeveloperEvent = {
      type: 'OnChainBurnCredited',
      data: { signature: SIGNATURE, amount: '3000000', creditsPerToken: '1000', credits: '3000', tokenAccount: WALLET_ACCOUNT },
    };
    const credited = spec.given([registered]).when(credit(facts)).then([creditedEvent]);
    expect(credited).toMatchObject({ credits: 3000n, tokenBalance: 0n });
    spec
      .given([registered, creditedEvent])
      .when(credit(facts))
      .thenRejects('conflict', { reason: expect.stringMatching(/^this transaction is already credited/) });
    // Claimed by another account: refused before the chain's facts are even looked at.
    const claimedElsewhere = { ...facts, claim: { signature: SIGNATURE, kind: 'developer-burn' as const, creditedTo: 'developer-d2' }, transaction: null };
    spec.given([registered]).when(credit(claimedElsewhere)).thenRejects('conflict');
    // Claimed by this one, not credited yet: completed, without a second claim.
    const claimedHere = { ...facts, claim: { signature: SIGNATURE, kind: 'developer-burn' as const, creditedTo: 'developer-d1' } };
    spec.given([registered]).when(credit(claimedHere)).then([creditedEvent]);
    const claims = DeciderSpecification.for(chainProofDecider);
    claims
      .given([{ type: 'ChainProofClaimed', data: claimedHere.claim }])
      .when({ type: 'ClaimChainProof', data: claimedHere.claim })
      .thenNothingHappened();
    claims
      .given([{ type: 'ChainProofClaimed', data: claimedHere.claim }])
      .when({ type: 'ClaimChainProof', data: { ...claimedHere.claim, creditedTo: 'developer-d2' } })
      .thenRejects('conflict');

    spec
      .given([registered])
      .when(credit({ ...facts, transaction: landed(burn(WALLET_ACCOUNT, 1500n)) }))
      .thenRejects('invalid', {
        reason: 'the burn of 1500 base units does not buy whole credits: at 1000 credits per token, burn a multiple of 1000 base units',
      });
    spec.given([]).when(credit(facts)).thenRejects('not_found');
  });

  it('takes a signature of 64 bytes only', () => {
    expect(checkSignature(SIGNATURE)).toBe(SIGNATURE);
    for (const bad of [undefined, 42, '', address(1), `${SIGNATURE}0`])
      expect(refusal(() => checkSignature(bad)).reason).toBe('must be a base58 transaction signature of 64 bytes');
  });
});

describe('stake deposits proven on chain', () => {
  const named = memo('synq:stake:s1');

  it('takes the one TransferChecked of $SYNQ into the vault, from any account but the vault itself; refuses two', () => {
    const transaction = landed(
      transferChecked(STAKER_ACCOUNT, VAULT, 5n),
      transferChecked(VAULT, VAULT, 1000n),
      transferChecked(STAKER_ACCOUNT, OTHER_ACCOUNT, 70n),
      transferChecked(STAKER_ACCOUNT, VAULT, 90n, OTHER_MINT),
      { programId: TOKEN_PROGRAM, accounts: [STAKER_ACCOUNT, VAULT, WALLET], data: Uint8Array.from([3, ...u64(400n)]) },
      memo('hello'),
      named,
    );
    expect(proveStakeDeposit(transaction, addresses, 's1')).toEqual({ amount: 5n, sourceAccount: STAKER_ACCOUNT });
    expect(
      refusal(() => proveStakeDeposit(landed(transferChecked(STAKER_ACCOUNT, VAULT, 5n), transferChecked(OTHER_ACCOUNT, VAULT, 2n), named), addresses, 's1'))
        .reason,
    ).toBe('the transaction transfers $SYNQ into the stake vault in 2 instructions: a deposit is a transaction with one');
  });

  it('refuses, each with its own reason: unknown, failed, nothing into the vault, no memo, a memo for another synqer', () => {
    expect(refusal(() => proveStakeDeposit(null, addresses, 's1')).kind).toBe('not_found');
    expect(refusal(() => proveStakeDeposit({ ...landed(transferChecked(STAKER_ACCOUNT, VAULT, 5n), named), error: 'x' }, addresses, 's1')).reason).toMatch(
      /^the transaction failed/,
    );
    expect(refusal(() => proveStakeDeposit(landed(transferChecked(STAKER_ACCOUNT, OTHER_ACCOUNT, 5n), named), addresses, 's1')).reason).toBe(
      `the transaction transfers no $SYNQ into the stake vault ${VAULT} (a TransferChecked of mint ${MINT})`,
    );
    expect(refusal(() => proveStakeDeposit(landed(transferChecked(STAKER_ACCOUNT, VAULT, 0n), named), addresses, 's1')).reason).toMatch(
      /^the transaction transfers no \$SYNQ/,
    );
    const noMemo = 'the transaction carries no memo "synq:stake:s1" saying whose stake it is';
    expect(refusal(() => proveStakeDeposit(landed(transferChecked(STAKER_ACCOUNT, VAULT, 5n)), addresses, 's1')).reason).toBe(noMemo);
    // Memo v1 is another program; a memo must read exactly "synq:stake:<id>".
    expect(
      refusal(() => proveStakeDeposit(landed(transferChecked(STAKER_ACCOUNT, VAULT, 5n), memo('synq:stake:s1', address(9))), addresses, 's1')).reason,
    ).toBe(noMemo);
    expect(refusal(() => proveStakeDeposit(landed(transferChecked(STAKER_ACCOUNT, VAULT, 5n), memo('synq:stake:s2')), addresses, 's1')).reason).toBe(
      'the transaction\'s memo "synq:stake:s2" names another synqer, not s1',
    );
    expect(refusal(() => proveStakeDeposit(landed(transferChecked(STAKER_ACCOUNT, VAULT, 5n), named, memo('synq:stake:s1 ')), addresses, 's1')).reason).toMatch(
      /names another synqer/,
    );
  });

  it('records StakeDeposited with the signature as depositId, once', () => {
    const spec = DeciderSpecification.for(stakeDecider);
    const deposit = (facts: OnChainDepositFacts): StakeCommand => ({ type: 'CreditOnChainDeposit', data: { synqerId: 's1', facts, addresses } });
    const facts = { signature: SIGNATURE, claim: undefined, transaction: landed(transferChecked(STAKER_ACCOUNT, VAULT, 5n), named) };
    const deposited: StakeEvent = { type: 'StakeDeposited', data: { synqerId: 's1', depositId: SIGNATURE, amount: '5', sourceAccount: STAKER_ACCOUNT } };
    const state = spec.given([]).when(deposit(facts)).then([deposited]);
    expect(state.active).toBe(5n);
    spec.given([deposited]).when(deposit(facts)).thenRejects('conflict');
    spec
      .given([])
      .when(deposit({ ...facts, claim: { signature: SIGNATURE, kind: 'developer-burn', creditedTo: 'developer-d1' } }))
      .thenRejects('conflict');
  });
});
