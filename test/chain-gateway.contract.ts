import { Keypair, LAMPORTS_PER_SOL, PublicKey } from '@solana/web3.js';
import { ChainError, signatureOf, type ChainGateway } from '../src/chain/chain-gateway';
import {
  associatedTokenAddress,
  createAssociatedAccountIdempotent,
  createMintInstructions,
  execute,
  memoInstruction,
  mintToChecked,
  readMint,
  readTokenAccount,
  sendAndConfirm,
  signTransaction,
  MEMO_PROGRAM_ID,
  TOKEN_PROGRAM_ID,
  transferChecked,
} from '../src/chain/token';

/**
 * What settlement and verification need of a chain, run against each adapter: the embedded chain always, a cluster
 * over RPC whenever SOLANA_RPC_URL is set. Every step runs the real SPL Token, Associated Token Account and Memo programs.
 */
export function chainGatewayContract(name: string, open: () => Promise<{ gateway: ChainGateway; close(): Promise<void> }>): void {
  describe(`chain gateway contract: ${name}`, () => {
    let gateway: ChainGateway;
    let close: () => Promise<void>;
    const authority = Keypair.generate();
    const mint = Keypair.generate();
    const alice = Keypair.generate();
    const bob = Keypair.generate();
    let treasury: PublicKey;

    beforeAll(async () => {
      ({ gateway, close } = await open());
      await gateway.requestAirdrop(authority.publicKey, BigInt(2 * LAMPORTS_PER_SOL));
      await gateway.requestAirdrop(alice.publicKey, BigInt(LAMPORTS_PER_SOL));
      treasury = associatedTokenAddress(authority.publicKey, mint.publicKey);
    });
    afterAll(async () => {
      await close();
    });

    it('creates a mint and token accounts (idempotently), mints and reads them back in one call', async () => {
      await execute(gateway, await createMintInstructions(gateway, authority.publicKey, mint.publicKey, authority.publicKey), [authority, mint], 'create mint');
      await execute(
        gateway,
        [
          createAssociatedAccountIdempotent(authority.publicKey, authority.publicKey, mint.publicKey),
          createAssociatedAccountIdempotent(authority.publicKey, authority.publicKey, mint.publicKey),
          mintToChecked(mint.publicKey, treasury, authority.publicKey, 5_000_000n),
        ],
        [authority],
        'fund treasury',
      );
      const [mintAccount, treasuryAccount, missing] = await gateway.getAccounts([mint.publicKey, treasury, Keypair.generate().publicKey]);
      expect(readMint(mint.publicKey, mintAccount)).toEqual({ supply: 5_000_000n, decimals: 6, mintAuthority: authority.publicKey });
      expect(readTokenAccount(treasury, treasuryAccount)).toMatchObject({ amount: 5_000_000n, owner: authority.publicKey, mint: mint.publicKey });
      expect(missing).toBeNull();
      expect((await gateway.getAccount(authority.publicKey))?.owner.toBase58()).toBe('11111111111111111111111111111111');
    });

    it('tells the chain clock (the Clock sysvar), which never goes back and follows the wall clock', async () => {
      const first = await gateway.unixTimestamp();
      const wall = BigInt(Math.floor(Date.now() / 1000));
      // A cluster's clock may lag the wall clock a little; the embedded one follows it (plus any operator offset).
      expect(first).toBeGreaterThan(wall - 600n);
      expect(await gateway.unixTimestamp()).toBeGreaterThanOrEqual(first);
    });

    it('finds a landed transfer by its signature, with its instructions, memo, signer and fee', async () => {
      const bobAccount = associatedTokenAddress(bob.publicKey, mint.publicKey);
      const before = (await gateway.getAccount(authority.publicKey))!.lamports;
      const rent = await gateway.minimumBalanceForRentExemption(165);
      const { signature, confirmation } = await sendAndConfirm(
        gateway,
        [
          createAssociatedAccountIdempotent(authority.publicKey, bob.publicKey, mint.publicKey),
          transferChecked(treasury, mint.publicKey, bobAccount, authority.publicKey, 1_250_000n),
          memoInstruction('synq:v1:test', authority.publicKey),
        ],
        [authority],
      );
      expect(confirmation).toMatchObject({ status: 'succeeded' });
      const landed = await gateway.getTransaction(signature);
      expect(landed).toMatchObject({ signature, error: null, signers: [authority.publicKey.toBase58()] });
      expect(landed!.fee).toBeGreaterThan(0n);
      expect(landed!.instructions.map((instruction) => instruction.programId)).toEqual([
        'ATokenGPvbdGVxr1b2hvZbsiqW5xWH25efTNsLJA8knL',
        TOKEN_PROGRAM_ID.toBase58(),
        MEMO_PROGRAM_ID.toBase58(),
      ]);
      expect(landed!.instructions[1].accounts).toEqual([treasury, mint.publicKey, bobAccount, authority.publicKey].map((key) => key.toBase58()));
      expect(landed!.instructions[2].data.toString('utf8')).toBe('synq:v1:test');
      const { logs: _logs, ...withoutLogs } = landed!;
      expect(
        await gateway.getTransactions([signature, '5VERv8NMvzbJMEkV8xnrLkEaWRtSz9CosKDYjCJjBRnbJLgp8uirBgmQpjKhoR4tjF3ZpRzrFmBV6UjKdiSZkQUW', signature]),
      ).toEqual([withoutLogs, null, withoutLogs]);
      expect(readTokenAccount(bobAccount, await gateway.getAccount(bobAccount))?.amount).toBe(1_250_000n);
      expect((await gateway.signaturesForAddress(bobAccount)).at(-1)).toBe(signature);
      expect(await gateway.signaturesForAddress(treasury)).toContain(signature);
      // Only what landed after a signature (a verification's watch on an account); everything for one the chain lacks.
      const all = await gateway.signaturesForAddress(treasury);
      expect(await gateway.signaturesForAddress(treasury, { after: all[0] })).toEqual(all.slice(1));
      expect(await gateway.signaturesForAddress(treasury, { after: signature })).toEqual(all.slice(all.indexOf(signature) + 1));
      expect(
        await gateway.signaturesForAddress(treasury, { after: '5VERv8NMvzbJMEkV8xnrLkEaWRtSz9CosKDYjCJjBRnbJLgp8uirBgmQpjKhoR4tjF3ZpRzrFmBV6UjKdiSZkQUW' }),
      ).toEqual(all);
      // The fee payer paid exactly the fee and the new account's rent.
      expect((await gateway.getAccount(authority.publicKey))!.lamports).toBe(before - landed!.fee - rent);
    });

    it('executes a transaction once however often it is sent', async () => {
      const bobAccount = associatedTokenAddress(bob.publicKey, mint.publicKey);
      const { blockhash, lastValidBlockHeight } = await gateway.latestBlockhash();
      const wire = signTransaction(
        [transferChecked(treasury, mint.publicKey, bobAccount, authority.publicKey, 1n), memoInstruction('once', authority.publicKey)],
        [authority],
        blockhash,
      );
      const before = readTokenAccount(bobAccount, await gateway.getAccount(bobAccount))!.amount;
      const signature = await gateway.sendTransaction(wire);
      expect(await gateway.sendTransaction(wire)).toBe(signature);
      expect(await gateway.confirmTransaction(signature, lastValidBlockHeight)).toMatchObject({ status: 'succeeded' });
      expect(await gateway.sendTransaction(wire)).toBe(signature);
      expect(readTokenAccount(bobAccount, await gateway.getAccount(bobAccount))!.amount).toBe(before + 1n);
    });

    it('records a failed transfer as landed with its error, and charges its fee (over RPC: refused by preflight, nothing lands)', async () => {
      const aliceAccount = associatedTokenAddress(alice.publicKey, mint.publicKey);
      await execute(gateway, [createAssociatedAccountIdempotent(alice.publicKey, alice.publicKey, mint.publicKey)], [alice], 'alice account');
      const bobAccount = associatedTokenAddress(bob.publicKey, mint.publicKey);
      const instructions = [transferChecked(aliceAccount, mint.publicKey, bobAccount, alice.publicKey, 10n)];
      if (gateway.kind === 'rpc') {
        // The RPC adapter sends with preflight: a cluster refuses what would fail before it lands, so nothing is charged.
        const { blockhash } = await gateway.latestBlockhash();
        const wire = signTransaction(instructions, [alice], blockhash);
        await expect(gateway.sendTransaction(wire)).rejects.toThrow(/simulation failed: Error processing Instruction 0: custom program error: 0x1/);
        expect(await gateway.getTransaction(signatureOf(wire))).toBeNull();
        return;
      }
      const { signature, confirmation } = await sendAndConfirm(gateway, instructions, [alice]);
      expect(confirmation.status).toBe('failed');
      const landed = await gateway.getTransaction(signature);
      expect(landed?.error).toEqual(expect.any(String));
      expect(landed!.fee).toBeGreaterThan(0n);
    });

    it('reports a transaction whose blockhash expired without landing as expired, and never finds it', async () => {
      const height = await gateway.blockHeight();
      const stale = '4uQeVj5tqViQh7yWWGStvkEG1Zmhx6uasJtWCJziofM'; // a blockhash this chain never issued
      const wire = signTransaction([memoInstruction('never lands', authority.publicKey)], [authority], stale);
      // A cluster's preflight refuses it at once; the embedded chain drops it as a cluster drops what it never executes.
      await gateway.sendTransaction(wire).catch((error: unknown) => expect(error).toBeInstanceOf(ChainError));
      expect(await gateway.confirmTransaction(signatureOf(wire), height - 1n)).toEqual({ status: 'expired' });
      expect(await gateway.getTransaction(signatureOf(wire))).toBeNull();
    });

    it('refuses a transaction that is not properly signed, and nothing of it lands', async () => {
      const { blockhash } = await gateway.latestBlockhash();
      const wire = signTransaction([memoInstruction('forged', authority.publicKey)], [authority], blockhash);
      wire[10] ^= 0xff; // corrupt the signature
      await expect(gateway.sendTransaction(wire)).rejects.toBeInstanceOf(ChainError);
    });

    it('answers null for a signature it does not know, and tells its cluster and block height', async () => {
      expect(await gateway.getTransaction('5VERv8NMvzbJMEkV8xnrLkEaWRtSz9CosKDYjCJjBRnbJLgp8uirBgmQpjKhoR4tjF3ZpRzrFmBV6UjKdiSZkQUW')).toBeNull();
      expect(await gateway.cluster()).toMatch(/^(embedded|solana):\S+$/);
      expect(await gateway.blockHeight()).toBeGreaterThan(0n);
    });
  });
}
