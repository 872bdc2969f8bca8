import { Connection, Keypair, LAMPORTS_PER_SOL, PublicKey, SystemProgram, Transaction, type SignatureStatus } from '@solana/web3.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { base58Encode } from '../domain/values';
import { RpcChain } from '../src/chain/rpc-chain';
import { chainGatewayContract } from './chain-gateway.contract';
import { startTestApi, type TestApi } from './support/api';

/** Polls getSignatureStatuses, as a client without websockets confirms. */
async function confirmByPolling(connection: Connection, signature: string): Promise<SignatureStatus> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const { value } = await connection.getSignatureStatuses([signature]);
    if (value[0]?.confirmationStatus === 'confirmed' || value[0]?.confirmationStatus === 'finalized') return value[0];
    await sleep(50);
  }
  throw new Error(`${signature} not confirmed`);
}

describe('POST /chain/rpc: Solana JSON-RPC on the embedded chain', () => {
  let api: TestApi;
  let connection: Connection;
  beforeAll(async () => {
    api = await startTestApi();
    connection = new Connection(`${api.engine.url}/chain/rpc`, 'confirmed');
  });
  afterAll(async () => {
    await api.close();
  });

  it('serves @solana/web3.js: airdrop, a SOL transfer signed here and confirmed by polling, balances, accounts, the transaction', async () => {
    const alice = Keypair.generate();
    const bob = Keypair.generate();
    const latest = await connection.getLatestBlockhash();
    expect(latest.lastValidBlockHeight).toBeGreaterThan(0);

    const airdrop = await connection.requestAirdrop(alice.publicKey, 2 * LAMPORTS_PER_SOL);
    expect((await confirmByPolling(connection, airdrop)).err).toBeNull();
    expect(await connection.getBalance(alice.publicKey)).toBe(2 * LAMPORTS_PER_SOL);

    const { blockhash } = await connection.getLatestBlockhash();
    const transfer = new Transaction({ feePayer: alice.publicKey, recentBlockhash: blockhash }).add(
      SystemProgram.transfer({ fromPubkey: alice.publicKey, toPubkey: bob.publicKey, lamports: LAMPORTS_PER_SOL / 2 }),
    );
    transfer.sign(alice);
    const signature = await connection.sendRawTransaction(transfer.serialize());
    const status = await confirmByPolling(connection, signature);
    expect(status).toMatchObject({ err: null, confirmationStatus: 'finalized' });

    expect(await connection.getBalance(bob.publicKey)).toBe(LAMPORTS_PER_SOL / 2);
    expect(await connection.getBalance(alice.publicKey)).toBe(2 * LAMPORTS_PER_SOL - LAMPORTS_PER_SOL / 2 - 5000);
    const info = await connection.getAccountInfo(bob.publicKey);
    expect(info).toMatchObject({ lamports: LAMPORTS_PER_SOL / 2, executable: false });
    expect(info!.owner.equals(SystemProgram.programId)).toBe(true);
    expect(await connection.getAccountInfo(Keypair.generate().publicKey)).toBeNull();

    const landed = await connection.getTransaction(signature, { commitment: 'confirmed', maxSupportedTransactionVersion: 0 });
    expect(landed).toMatchObject({ slot: status.slot, meta: { err: null, fee: 5000 } });
    expect(landed!.transaction.signatures[0]).toBe(signature);
    expect(landed!.transaction.message.staticAccountKeys.map((key) => key.toBase58())).toEqual([
      alice.publicKey.toBase58(),
      bob.publicKey.toBase58(),
      SystemProgram.programId.toBase58(),
    ]);
    expect((await connection.getSignaturesForAddress(bob.publicKey)).map((entry) => entry.signature)).toEqual([signature]);
    expect(await connection.getMinimumBalanceForRentExemption(165)).toBeGreaterThan(0);
    expect(await connection.getSlot()).toBeGreaterThanOrEqual(status.slot);
    expect(await connection.getBlockHeight()).toBeGreaterThanOrEqual(status.slot);
  });

  it('refuses in preflight what would fail, with its logs, and lands it with skipPreflight (base58 too)', async () => {
    const payer = Keypair.generate();
    await confirmByPolling(connection, await connection.requestAirdrop(payer.publicKey, LAMPORTS_PER_SOL));
    const { blockhash } = await connection.getLatestBlockhash();
    const tooMuch = new Transaction({ feePayer: payer.publicKey, recentBlockhash: blockhash }).add(
      SystemProgram.transfer({ fromPubkey: payer.publicKey, toPubkey: Keypair.generate().publicKey, lamports: 2 * LAMPORTS_PER_SOL }),
    );
    tooMuch.sign(payer);
    const simulated = await connection.simulateTransaction(tooMuch);
    expect(simulated.value.err).toEqual({ InstructionError: [0, { Custom: 1 }] });
    expect(simulated.value.logs?.join('\n')).toMatch(/insufficient lamports/);
    await expect(connection.sendRawTransaction(tooMuch.serialize())).rejects.toThrow(
      /Transaction simulation failed: Error processing Instruction 0: custom program error: 0x1/,
    );

    const answer = await api.call('POST', '/chain/rpc', undefined, {
      jsonrpc: '2.0',
      id: 7,
      method: 'sendTransaction',
      params: [base58Encode(tooMuch.serialize()), { skipPreflight: true }],
    });
    expect(answer).toMatchObject({ status: 200, body: { jsonrpc: '2.0', id: 7, result: expect.any(String) } });
    expect((await confirmByPolling(connection, answer.body.result as string)).err).toEqual({ InstructionError: [0, { Custom: 1 }] });
  });

  it("reads the engine's own $SYNQ treasury: token balance, several accounts at once, the signatures that touched it", async () => {
    const init = await api.call('POST', '/chain/init', api.keys.operator, { supply: '1234500000' });
    expect(init.status).toBe(201);
    const treasury = new PublicKey(init.body.treasuryAccount as string);
    expect((await connection.getTokenAccountBalance(treasury)).value).toEqual({
      amount: '1234500000',
      decimals: 6,
      uiAmount: 1234.5,
      uiAmountString: '1234.5',
    });
    const [mint, account, missing] = await connection.getMultipleAccountsInfo([
      new PublicKey(init.body.mint as string),
      treasury,
      Keypair.generate().publicKey,
    ]);
    expect(mint?.data.length).toBe(82);
    expect(account?.data.length).toBe(165);
    expect(missing).toBeNull();
    const signatures = await connection.getSignaturesForAddress(treasury);
    expect(signatures.length).toBeGreaterThan(0);
    expect(signatures[0]).toMatchObject({ err: null, confirmationStatus: 'finalized' });
    await expect(connection.getTokenAccountBalance(Keypair.generate().publicKey)).rejects.toThrow(/could not find account/);
  });

  it('answers JSON-RPC errors, batches and no key needed', async () => {
    const call = (body: unknown) => api.call('POST', '/chain/rpc', undefined, body);
    expect((await call({ jsonrpc: '2.0', id: 1, method: 'nope' })).body).toEqual({
      jsonrpc: '2.0',
      id: 1,
      error: { code: -32601, message: 'Method not found' },
    });
    expect((await call({ jsonrpc: '2.0', id: 2, method: 'getBalance', params: ['not a key'] })).body).toMatchObject({ id: 2, error: { code: -32602 } });
    expect((await call({ id: 3, method: 'getSlot' })).body).toMatchObject({ id: 3, error: { code: -32600 } });
    const batch = await call([
      { jsonrpc: '2.0', id: 'a', method: 'getSlot' },
      { jsonrpc: '2.0', id: 'b', method: 'getBlockHeight' },
      { jsonrpc: '2.0', id: 'c', method: 'getHealth' },
    ]);
    expect(batch.status).toBe(200);
    expect(batch.body).toEqual([
      { jsonrpc: '2.0', id: 'a', result: expect.any(Number) },
      { jsonrpc: '2.0', id: 'b', result: expect.any(Number) },
      { jsonrpc: '2.0', id: 'c', result: 'ok' },
    ]);
    expect(await call('{"jsonrpc": "2.0", "id": 5, "method": "getSlot"')).toMatchObject({
      status: 400,
      body: { jsonrpc: '2.0', id: null, error: { code: -32700, message: 'Parse error' } },
    });
    const forged = new Transaction({ feePayer: Keypair.generate().publicKey, recentBlockhash: (await connection.getLatestBlockhash()).blockhash });
    forged.add(SystemProgram.transfer({ fromPubkey: forged.feePayer!, toPubkey: forged.feePayer!, lamports: 1 }));
    const wire = forged.serialize({ requireAllSignatures: false, verifySignatures: false });
    expect((await call({ jsonrpc: '2.0', id: 4, method: 'sendTransaction', params: [wire.toString('base64'), { encoding: 'base64' }] })).body).toMatchObject({
      error: { code: -32003, message: 'Transaction signature verification failure' },
    });
  });
});

let shared: TestApi | undefined;
chainGatewayContract('RPC against the embedded engine (POST /chain/rpc)', async () => {
  shared = await startTestApi();
  const gateway = new RpcChain({ url: `${shared.engine.url}/chain/rpc`, pollIntervalMs: 20 });
  return {
    gateway,
    close: async () => {
      await gateway.close();
      await shared?.close();
    },
  };
});
