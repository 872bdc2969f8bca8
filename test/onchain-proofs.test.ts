import { Keypair, LAMPORTS_PER_SOL, PublicKey, type TransactionInstruction } from '@solana/web3.js';
import { chainProofStream, type ChainProofEvent } from '../domain/chain-proofs';
import { base58Encode } from '../domain/values';
import type { ChainGateway } from '../src/chain/chain-gateway';
import { spl } from '../src/chain/spl-token';
import {
  associatedTokenAddress,
  burnChecked,
  createAssociatedAccountIdempotent,
  createMintInstructions,
  execute,
  memoInstruction,
  mintToChecked,
  sendAndConfirm,
  transferChecked,
} from '../src/chain/token';
import { loadTreasuryKey } from '../src/chain/treasury-key';
import { toEnvelopes } from '../src/commands/streams';
import { generateReportingKeypair, publicKeyOf } from '../src/commands/ed25519';
import { startTestApi, type TestApi } from './support/api';
import { expectMoneyInvariants } from './support/money-invariants';

/**
 * Burns and stake deposits proven on chain, against the real engine over HTTP and the embedded chain running the real
 * SPL Token, Associated Token Account and Memo programs. Every refusal answers its own reason and records nothing.
 */
describe('facts proven on chain', () => {
  const SYNQ = 1_000_000n;
  let api: TestApi;
  let gateway: ChainGateway;
  let treasury: Keypair;
  let mint: PublicKey;
  let treasuryAccount: PublicKey;
  let stakeVault: PublicKey;
  const op = () => api.keys.operator;

  const devWallet = Keypair.generate();
  const otherWallet = Keypair.generate();
  const stakerWallet = Keypair.generate();
  /** A second mint, not $SYNQ, held by the developer's wallet. */
  const otherMint = Keypair.generate();
  let otherMintAccount: PublicKey;

  beforeAll(async () => {
    api = await startTestApi();
    gateway = api.engine.chain;
    const init = await api.call('POST', '/chain/init', op(), {});
    expect(init.status).toBe(201);
    mint = new PublicKey(init.body.mint);
    treasuryAccount = new PublicKey(init.body.treasuryAccount);
    stakeVault = new PublicKey(init.body.stakeVault);
    treasury = await loadTreasuryKey({ databaseUrl: undefined, eventStoreConnectionString: undefined, port: 0, dataDir: api.dataDir });
    expect(treasury.publicKey.toBase58()).toBe(init.body.treasuryAuthority);

    for (const wallet of [devWallet, otherWallet, stakerWallet]) await gateway.requestAirdrop(wallet.publicKey, BigInt(LAMPORTS_PER_SOL));
    await giveSynq(devWallet, 10n * SYNQ);
    await giveSynq(otherWallet, 10n * SYNQ);
    await giveSynq(stakerWallet, 20n * SYNQ);
    await execute(
      gateway,
      await createMintInstructions(gateway, devWallet.publicKey, otherMint.publicKey, devWallet.publicKey),
      [devWallet, otherMint],
      'other mint',
    );
    otherMintAccount = associatedTokenAddress(devWallet.publicKey, otherMint.publicKey);
    await execute(
      gateway,
      [
        createAssociatedAccountIdempotent(devWallet.publicKey, devWallet.publicKey, otherMint.publicKey),
        mintToChecked(otherMint.publicKey, otherMintAccount, devWallet.publicKey, 10n * SYNQ),
      ],
      [devWallet],
      'mint the other token',
    );

    // dev1 (the test API's developer key) and dev3 share the developer's wallet; dev2 has a wallet of its own.
    for (const [developerId, wallet] of [
      ['dev1', devWallet],
      ['dev2', otherWallet],
      ['dev3', devWallet],
    ] as const) {
      expect((await api.call('POST', '/developers', op(), { developerId, wallet: wallet.publicKey.toBase58() })).status).toBe(201);
    }
    for (const synqerId of ['staker1', 'staker2']) {
      const registered = await api.call('POST', '/synqers', op(), {
        synqerId,
        payoutWallet: Keypair.generate().publicKey.toBase58(),
        reportingKey: publicKeyOf(generateReportingKeypair()),
        region: 'eu-west',
      });
      expect(registered.status).toBe(201);
    }
  });
  afterAll(async () => {
    // giveSynq moves treasury tokens out of band, and the refused deposits left tokens in the vault that no stake
    // claims: exactly those faults.
    await expectMoneyInvariants(api, { expected: ['I2', 'I4'] });
    await api.close();
  });

  /** Moves $SYNQ from the treasury into the wallet's associated account. */
  async function giveSynq(owner: Keypair, amount: bigint): Promise<PublicKey> {
    const account = associatedTokenAddress(owner.publicKey, mint);
    await execute(
      gateway,
      [
        createAssociatedAccountIdempotent(treasury.publicKey, owner.publicKey, mint),
        transferChecked(treasuryAccount, mint, account, treasury.publicKey, amount),
      ],
      [treasury],
      'give $SYNQ',
    );
    return account;
  }

  const synqAccount = (owner: Keypair) => associatedTokenAddress(owner.publicKey, mint);

  /** A landed transaction's signature, whether it succeeded or failed. */
  async function land(instructions: TransactionInstruction[], signers: Keypair[], expected: 'succeeded' | 'failed' = 'succeeded'): Promise<string> {
    const { signature, confirmation } = await sendAndConfirm(gateway, instructions, signers);
    expect(confirmation.status).toBe(expected);
    return signature;
  }

  async function events(stream: string) {
    const found: { type: string; data: unknown }[] = [];
    for await (const event of api.engine.eventStore.readStream(stream)) found.push({ type: event.type, data: event.data });
    return found;
  }

  /** A signature nobody ever sent. */
  const unknownSignature = () => base58Encode(Keypair.generate().secretKey);

  const burnOnChain = (developerId: string, signature: unknown, key = op()) => api.call('POST', `/developers/${developerId}/burns/onchain`, key, { signature });
  const depositOnChain = (synqerId: string, signature: unknown, key = op()) =>
    api.call('POST', `/synqers/${synqerId}/stake/deposits/onchain`, key, { signature });

  /** Asserts the refusal's status and its one problem, and that neither the account's stream nor the claim moved. */
  async function expectRefused(
    answer: Promise<{ status: number; body: { problems?: { field: string; reason: string }[] } }>,
    status: number,
    reason: RegExp,
    { stream, signature, field = 'signature' }: { stream: string; signature?: string; field?: string },
  ) {
    const before = await events(stream);
    const claimBefore = signature ? await events(chainProofStream(signature)) : [];
    const { status: answered, body } = await answer;
    expect({ status: answered, problems: body.problems }).toEqual({ status, problems: [{ field, reason: expect.stringMatching(reason) }] });
    expect(await events(stream)).toEqual(before);
    if (signature) expect(await events(chainProofStream(signature))).toEqual(claimBefore);
  }

  describe('burns for data credits', () => {
    let credited: string;

    it('credits a BurnChecked of $SYNQ from the wallet’s account at the rate in force, and records the claim', async () => {
      credited = await land([burnChecked(synqAccount(devWallet), mint, devWallet.publicKey, 2n * SYNQ)], [devWallet]);
      const answer = await burnOnChain('dev1', credited, api.keys.developer);
      expect(answer.status).toBe(201);
      // Genesis policy: 1,000 credits per token. The tokens were the wallet's, not the books' balance.
      expect(answer.body).toEqual({ developerId: 'dev1', wallet: devWallet.publicKey.toBase58(), tokenBalance: '0', credits: '2000' });
      expect((await events('developer-dev1')).slice(-1)).toEqual([
        {
          type: 'OnChainBurnCredited',
          data: { signature: credited, amount: '2000000', creditsPerToken: '1000', credits: '2000', tokenAccount: synqAccount(devWallet).toBase58() },
        },
      ]);
      expect(await events(chainProofStream(credited))).toEqual([
        { type: 'ChainProofClaimed', data: { signature: credited, kind: 'developer-burn', creditedTo: 'developer-dev1' } },
      ]);
    });

    it('credits a plain Burn (tag 8) too, and refuses a transaction that burns the wallet’s $SYNQ twice', async () => {
      const account = synqAccount(devWallet);
      const plain = await land([spl.createBurnInstruction(account, mint, devWallet.publicKey, SYNQ + SYNQ / 2n)], [devWallet]);
      expect((await burnOnChain('dev1', plain)).body.credits).toBe('3500');
      const twice = await land(
        [spl.createBurnInstruction(account, mint, devWallet.publicKey, SYNQ), burnChecked(account, mint, devWallet.publicKey, SYNQ / 2n)],
        [devWallet],
      );
      await expectRefused(
        burnOnChain('dev1', twice),
        422,
        /^the transaction burns the developer's \$SYNQ in 2 instructions: a credit is for a transaction with one burn$/,
        {
          stream: 'developer-dev1',
          signature: twice,
        },
      );
    });

    it('refuses a signature already credited: again for the same developer, and for another developer sharing the wallet', async () => {
      await expectRefused(burnOnChain('dev1', credited, api.keys.developer), 409, /^this transaction is already credited/, {
        stream: 'developer-dev1',
        signature: credited,
      });
      await expectRefused(burnOnChain('dev3', credited), 409, /^this transaction is already credited/, { stream: 'developer-dev3', signature: credited });
      await expectRefused(burnOnChain('dev2', credited), 409, /^this transaction is already credited/, { stream: 'developer-dev2', signature: credited });
      expect((await api.call('GET', '/developers/dev1', op())).body.credits).toBe('3500');
    });

    it('credits a signature once when it is submitted many times at once, for developers sharing the wallet', async () => {
      const signature = await land([burnChecked(synqAccount(devWallet), mint, devWallet.publicKey, SYNQ)], [devWallet]);
      const credits = async () =>
        [(await api.call('GET', '/developers/dev1', op())).body.credits, (await api.call('GET', '/developers/dev3', op())).body.credits].map(BigInt);
      const [before1, before3] = await credits();
      const answers = await Promise.all(
        ['dev1', 'dev3', 'dev1', 'dev3', 'dev1', 'dev3', 'dev1', 'dev3'].map((developerId) => burnOnChain(developerId, signature)),
      );
      expect(answers.map((answer) => answer.status).sort()).toEqual([201, 409, 409, 409, 409, 409, 409, 409]);
      const [after1, after3] = await credits();
      expect(after1 - before1 + (after3 - before3)).toBe(1000n);
      expect(await events(chainProofStream(signature))).toHaveLength(1);
    });

    it('refuses a signature the chain does not know', async () => {
      const signature = unknownSignature();
      await expectRefused(burnOnChain('dev1', signature), 404, /^the chain has no transaction with this signature/, { stream: 'developer-dev1', signature });
    });

    it('refuses a transaction that failed on chain', async () => {
      const signature = await land([burnChecked(synqAccount(devWallet), mint, devWallet.publicKey, 1000n * SYNQ)], [devWallet], 'failed');
      await expectRefused(burnOnChain('dev1', signature), 422, /^the transaction failed on chain and moved nothing/, { stream: 'developer-dev1', signature });
    });

    it('refuses a burn of another mint, and a transaction that burns nothing', async () => {
      const otherBurn = await land([burnChecked(otherMintAccount, otherMint.publicKey, devWallet.publicKey, SYNQ)], [devWallet]);
      await expectRefused(burnOnChain('dev1', otherBurn), 422, /^the transaction burns no \$SYNQ \(mint /, { stream: 'developer-dev1', signature: otherBurn });
      const memoOnly = await land([memoInstruction('no burn here', devWallet.publicKey)], [devWallet]);
      await expectRefused(burnOnChain('dev1', memoOnly), 422, /^the transaction burns no \$SYNQ/, { stream: 'developer-dev1', signature: memoOnly });
    });

    it("refuses a burn from an account the developer's wallet does not own", async () => {
      const signature = await land([burnChecked(synqAccount(otherWallet), mint, otherWallet.publicKey, SYNQ)], [otherWallet]);
      await expectRefused(
        burnOnChain('dev1', signature),
        422,
        new RegExp(
          `^the \\$SYNQ was burned from ${synqAccount(otherWallet).toBase58()}, which is not owned by the developer's registered wallet ${devWallet.publicKey.toBase58()} \\(its owner is ${otherWallet.publicKey.toBase58()}\\)$`,
        ),
        { stream: 'developer-dev1', signature },
      );
      // Its owner's developer may have it.
      expect((await burnOnChain('dev2', signature)).body.credits).toBe('1000');
    });

    it('refuses a burn whose credits would not come out whole (and the burn stays unclaimed)', async () => {
      const signature = await land([burnChecked(synqAccount(devWallet), mint, devWallet.publicKey, 1500n)], [devWallet]);
      await expectRefused(burnOnChain('dev1', signature), 422, /^the burn of 1500 base units does not buy whole credits: .* a multiple of 1000 base units$/, {
        stream: 'developer-dev1',
        signature,
      });
    });

    it('refuses what is not a signature, an unknown developer, and another developer’s key', async () => {
      await expectRefused(burnOnChain('dev1', 'not-a-signature'), 422, /^must be a base58 transaction signature of 64 bytes$/, { stream: 'developer-dev1' });
      await expectRefused(burnOnChain('dev1', credited.slice(0, 40)), 422, /^must be a base58 transaction signature/, { stream: 'developer-dev1' });
      await expectRefused(burnOnChain('nobody', credited), 404, /^no developer is registered as nobody$/, { stream: 'developer-nobody', field: 'developerId' });
      expect((await burnOnChain('dev2', credited, api.keys.developer)).status).toBe(403);
      expect((await burnOnChain('dev1', credited, api.keys.auditor)).status).toBe(403);
    });

    it('completes a credit whose claim was recorded without it, for the claiming developer only', async () => {
      // As if the engine stopped between the claim and the credit.
      const signature = await land([burnChecked(synqAccount(devWallet), mint, devWallet.publicKey, SYNQ)], [devWallet]);
      const claim: ChainProofEvent = { type: 'ChainProofClaimed', data: { signature, kind: 'developer-burn', creditedTo: 'developer-dev3' } };
      await api.engine.eventStore.append(
        chainProofStream(signature),
        toEnvelopes(chainProofStream(signature), [claim], { actor: 'test', correlationId: 'c', commandId: 'crash' }),
        {
          expectedRevision: 'no_stream',
        },
      );
      await expectRefused(burnOnChain('dev1', signature), 409, /^this transaction is already credited/, { stream: 'developer-dev1', signature });
      // dev3 may hold credits already: the concurrent test above credits whichever of dev1 and dev3 wins.
      const before = BigInt((await api.call('GET', '/developers/dev3', api.keys.operator)).body.credits);
      expect((await burnOnChain('dev3', signature)).body.credits).toBe((before + 1000n).toString());
      expect(await events(chainProofStream(signature))).toHaveLength(1);
      await expectRefused(burnOnChain('dev3', signature), 409, /^this transaction is already credited/, { stream: 'developer-dev3', signature });
    });
  });

  describe('stake deposits', () => {
    let deposited: string;
    const stakeOf = async (synqerId: string) => (await api.call('GET', `/synqers/${synqerId}/stake`, op())).body.active as string;
    const toVault = (amount: bigint) => transferChecked(synqAccount(stakerWallet), mint, stakeVault, stakerWallet.publicKey, amount);

    it('credits a TransferChecked of $SYNQ into the stake vault with the memo naming the synqer', async () => {
      deposited = await land([toVault(5n * SYNQ), memoInstruction('synq:stake:staker1', stakerWallet.publicKey)], [stakerWallet]);
      const answer = await depositOnChain('staker1', deposited);
      expect(answer.status).toBe(201);
      expect(answer.body).toMatchObject({ synqerId: 'staker1', active: '5000000', held: '5000000' });
      expect(await events('stake-staker1')).toEqual([
        { type: 'StakeDeposited', data: { synqerId: 'staker1', depositId: deposited, amount: '5000000', sourceAccount: synqAccount(stakerWallet).toBase58() } },
      ]);
      expect(await events(chainProofStream(deposited))).toEqual([
        { type: 'ChainProofClaimed', data: { signature: deposited, kind: 'stake-deposit', creditedTo: 'stake-staker1' } },
      ]);
    });

    it('refuses a deposit already credited, to the same synqer or another', async () => {
      await expectRefused(depositOnChain('staker1', deposited), 409, /^this transaction is already credited/, {
        stream: 'stake-staker1',
        signature: deposited,
      });
      await expectRefused(depositOnChain('staker2', deposited), 409, /^this transaction is already credited/, {
        stream: 'stake-staker2',
        signature: deposited,
      });
      // A burn claim and a deposit claim share one namespace: a deposit's signature is no burn either.
      await expectRefused(burnOnChain('dev1', deposited), 409, /^this transaction is already credited/, { stream: 'developer-dev1', signature: deposited });
      expect(await stakeOf('staker1')).toBe('5000000');
    });

    it('refuses a signature the chain does not know, and a synqer that is not registered', async () => {
      const signature = unknownSignature();
      await expectRefused(depositOnChain('staker1', signature), 404, /^the chain has no transaction with this signature/, {
        stream: 'stake-staker1',
        signature,
      });
      await expectRefused(depositOnChain('ghost', deposited), 404, /^no synqer is registered as ghost$/, {
        stream: 'stake-ghost',
        signature: deposited,
        field: 'synqerId',
      });
    });

    it('refuses a transaction that failed on chain', async () => {
      const signature = await land([toVault(1000n * SYNQ), memoInstruction('synq:stake:staker1', stakerWallet.publicKey)], [stakerWallet], 'failed');
      await expectRefused(depositOnChain('staker1', signature), 422, /^the transaction failed on chain and moved nothing/, {
        stream: 'stake-staker1',
        signature,
      });
    });

    it('refuses $SYNQ sent anywhere but the stake vault, and another mint', async () => {
      const memo = memoInstruction('synq:stake:staker1', stakerWallet.publicKey);
      const elsewhere = await land(
        [transferChecked(synqAccount(stakerWallet), mint, synqAccount(otherWallet), stakerWallet.publicKey, SYNQ), memo],
        [stakerWallet],
      );
      await expectRefused(depositOnChain('staker1', elsewhere), 422, /^the transaction transfers no \$SYNQ into the stake vault /, {
        stream: 'stake-staker1',
        signature: elsewhere,
      });

      const otherMintTarget = associatedTokenAddress(stakerWallet.publicKey, otherMint.publicKey);
      const wrongMint = await land(
        [
          createAssociatedAccountIdempotent(devWallet.publicKey, stakerWallet.publicKey, otherMint.publicKey),
          transferChecked(otherMintAccount, otherMint.publicKey, otherMintTarget, devWallet.publicKey, SYNQ),
          memoInstruction('synq:stake:staker1', devWallet.publicKey),
        ],
        [devWallet],
      );
      await expectRefused(depositOnChain('staker1', wrongMint), 422, /^the transaction transfers no \$SYNQ into the stake vault /, {
        stream: 'stake-staker1',
        signature: wrongMint,
      });
    });

    it('refuses a transaction with two transfers into the vault', async () => {
      const twice = await land([toVault(SYNQ), toVault(SYNQ), memoInstruction('synq:stake:staker1', stakerWallet.publicKey)], [stakerWallet]);
      await expectRefused(
        depositOnChain('staker1', twice),
        422,
        /^the transaction transfers \$SYNQ into the stake vault in 2 instructions: a deposit is a transaction with one$/,
        {
          stream: 'stake-staker1',
          signature: twice,
        },
      );
    });

    it('refuses a deposit without the memo, and one whose memo names another synqer', async () => {
      const unnamed = await land([toVault(SYNQ), memoInstruction('my stake', stakerWallet.publicKey)], [stakerWallet]);
      await expectRefused(depositOnChain('staker1', unnamed), 422, /^the transaction carries no memo "synq:stake:staker1"/, {
        stream: 'stake-staker1',
        signature: unnamed,
      });
      const bare = await land([toVault(SYNQ)], [stakerWallet]);
      await expectRefused(depositOnChain('staker1', bare), 422, /^the transaction carries no memo "synq:stake:staker1"/, {
        stream: 'stake-staker1',
        signature: bare,
      });

      const forOther = await land([toVault(2n * SYNQ), memoInstruction('synq:stake:staker2', stakerWallet.publicKey)], [stakerWallet]);
      await expectRefused(depositOnChain('staker1', forOther), 422, /^the transaction's memo "synq:stake:staker2" names another synqer, not staker1$/, {
        stream: 'stake-staker1',
        signature: forOther,
      });
      // It is staker2's.
      expect((await depositOnChain('staker2', forOther)).body.active).toBe('2000000');
      expect(await stakeOf('staker1')).toBe('5000000');
    });

    it('is for operators only, and refuses what is not a signature', async () => {
      expect((await depositOnChain('staker1', deposited, api.keys.developer)).status).toBe(403);
      expect((await depositOnChain('staker1', deposited, api.keys.auditor)).status).toBe(403);
      await expectRefused(depositOnChain('staker1', 12345), 422, /^must be a base58 transaction signature of 64 bytes$/, { stream: 'stake-staker1' });
    });
  });
});
