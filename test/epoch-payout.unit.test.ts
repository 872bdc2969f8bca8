import { Keypair, type TransactionInstruction } from '@solana/web3.js';
import {
  evolvePayout,
  initialPayout,
  MAX_TRANSACTION_SIZE,
  payoutDecider,
  payoutMemo,
  payoutTransactionSize,
  planSettlement,
  recordOutcomes,
  recordSigned,
  type AttemptOutcome,
  type PayoutCommand,
  type PayoutEvent,
  type PayoutState,
} from '../domain/epoch-payout';
import { settlementCost } from '../src/settlement/settle-epoch';
import { associatedTokenAddress, createAssociatedAccountIdempotent, memoInstruction, signTransaction, transferChecked } from '../src/chain/token';
import { DeciderSpecification } from './support/decider-specification';

const root = 'ab'.repeat(32);
const apply = (state: PayoutState, events: PayoutEvent[]) => events.reduce(evolvePayout, state);

describe('payout plan and the exactly-once rule (domain/epoch-payout.ts)', () => {
  it('computes the exact wire size of a payout transaction, so every planned batch fits in 1,232 bytes', () => {
    const authority = Keypair.generate();
    const mint = Keypair.generate().publicKey;
    const treasury = Keypair.generate().publicKey;
    for (const [transfers, creates] of [
      [1, 0],
      [1, 1],
      [8, 8],
      [9, 0],
      [17, 0],
      [12, 3],
    ] as const) {
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
    const spec = DeciderSpecification.for(payoutDecider);
    const leaves = Array.from({ length: 100 }, (_, i) => ({ accountExists: i >= 40 }));
    const plan = (planned: string): PayoutCommand => ({
      type: 'PlanSettlement',
      data: { epoch: 1, mode: 'hybrid', root: planned, leafCount: 100, total: '100', leaves, maxTransfersPerTransaction: 24 },
    });
    let planned: PayoutEvent[] = [];
    spec
      .given([])
      .when(plan(root))
      .then((events) => {
        planned = events;
        expect(events.map((event) => event.type)).toEqual(['SettlementPlanned']);
      });
    const batches = (planned[0] as Extract<PayoutEvent, { type: 'SettlementPlanned' }>).data.batches;
    expect(batches.reduce((n, b) => n + b.leafCount, 0)).toBe(100);
    batches.forEach((b, i) => expect(b.firstLeaf).toBe(i === 0 ? 0 : batches[i - 1].firstLeaf + batches[i - 1].leafCount));
    for (const b of batches)
      expect(payoutTransactionSize(b.leafCount, [...b.creates].filter((c) => c === '1').length, payoutMemo(1, b.batch, root).length)).toBeLessThanOrEqual(
        MAX_TRANSACTION_SIZE,
      );
    expect(batches[0].creates).toMatch(/^1+$/);
    expect(batches.at(-1)!.creates).toMatch(/^0+$/);
    spec.given(planned).when(plan(root)).thenNothingHappened();
    spec
      .given(planned)
      .when(plan('cd'.repeat(32)))
      .thenRejects();
  });

  it('never signs a batch again while an attempt may land, nor once it is paid; an expiry needs a height past the last valid one', () => {
    const spec = DeciderSpecification.for(payoutDecider);
    const attempt = (signature: string) => ({ epoch: 1, batch: 0, signature, blockhash: 'h', lastValidBlockHeight: '150', wire: '', rent: '0' });
    const sign = (signature: string): PayoutCommand => ({ type: 'RecordSigned', data: { attempts: [attempt(signature)] } });
    const outcome = (recorded: AttemptOutcome): PayoutCommand => ({ type: 'RecordOutcomes', data: { outcomes: [recorded] } });
    const history: PayoutEvent[] = [];
    const recorded = (command: PayoutCommand, events: PayoutEvent[]) => {
      const state = spec.given(history).when(command).then(events);
      history.push(...events);
      return state;
    };
    recorded(
      {
        type: 'PlanSettlement',
        data: { epoch: 1, mode: 'hybrid', root, leafCount: 1, total: '5', leaves: [{ accountExists: true }], maxTransfersPerTransaction: 24 },
      },
      [
        {
          type: 'SettlementPlanned',
          data: { epoch: 1, mode: 'hybrid', root, leafCount: 1, total: '5', batches: [{ batch: 0, kind: 'payout', firstLeaf: 0, leafCount: 1, creates: '0' }] },
        },
      ],
    );
    recorded(sign('sig-1'), [{ type: 'SettlementTransactionSigned', data: { ...attempt('sig-1'), attempt: 1 } }]);
    spec.given(history).when(sign('sig-2')).thenRejects(undefined, 'may still land');
    spec
      .given(history)
      .when(outcome({ signature: 'sig-1', status: 'expired', blockHeight: 150n }))
      .thenRejects(undefined, 'can still land until block 150');
    recorded(outcome({ signature: 'sig-1', status: 'expired', blockHeight: 151n }), [
      { type: 'SettlementTransactionExpired', data: { epoch: 1, batch: 0, signature: 'sig-1', blockHeight: '151' } },
    ]);
    spec.given(history).when(sign('sig-1')).thenRejects(undefined, 'recorded already');
    recorded(sign('sig-2'), [{ type: 'SettlementTransactionSigned', data: { ...attempt('sig-2'), attempt: 2 } }]);
    spec
      .given(history)
      .when(outcome({ signature: 'sig-1', status: 'succeeded', slot: 1n, fee: 5000n }))
      .thenRejects(undefined, 'not an attempt awaiting');
    const state = recorded(outcome({ signature: 'sig-2', status: 'succeeded', slot: 9n, fee: 5000n }), [
      { type: 'SettlementTransactionConfirmed', data: { epoch: 1, batch: 0, signature: 'sig-2', slot: '9', fee: '5000' } },
    ]);
    spec.given(history).when(sign('sig-3')).thenRejects(undefined, 'is paid');
    expect(state.batches[0]).toMatchObject({ status: 'confirmed', attempts: 2, confirmedSignature: 'sig-2' });
  });
});

describe('settlement cost (src/settlement/settle-epoch.ts)', () => {
  it('reports fees and rent in lamports and, with a SOL price in the policy, as a share of the rewards paid', () => {
    let state = apply(
      initialPayout(),
      planSettlement(initialPayout(), {
        epoch: 1,
        mode: 'hybrid',
        root,
        leafCount: 1,
        total: '250000000000',
        leaves: [{ accountExists: false }],
        maxTransfersPerTransaction: 24,
      }),
    );
    state = apply(state, recordSigned(state, [{ epoch: 1, batch: 0, signature: 's', blockhash: 'h', lastValidBlockHeight: '9', wire: '', rent: '2039280' }]));
    state = apply(state, recordOutcomes(state, [{ signature: 's', status: 'succeeded', slot: 1n, fee: 5000n }]));
    // 2,044,280 lamports at 150 SYNQ per SOL = 306,642 base units, of 250,000 SYNQ paid: 0.00012%.
    expect(settlementCost(state, (150n * 1_000_000n).toString())).toEqual({
      feeLamports: '5000',
      rentLamports: '2039280',
      totalLamports: '2044280',
      claims: null,
      allLamports: '2044280',
      percentOfPaid: '0.00012',
    });
    expect(settlementCost(state, undefined).percentOfPaid).toBeNull();
  });

  it('counts what claims cost the wallets and the sponsor in the share of the rewards, apart from what the treasury paid', () => {
    let state = apply(
      initialPayout(),
      planSettlement(initialPayout(), {
        epoch: 2,
        mode: 'web3',
        root,
        leafCount: 2,
        total: '250000000000',
        leaves: [{ accountExists: true }, { accountExists: true }],
        maxTransfersPerTransaction: 24,
        distributor: { version: 2, address: 'd', vault: 'v', admin: 'a', clawbackReceiver: 't' },
      }),
    );
    state = apply(state, recordSigned(state, [{ epoch: 2, batch: 0, signature: 's', blockhash: 'h', lastValidBlockHeight: '9', wire: '', rent: '3710880' }]));
    state = apply(state, recordOutcomes(state, [{ signature: 's', status: 'succeeded', slot: 1n, fee: 5000n }]));
    // One claim by its wallet (rent 1,336,320 + fee 5,000), one sponsored (rent, fee and the wallet's token account).
    const cost = settlementCost(state, (150n * 1_000_000n).toString(), {
      claims: 2,
      sponsoredClaims: 1,
      claimantLamports: 1_341_320n,
      sponsorLamports: 3_385_600n,
    });
    expect(cost).toMatchObject({
      totalLamports: '3715880',
      claims: { claims: 2, sponsoredClaims: 1, claimantLamports: '1341320', sponsorLamports: '3385600' },
      allLamports: (3_715_880 + 1_341_320 + 3_385_600).toString(),
    });
    // 8,442,800 lamports at 150 SYNQ per SOL = 1,266,420 base units of 250,000 SYNQ: 0.00050%.
    expect(cost.percentOfPaid).toBe('0.00050');
  });
});
