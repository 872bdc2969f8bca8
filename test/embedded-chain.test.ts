import { Keypair, LAMPORTS_PER_SOL } from '@solana/web3.js';
import { EmbeddedChain } from '../src/chain/embedded-chain';
import { execute, memoInstruction, signTransaction } from '../src/chain/token';
import { chainGatewayContract } from './chain-gateway.contract';
import { createTestDatabase, type TestDatabase } from './support/database';

chainGatewayContract('embedded (litesvm)', async () => {
  const database = await createTestDatabase();
  const gateway = await EmbeddedChain.open(database.pool, { connectionString: database.url });
  return {
    gateway,
    close: async () => {
      await gateway.close();
      await database.drop();
    },
  };
});

describe('embedded chain ledger', () => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterAll(async () => {
    await database.drop();
  });

  it('keeps accounts, transactions and block height across a restart, and lets one process own it at a time', async () => {
    const payer = Keypair.generate();
    const first = await EmbeddedChain.open(database.pool, { connectionString: database.url });
    await expect(EmbeddedChain.open(database.pool, { connectionString: database.url })).rejects.toThrow(/open in another process/);
    await first.requestAirdrop(payer.publicKey, BigInt(LAMPORTS_PER_SOL));
    const signature = await execute(first, [memoInstruction('before restart', payer.publicKey)], [payer], 'memo');
    const { blockhash, lastValidBlockHeight } = await first.latestBlockhash();
    const pending = signTransaction([memoInstruction('signed before restart', payer.publicKey)], [payer], blockhash);
    const height = await first.blockHeight();
    const cluster = await first.cluster();
    await first.close();

    const second = await EmbeddedChain.open(database.pool, { connectionString: database.url });
    try {
      expect(await second.cluster()).toBe(cluster);
      expect(await second.blockHeight()).toBe(height);
      expect((await second.getAccount(payer.publicKey))?.lamports).toBe(BigInt(LAMPORTS_PER_SOL) - 5000n);
      expect((await second.getTransaction(signature))?.instructions[0].data.toString()).toBe('before restart');
      // A blockhash issued before the restart is still good until its last valid height...
      const landed = await second.sendTransaction(pending);
      expect(await second.confirmTransaction(landed, lastValidBlockHeight)).toMatchObject({ status: 'succeeded' });
      // ...and not after it.
      await second.advanceBlocks(151n);
      const late = signTransaction([memoInstruction('too late', payer.publicKey)], [payer], blockhash);
      const dropped = await second.sendTransaction(late);
      expect(await second.confirmTransaction(dropped, lastValidBlockHeight)).toEqual({ status: 'expired' });
      expect(await second.getTransaction(dropped)).toBeNull();
    } finally {
      await second.close();
    }
  });
});
