import { Keypair, type TransactionInstruction } from '@solana/web3.js';
import { CommandRejected } from '../domain/rejection';
import { evolvePayout, initialPayout, MAX_TRANSACTION_SIZE, payoutMemo, payoutTransactionSize, planSettlement, recordOutcomes, recordSigned, type PayoutEvent, type PayoutState } from '../domain/epoch-payout';
import { settlementCost } from '../src/settlement/settlement.module';
import { associatedTokenAddress, createAssociatedAccountIdempotent, memoInstruction, signTransaction, transferChecked } from '../src/chain/token';

const root = 'ab'.repeat(32);
const apply = (state: PayoutState, events: PayoutEvent[]) => events.reduce(evolvePayout, state);

describe('payout plan and the exactly-once rule (domain/epoch-payout.ts)', () => {
  it('computes the exact wire size of a payout transaction, so every planned batch fits in 1,232 bytes', () => {
    const authority = Keypair.generate();
    const mint = Keypair.generate().publicKey;
    const treasury = Keypair.generate().publicKey;
    for (const [transfers, creates] of [[1, 0], [1, 1], [8, 8], [9, 0], [17, 0], [12, 3]] as const) {
      const instructions: TransactionInstruction[] = [];
      for (let i = 0; i < transfers; i++) {
        const owner = Keypair.generate().publicKey;
        if (i < creates) instructions.push(createAssociatedAccountIdempotent(authority.publicKey, owner, mint));
        instructions.push(transferChecked(treasury, mint, associatedTokenAddress(owner, mint), authority.publicKey, 1n));
      }
      const memo = payoutMemo(123, 4567, root);
      instructions.push(memoInstruction(memo, authority.publicKey));
      const size = payoutTransactionSize(transfers, creates, memo.length);
      if (size <= MAX_TRANSACTION_SIZE) expect(signTransaction(instructions, [authority], Keypair.generate().publicKey.toBase58()).length).toBe(size);
      else expect(() => signTransaction(instructions, [authority], Keypair.generate().publicKey.toBase58())).toThrow();
    }
  });

  it('packs leaves into batches in order, fewer where accounts are created, and plans once', () => {
    const leaves = Array.from({ length: 100 }, (_, i) => ({ accountExists: i >= 40 }));
    const [planned] = planSettlement(initialPayout(), { epoch: 1, mode: 'hybrid', root, leafCount: 100, total: '100', leaves, maxTransfersPerTransaction: 24 });
    const batches = (planned as Extract<PayoutEvent, { type: 'SettlementPlanned' }>).data.batches;
    expect(batches.reduce((n, b) => n + b.leafCount, 0)).toBe(100);
    batches.forEach((b, i) => expect(b.firstLeaf).toBe(i === 0 ? 0 : batches[i - 1].firstLeaf + batches[i - 1].leafCount));
    for (const b of batches) expect(payoutTransactionSize(b.leafCount, [...b.creates].filter((c) => c === '1').length, payoutMemo(1, b.batch, root).length)).toBeLessThanOrEqual(MAX_TRANSACTION_SIZE);
    expect(batches[0].creates).toMatch(/^1+$/);
    expect(batches.at(-1)!.creates).toMatch(/^0+$/);
    const state = apply(initialPayout(), [planned]);
    expect(planSettlement(state, { epoch: 1, mode: 'hybrid', root, leafCount: 100, total: '100', leaves, maxTransfersPerTransaction: 24 })).toEqual([]);
    expect(() => planSettlement(state, { epoch: 1, mode: 'hybrid', root: 'cd'.repeat(32), leafCount: 100, total: '100', leaves, maxTransfersPerTransaction: 24 })).toThrow(CommandRejected);
  });

  it('never signs a batch again while an attempt may land, nor once it is paid; an expiry needs a height past the last valid one', () => {
    let state = apply(initialPayout(), planSettlement(initialPayout(), { epoch: 1, mode: 'hybrid', root, leafCount: 1, total: '5', leaves: [{ accountExists: true }], maxTransfersPerTransaction: 24 }));
    const attempt = (signature: string) => ({ epoch: 1, batch: 0, signature, blockhash: 'h', lastValidBlockHeight: '150', wire: '', rent: '0' });
    state = apply(state, recordSigned(state, [attempt('sig-1')]));
    expect(() => recordSigned(state, [attempt('sig-2')])).toThrow('may still land');
    expect(() => recordOutcomes(state, [{ signature: 'sig-1', status: 'expired', blockHeight: 150n }])).toThrow('can still land until block 150');
    state = apply(state, recordOutcomes(state, [{ signature: 'sig-1', status: 'expired', blockHeight: 151n }]));
    expect(() => recordSigned(state, [attempt('sig-1')])).toThrow('recorded already');
    state = apply(state, recordSigned(state, [attempt('sig-2')]));
    expect(() => recordOutcomes(state, [{ signature: 'sig-1', status: 'succeeded', slot: 1n, fee: 5000n }])).toThrow('not an attempt awaiting');
    state = apply(state, recordOutcomes(state, [{ signature: 'sig-2', status: 'succeeded', slot: 9n, fee: 5000n }]));
    expect(() => recordSigned(state, [attempt('sig-3')])).toThrow('is paid');
    expect(state.batches[0]).toMatchObject({ status: 'confirmed', attempts: 2, confirmedSignature: 'sig-2' });
  });
});

describe('settlement cost (src/settlement/settlement.module.ts)', () => {
  it('reports fees and rent in lamports and, with a SOL price in the policy, as a share of the rewards paid', () => {
    let state = apply(initialPayout(), planSettlement(initialPayout(), { epoch: 1, mode: 'hybrid', root, leafCount: 1, total: '250000000000', leaves: [{ accountExists: false }], maxTransfersPerTransaction: 24 }));
    state = apply(state, recordSigned(state, [{ epoch: 1, batch: 0, signature: 's', blockhash: 'h', lastValidBlockHeight: '9', wire: '', rent: '2039280' }]));
    state = apply(state, recordOutcomes(state, [{ signature: 's', status: 'succeeded', slot: 1n, fee: 5000n }]));
    // 2,044,280 lamports at 150 SYNQ per SOL = 306,642 base units, of 250,000 SYNQ paid: 0.00012%.
    expect(settlementCost(state, (150n * 1_000_000n).toString())).toEqual({ feeLamports: '5000', rentLamports: '2039280', totalLamports: '2044280', percentOfPaid: '0.00012' });
    expect(settlementCost(state, undefined).percentOfPaid).toBeNull();
  });
});
