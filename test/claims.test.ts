import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Connection, Keypair, Message, PublicKey, SystemProgram, Transaction } from '@solana/web3.js';
import { claimStatusAddress, distributorAddress, newDistributorInstruction } from '../src/chain/jito-distributor';
import { associatedTokenAddress, readTokenAccount, signTransaction } from '../src/chain/token';
import { claimMessage } from '../src/claims/claim-transaction';
import { epochClaimCosts } from '../src/claims/claims';
import { startTestApi, type TestApi } from './support/api';
import { expectMoneyInvariants } from './support/money-invariants';
import { registerSynqers, runAndCloseEpoch, type TestSynqer } from './support/network';
import { awaitJob } from './support/jobs';

/**
 * Claims of a web3 epoch by the wallets themselves, against the real Jito merkle distributor in litesvm: the public
 * claim endpoint, self-paid and sponsored claims, the list of claims and its observation, and `synq claim`.
 */
describe('claims of a web3 epoch', () => {
  let api: TestApi;
  let synqers: TestSynqer[];
  let setup: { mint: string; treasuryAccount: string; treasuryAuthority: string };
  /** The sponsor's public key, as the sponsored claim's fee payer. */
  let sponsorAddress: string;
  /** Epoch 1's leaves, largest first. */
  let byAmount: { synqer: TestSynqer; amount: bigint }[];
  let dir: string;
  const MINIMUM = 1_000_000_000n;

  const walletOf = (synqer: TestSynqer) => synqer.wallet.publicKey.toBase58();
  const balanceOf = async (owner: PublicKey) => {
    const address = associatedTokenAddress(owner, new PublicKey(setup.mint));
    return readTokenAccount(address, await api.engine.chain.getAccount(address))?.amount ?? 0n;
  };
  const lamportsOf = async (address: PublicKey) => (await api.engine.chain.getAccount(address))?.lamports ?? 0n;
  const claimsStream = async (epoch: number) => {
    const events = [];
    for await (const event of api.engine.eventStore.readStream(`claims-${epoch}`)) events.push(event);
    return events;
  };
  const signatureCount = async () => (await api.engine.database.pool.query<{ n: string }>('SELECT count(*)::text AS n FROM chain_transactions')).rows[0].n;

  beforeAll(async () => {
    api = await startTestApi();
    dir = mkdtempSync(path.join(tmpdir(), 'synq-claims-'));
    synqers = await registerSynqers(api, 8);
    expect((await api.call('POST', '/treasury/fundings', api.keys.operator, { amount: '100000000000', reference: 'seed' })).status).toBe(201);
    const policy = (await api.call('GET', '/policy', api.keys.auditor)).body.inForce;
    delete policy.version;
    delete policy.effectiveFromEpoch;
    expect((await api.call('POST', '/policy', api.keys.operator, { ...policy, sponsoredClaimMinimum: MINIMUM.toString() })).status).toBe(201);
    const init = await api.call('POST', '/chain/init', api.keys.operator, { supply: '1000000000000000' });
    expect(init.status).toBe(201);
    setup = init.body;
    expect((await api.call('POST', '/settlement/mode', api.keys.operator, { mode: 'web3', reason: 'claims' })).status).toBe(200);
    await runAndCloseEpoch(api, 1, '8000000000', synqers);
    expect((await awaitJob(api, api.call('POST', '/epochs/1/settlement', api.keys.operator))).body).toMatchObject({ mode: 'web3', funded: true });
    byAmount = [];
    for (const synqer of synqers) {
      const leaf = await api.call('GET', `/epochs/1/distribution/${walletOf(synqer)}`, api.keys.auditor);
      byAmount.push({ synqer, amount: BigInt(leaf.body.amount) });
    }
    byAmount.sort((a, b) => (a.amount > b.amount ? -1 : a.amount < b.amount ? 1 : 0));
    // The policy's minimum splits the leaves: the largest can be sponsored, the smallest cannot.
    expect(byAmount[1].amount).toBeGreaterThanOrEqual(MINIMUM);
    expect(byAmount.at(-1)!.amount).toBeLessThan(MINIMUM);
  });
  afterAll(async () => {
    await expectMoneyInvariants(api);
    await api.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a wallet fetches its claim without a key, signs it with its own key, sends it through /chain/rpc and receives exactly its amount; a second claim is refused by the program', async () => {
    const { synqer, amount } = byAmount[2];
    const wallet = synqer.wallet;
    const connection = new Connection(`${api.engine.url}/chain/rpc`, 'confirmed');
    await api.engine.chain.requestAirdrop(wallet.publicKey, 100_000_000n);
    const answer = await api.call('GET', `/epochs/1/claims/${walletOf(synqer)}`, undefined);
    const distributor = distributorAddress(new PublicKey(setup.mint), 1n);
    expect(answer).toMatchObject({
      status: 200,
      body: {
        epoch: 1,
        wallet: walletOf(synqer),
        amount: amount.toString(),
        distributor: distributor.toBase58(),
        claimStatus: claimStatusAddress(wallet.publicKey, distributor).toBase58(),
        claimed: false,
        feePayer: walletOf(synqer),
        transaction: expect.any(String),
        claimDeadline: { unixTimestamp: expect.any(Number) },
      },
    });
    expect(answer.body.proof.every((node: string) => /^[0-9a-f]{64}$/.test(node))).toBe(true);
    const transaction = Transaction.from(Buffer.from(answer.body.transaction, 'base64'));
    expect(transaction.feePayer?.toBase58()).toBe(walletOf(synqer));
    expect(transaction.signatures.every((entry) => entry.signature === null)).toBe(true);
    transaction.sign(wallet);
    const signature = await connection.sendRawTransaction(transaction.serialize());
    const status = await pollStatus(connection, signature);
    expect(status?.err).toBeNull();
    expect(await balanceOf(wallet.publicKey)).toBe(amount);

    const after = await api.call('GET', `/epochs/1/claims/${walletOf(synqer)}`, undefined);
    expect(after.body).toMatchObject({ claimed: true, transaction: null });
    // The same claim built again by hand is refused by the program: the ClaimStatus account exists.
    const again = Transaction.from(Buffer.from(answer.body.transaction, 'base64'));
    again.recentBlockhash = (await connection.getLatestBlockhash()).blockhash;
    again.add(SystemProgram.transfer({ fromPubkey: wallet.publicKey, toPubkey: wallet.publicKey, lamports: 1 }));
    again.sign(wallet);
    await expect(connection.sendRawTransaction(again.serialize())).rejects.toThrow(/already in use|custom program error|0x0/);
    expect(await balanceOf(wallet.publicKey)).toBe(amount);
  });

  it('answers 404 for a wallet without a leaf or an epoch without a distributor, 422 for a malformed wallet, 409 while the distributor is not funded', async () => {
    const outsider = Keypair.generate().publicKey.toBase58();
    expect(await api.call('GET', `/epochs/1/claims/${outsider}`, undefined)).toMatchObject({
      status: 404,
      contentType: expect.stringContaining('application/problem+json'),
      body: { problems: [{ field: 'wallet' }] },
    });
    expect(await api.call('GET', `/epochs/99/claims/${outsider}`, undefined)).toMatchObject({ status: 404, body: { problems: [{ field: 'epoch' }] } });
    for (const bad of ['not-a-key', 'x'.repeat(5000), '%00', '%ED%A0%80', '1'.repeat(44), 'abc%ED%A0%80def', '%F0%9F%98']) {
      const answer = await api.call('GET', `/epochs/1/claims/${bad}`, undefined);
      expect(answer.status).toBeGreaterThanOrEqual(400);
      expect(answer.status).toBeLessThan(500);
      if (answer.status === 422) expect(answer.body.problems[0].field).toBe('wallet');
    }
    expect(await api.call('GET', `/epochs/1/claims/not-a-key`, undefined)).toMatchObject({ status: 422, body: { problems: [{ field: 'wallet' }] } });
    expect(await api.call('GET', `/epochs/1/claims/${walletOf(synqers[0])}?sponsored=maybe`, undefined)).toMatchObject({
      status: 422,
      body: { problems: [{ field: 'sponsored' }] },
    });

    // Epoch 2: someone took its distributor's address first, so its settlement is planned but never funded.
    await runAndCloseEpoch(api, 2, '1000000000', synqers);
    const squatter = Keypair.generate();
    await api.engine.chain.requestAirdrop(squatter.publicKey, 1_000_000_000n);
    const now = await api.engine.chain.unixTimestamp();
    const mint = new PublicKey(setup.mint);
    const { blockhash } = await api.engine.chain.latestBlockhash();
    await api.engine.chain.sendTransaction(
      signTransaction(
        [
          newDistributorInstruction(
            { mint, admin: squatter.publicKey, clawbackReceiver: new PublicKey(setup.treasuryAccount) },
            {
              version: 2n,
              root: Buffer.alloc(32, 7),
              maxTotalClaim: 1n,
              maxNumNodes: 1n,
              startVestingTs: now + 100n,
              endVestingTs: now + 200n,
              clawbackStartTs: now + 200n + 86_400n,
            },
          ),
        ],
        [squatter],
        blockhash,
      ),
    );
    expect((await awaitJob(api, api.call('POST', '/epochs/2/settlement', api.keys.operator))).status).toBe(409);
    expect(await api.call('GET', `/epochs/2/claims/${walletOf(synqers[0])}`, undefined)).toMatchObject({
      status: 409,
      body: { problems: [{ field: 'epoch', reason: expect.stringContaining('not funded') }] },
    });
    expect(await api.call('GET', '/epochs/2/claims', api.keys.auditor)).toMatchObject({ status: 409 });
  });

  describe('sponsored claims', () => {
    it('refuses a tampered transaction, naming what was changed, and sends nothing', async () => {
      const { synqer } = byAmount[0];
      const wallet = synqer.wallet;
      const answer = await api.call('GET', `/epochs/1/claims/${walletOf(synqer)}?sponsored=true`, undefined);
      expect(answer).toMatchObject({ status: 200, body: { sponsored: true, claimed: false, sponsorPays: { rentLamports: expect.any(String) } } });
      const sponsor = new PublicKey(answer.body.feePayer);
      expect(sponsor.toBase58()).not.toBe(walletOf(synqer));
      expect(sponsor.toBase58()).not.toBe(setup.treasuryAuthority);
      sponsorAddress = sponsor.toBase58();
      const base = () => Transaction.from(Buffer.from(answer.body.transaction, 'base64'));
      const post = (transaction: Transaction) =>
        api.call('POST', `/epochs/1/claims/${walletOf(synqer)}/sponsored`, undefined, {
          transaction: transaction.serialize({ requireAllSignatures: false, verifySignatures: false }).toString('base64'),
        });
      const before = await signatureCount();

      // The amount changed: new_claim's data carries amount_unlocked right after its 8-byte discriminator.
      const amountChanged = base();
      const claimInstruction = amountChanged.instructions.at(-1)!;
      claimInstruction.data = Buffer.from(claimInstruction.data);
      claimInstruction.data.writeBigUInt64LE(claimInstruction.data.readBigUInt64LE(8) + 1n, 8);
      amountChanged.partialSign(wallet);
      expect(await post(amountChanged)).toMatchObject({
        status: 422,
        body: { problems: [{ field: 'transaction', reason: expect.stringContaining('amount or proof') }] },
      });

      // An instruction added: the sponsor would also pay the wallet a lamport.
      const added = base();
      added.add(SystemProgram.transfer({ fromPubkey: sponsor, toPubkey: wallet.publicKey, lamports: 1_000_000 }));
      added.partialSign(wallet);
      expect(await post(added)).toMatchObject({ status: 422, body: { problems: [{ field: 'transaction', reason: expect.stringContaining('instructions') }] } });

      // Another fee payer.
      const otherPayer = base();
      otherPayer.feePayer = wallet.publicKey;
      otherPayer.partialSign(wallet);
      expect(await post(otherPayer)).toMatchObject({
        status: 422,
        body: { problems: [{ field: 'transaction', reason: expect.stringContaining('fee payer') }] },
      });

      // Untouched, but signed by someone else than the wallet; and not signed at all.
      const stranger = base();
      const strangerKey = Keypair.generate();
      stranger.signatures[stranger.signatures.findIndex((entry) => entry.publicKey.equals(wallet.publicKey))].signature = Buffer.from(
        strangerKey.secretKey.subarray(0, 64),
      );
      expect(await post(stranger)).toMatchObject({ status: 422, body: { problems: [{ field: 'transaction', reason: expect.stringContaining('signature') }] } });
      expect(await post(base())).toMatchObject({ status: 422, body: { problems: [{ field: 'transaction', reason: expect.stringContaining('signature') }] } });
      // Not a transaction at all.
      for (const body of [{}, { transaction: 'AAAA' }, { transaction: '\u0000' }, { transaction: 'x'.repeat(5000) }, { transaction: 12 }]) {
        expect(await api.call('POST', `/epochs/1/claims/${walletOf(synqer)}/sponsored`, undefined, body)).toMatchObject({
          status: 422,
          body: { problems: [{ field: 'transaction' }] },
        });
      }
      expect(await signatureCount()).toBe(before);
      expect(await claimsStream(1)).toEqual([]);
    });

    it('pays the claim of a wallet with no SOL exactly once under 50 concurrent posts: the sponsor pays the rent and the fee, the wallet gets its amount', async () => {
      const { synqer, amount } = byAmount[0];
      const wallet = synqer.wallet;
      expect(await lamportsOf(wallet.publicKey)).toBe(0n);
      const answer = await api.call('GET', `/epochs/1/claims/${walletOf(synqer)}?sponsored=true`, undefined);
      const sponsor = new PublicKey(answer.body.feePayer);
      const transaction = Transaction.from(Buffer.from(answer.body.transaction, 'base64'));
      transaction.partialSign(wallet);
      const body = { transaction: transaction.serialize({ requireAllSignatures: false }).toString('base64') };
      // The sponsor is funded (an airdrop on the embedded chain) when the first claim needs it; measure after that.
      const answers = await Promise.all(Array.from({ length: 50 }, () => api.call('POST', `/epochs/1/claims/${walletOf(synqer)}/sponsored`, undefined, body)));
      const succeeded = answers.filter((entry) => entry.status === 200);
      expect(succeeded.length).toBeGreaterThanOrEqual(1);
      expect(answers.every((entry) => entry.status === 200 || entry.status === 409)).toBe(true);
      const signatures = new Set(succeeded.map((entry) => entry.body.signature));
      expect(signatures.size).toBe(1);
      const result = succeeded[0].body;
      const rent = BigInt(answer.body.sponsorPays.rentLamports);
      expect(rent).toBe(1_336_320n + 2_039_280n); // the ClaimStatus account's rent, and the wallet's token account's
      expect(result).toMatchObject({ epoch: 1, wallet: walletOf(synqer), amount: amount.toString(), status: 'confirmed', sponsor: sponsor.toBase58() });
      expect(result.sponsorPaid).toEqual({ feeLamports: '10000', rentLamports: rent.toString(), totalLamports: (rent + 10_000n).toString() });
      expect(await balanceOf(wallet.publicKey)).toBe(amount);
      expect(await lamportsOf(wallet.publicKey)).toBe(0n);
      const landed = await api.engine.chain.getTransaction(result.signature);
      expect(landed).toMatchObject({ error: null, fee: 10_000n });
      expect(landed!.signers).toEqual([sponsor.toBase58(), walletOf(synqer)]);

      const events = await claimsStream(1);
      expect(events.map((event) => event.type)).toEqual(['SponsoredClaimSigned', 'SponsoredClaimConfirmed']);
      expect(events[0].data).toMatchObject({
        wallet: walletOf(synqer),
        signature: result.signature,
        sponsor: sponsor.toBase58(),
        rentLamports: rent.toString(),
      });
      expect(await epochClaimCosts(api.engine.eventStore, 1)).toEqual({
        epoch: 1,
        claims: 1,
        sponsoredClaims: 1,
        sponsorLamports: (rent + 10_000n).toString(),
        // The wallet paid nothing of its own.
        claimantLamports: '0',
      });

      // Posted again later: the recorded result, nothing sent.
      const before = await signatureCount();
      expect(await api.call('POST', `/epochs/1/claims/${walletOf(synqer)}/sponsored`, undefined, body)).toMatchObject({
        status: 200,
        body: { signature: result.signature },
      });
      expect(await signatureCount()).toBe(before);
    });

    it('refuses a second sponsored claim of the same wallet, and a claim below the policy minimum', async () => {
      const { synqer } = byAmount[0];
      expect(await api.call('GET', `/epochs/1/claims/${walletOf(synqer)}?sponsored=true`, undefined)).toMatchObject({
        status: 200,
        body: { claimed: true, transaction: null },
      });
      const small = byAmount.at(-1)!;
      expect(await api.call('GET', `/epochs/1/claims/${walletOf(small.synqer)}?sponsored=true`, undefined)).toMatchObject({
        status: 409,
        body: { problems: [{ field: 'amount', reason: expect.stringContaining('minimum') }] },
      });
      // Built by hand as the engine would (its own GET refuses to), posts are refused by the policy all the same.
      const own = await api.call('GET', `/epochs/1/claims/${walletOf(small.synqer)}`, undefined);
      const handBuilt = async (entry: { synqer: TestSynqer; amount: bigint }) => {
        const proof = (await api.call('GET', `/epochs/1/distribution/${walletOf(entry.synqer)}`, api.keys.auditor)).body.proof;
        const message = claimMessage(
          {
            distributor: new PublicKey(own.body.distributor),
            mint: new PublicKey(setup.mint),
            claimant: entry.synqer.wallet.publicKey,
            amount: entry.amount,
            proof: proof.map((node: string) => Buffer.from(node, 'hex')),
          },
          own.body.blockhash,
          { sponsor: new PublicKey(sponsorAddress), claimStatusRent: 1_336_320n },
        );
        const transaction = Transaction.populate(Message.from(message));
        transaction.partialSign(entry.synqer.wallet);
        return api.call('POST', `/epochs/1/claims/${walletOf(entry.synqer)}/sponsored`, undefined, {
          transaction: transaction.serialize({ requireAllSignatures: false }).toString('base64'),
        });
      };
      expect(await handBuilt(small)).toMatchObject({ status: 409, body: { problems: [{ field: 'amount', reason: expect.stringContaining('minimum') }] } });
      // A second sponsored claim of the wallet already sponsored: another blockhash, so another transaction.
      expect(await handBuilt(byAmount[0])).toMatchObject({
        status: 409,
        body: { problems: [{ field: 'wallet', reason: expect.stringContaining('claimed already') }] },
      });
      expect((await claimsStream(1)).filter((event) => event.type === 'SponsoredClaimSigned')).toHaveLength(1);
    });
  });

  it('synq claim: claims with a keypair file through the public endpoint and /chain/rpc; usage mistakes exit 2 with one line', async () => {
    const { synqer, amount } = byAmount[3];
    await api.engine.chain.requestAirdrop(synqer.wallet.publicKey, 100_000_000n);
    const keyFile = path.join(dir, 'wallet.json');
    writeFileSync(keyFile, JSON.stringify([...synqer.wallet.secretKey]));
    const result = await runClaim(['--epoch', '1', '--keypair', keyFile, '--url', api.engine.url]);
    expect(result).toMatchObject({ status: 0, stderr: '' });
    expect(result.stdout).toMatch(
      new RegExp(`^claimed ${amount} base units of epoch 1 for ${walletOf(synqer)}: signature \\w+; token balance now ${amount}\\n$`),
    );
    expect(await balanceOf(synqer.wallet.publicKey)).toBe(amount);

    // --sponsored: a wallet without SOL; the engine's sponsor pays.
    const poor = byAmount[1];
    const poorFile = path.join(dir, 'poor.json');
    writeFileSync(poorFile, JSON.stringify([...poor.synqer.wallet.secretKey]));
    const sponsored = await runClaim(['--epoch', '1', '--keypair', poorFile, '--url', api.engine.url, '--sponsored']);
    expect(sponsored).toMatchObject({ status: 0, stderr: '' });
    expect(sponsored.stdout).toMatch(
      new RegExp(
        `^claimed ${poor.amount} base units of epoch 1 for ${walletOf(poor.synqer)}: signature \\w+ \\(sponsored: the sponsor paid \\d+ lamports\\); token balance now ${poor.amount}\\n$`,
      ),
    );
    expect(await balanceOf(poor.synqer.wallet.publicKey)).toBe(poor.amount);
    expect(await lamportsOf(poor.synqer.wallet.publicKey)).toBe(0n);

    const again = await runClaim(['--epoch', '1', '--keypair', keyFile, '--url', api.engine.url]);
    expect(again).toMatchObject({ status: 1, stdout: '' });
    expect(again.stderr).toMatch(/^claim: epoch 1: \w+ has claimed already\n$/);
    const outsider = path.join(dir, 'outsider.json');
    writeFileSync(outsider, JSON.stringify([...Keypair.generate().secretKey]));
    const garbage = path.join(dir, 'garbage.json');
    writeFileSync(garbage, '[1,2,3]');
    const [unknown, unfunded, missing, malformed] = await Promise.all([
      runClaim(['--epoch', '1', '--keypair', outsider, '--url', api.engine.url]),
      runClaim(['--epoch', '2', '--keypair', keyFile, '--url', api.engine.url]),
      runClaim(['--epoch', '1', '--keypair', path.join(dir, 'missing.json'), '--url', api.engine.url]),
      runClaim(['--epoch', '1', '--keypair', garbage, '--url', api.engine.url]),
    ]);
    expect(unknown).toMatchObject({ status: 1, stderr: expect.stringMatching(/^claim: 404: wallet \w+ has no claim in epoch 1\n$/) });
    expect(unfunded).toMatchObject({ status: 1, stderr: expect.stringMatching(/^claim: 409: .*not funded.*\n$/) });
    expect(missing).toMatchObject({ status: 2, stderr: expect.stringMatching(/^claim: --keypair \S+missing.json cannot be read \(ENOENT\)\n$/) });
    expect(malformed).toMatchObject({ status: 2, stderr: expect.stringMatching(/^claim: --keypair \S+ is not a Solana CLI keypair.*\n$/) });
    expect(await runClaim(['--keypair', keyFile])).toMatchObject({ status: 2, stderr: expect.stringMatching(/^claim: --epoch must be .*\n$/) });
  }, 120_000);

  it('GET /epochs/{n}/claims lists every leaf claimed or not with totals, and records each claim seen once', async () => {
    expect((await api.call('GET', '/epochs/1/claims', undefined)).status).toBe(401);
    expect((await api.call('GET', '/epochs/1/claims', api.keys.ingest)).status).toBe(403);
    const list = await api.call('GET', '/epochs/1/claims', api.keys.auditor);
    expect(list.status).toBe(200);
    const claimed = [byAmount[0], byAmount[1], byAmount[2], byAmount[3]];
    const claimedAmount = claimed.reduce((sum, entry) => sum + entry.amount, 0n);
    const total = byAmount.reduce((sum, entry) => sum + entry.amount, 0n);
    expect(list.body.totals).toEqual({
      leaves: 8,
      claimed: { count: 4, amount: claimedAmount.toString() },
      unclaimed: { count: 4, amount: (total - claimedAmount).toString() },
      sponsored: { count: 2, sponsorLamports: expect.any(String) },
    });
    expect(list.body.claimDeadline).toMatchObject({ unixTimestamp: expect.any(Number) });
    expect(list.body.claims).toHaveLength(8);
    for (const entry of byAmount) {
      const row = list.body.claims.find((candidate: { wallet: string }) => candidate.wallet === walletOf(entry.synqer));
      const isClaimed = claimed.includes(entry);
      expect(row).toMatchObject({ amount: entry.amount.toString(), claimed: isClaimed, sponsored: entry === byAmount[0] || entry === byAmount[1] });
      if (isClaimed) expect(row.signature).toMatch(/^\w{80,90}$/);
      else expect(row).toMatchObject({ signature: null, slot: null });
    }
    const observed = (await claimsStream(1)).filter((event) => event.type === 'RewardClaimObserved');
    expect(observed.map((event) => (event.data as { wallet: string }).wallet).sort()).toEqual(claimed.map((entry) => walletOf(entry.synqer)).sort());
    const sponsoredRow = list.body.claims.find((row: { wallet: string }) => row.wallet === walletOf(byAmount[0].synqer));
    expect(observed.find((event) => (event.data as { wallet: string }).wallet === sponsoredRow.wallet)!.data).toMatchObject({
      epoch: 1,
      amount: byAmount[0].amount.toString(),
      claimStatus: claimStatusAddress(byAmount[0].synqer.wallet.publicKey, distributorAddress(new PublicKey(setup.mint), 1n)).toBase58(),
      signature: sponsoredRow.signature,
    });

    // Again, and with a page: nothing new recorded.
    const page = await api.call('GET', '/epochs/1/claims?limit=2&offset=1', api.keys.operator);
    expect(page.body.claims).toEqual(list.body.claims.slice(1, 3));
    expect(page.body.totals).toEqual(list.body.totals);
    expect((await claimsStream(1)).filter((event) => event.type === 'RewardClaimObserved')).toHaveLength(4);
    expect(await api.call('GET', '/epochs/1/claims?limit=0', api.keys.operator)).toMatchObject({ status: 422, body: { problems: [{ field: 'limit' }] } });
    const costs = await epochClaimCosts(api.engine.eventStore, 1);
    expect(costs).toMatchObject({ claims: 4, sponsoredClaims: 2, sponsorLamports: list.body.totals.sponsored.sponsorLamports });
    // The two wallets that claimed on their own paid their fee and the ClaimStatus rent each.
    const rent = await api.engine.chain.minimumBalanceForRentExemption(64);
    expect(BigInt(costs.claimantLamports)).toBe(2n * (rent + 5000n));
    // And the settlement says who paid what.
    const settlement = await api.call('GET', '/epochs/1/settlement', api.keys.auditor);
    expect(settlement.body.cost).toMatchObject({
      claims: { claims: 4, sponsoredClaims: 2, claimantLamports: costs.claimantLamports, sponsorLamports: costs.sponsorLamports },
      allLamports: (BigInt(settlement.body.cost.totalLamports) + BigInt(costs.claimantLamports) + BigInt(costs.sponsorLamports)).toString(),
    });
  });

  function runClaim(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [path.join(__dirname, '..', 'dist', 'scripts', 'claim.js'), ...args], {
        env: { ...process.env, DATABASE_URL: 'postgres://x@127.0.0.1:1/x', SOLANA_RPC_URL: '', LOG_LEVEL: '' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      child.on('error', reject);
      child.on('close', (status) => resolve({ status, stdout, stderr }));
    });
  }
});

async function pollStatus(connection: Connection, signature: string) {
  for (let i = 0; i < 100; i++) {
    const status = (await connection.getSignatureStatuses([signature])).value[0];
    if (status) return status;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return null;
}
