import { PublicKey } from '@solana/web3.js';
import type { DistributorFacts, DistributorLeafFacts } from '../../domain/chain-verification';
import type { PayoutState } from '../../domain/epoch-payout';
import { decodeClaimStatus, decodeMerkleDistributor } from '../../domain/jito-distributor';
import { settlementQueries } from '../../projections/settlement';
import { createHash } from 'node:crypto';
import type { ChainAccount, ChainGateway } from '../chain/chain-gateway';
import { claimStatusAddress } from '../chain/jito-distributor';
import { associatedTokenAddresses, readTokenAccount } from '../chain/token';
import type { ProjectionReader } from '../projections/projection-reader';

/** Accounts asked of the chain at once (an RPC node's getMultipleAccounts takes at most 100). */
export const ACCOUNTS_PER_REQUEST = 100;

/**
 * What the chain holds of every web3 epoch's distributor the books count as funded (its one transaction confirmed, or
 * landed while awaiting its outcome): the distributor account, its vault's balance, the ClaimStatus PDA of each leaf's
 * wallet (in chunks of 100) and every signature naming the vault. domain/chain-verification.ts decides from these.
 */
export async function loadDistributorFacts(
  chain: ChainGateway,
  reader: ProjectionReader,
  payouts: readonly PayoutState[],
  mint: PublicKey,
): Promise<(DistributorFacts & { accountsSha256: string })[]> {
  const facts: (DistributorFacts & { accountsSha256: string })[] = [];
  for (const state of payouts) {
    const plan = state.plan;
    const batch = state.batches[0];
    if (plan?.mode !== 'web3' || !plan.distributor || plan.batches[0]?.kind !== 'distributor') continue;
    if (batch?.status !== 'confirmed' && batch?.status !== 'awaiting') continue;
    const distributor = new PublicKey(plan.distributor.address);
    const vault = new PublicKey(plan.distributor.vault);
    const rows = await settlementQueries.leafAmounts(reader, plan.epoch);
    const tokenAccounts = await associatedTokenAddresses(
      rows.map((row) => row.wallet),
      mint,
    );
    const statuses = rows.map((row) => claimStatusAddress(new PublicKey(row.wallet), distributor));
    const [[account, vaultAccount], found, vaultSignatures] = await Promise.all([
      chain.getAccounts([distributor, vault]),
      getAccountsInChunks(chain, statuses),
      chain.signaturesForAddress(vault),
    ]);
    const leaves: DistributorLeafFacts[] = rows.map((row, i) => {
      const data = found[i]?.data;
      return {
        wallet: row.wallet,
        account: tokenAccounts[i].toBase58(),
        amount: BigInt(row.amount),
        claimStatus: statuses[i].toBase58(),
        claim: data ? decodeClaimStatus(data) : null,
      };
    });
    facts.push({
      epoch: plan.epoch,
      account: account ? decodeMerkleDistributor(account.data) : null,
      vaultBalance: readTokenAccount(vault, vaultAccount)?.amount ?? null,
      leaves,
      vaultSignatures,
      accountsSha256: accountsSha256(account, vaultAccount),
    });
  }
  return facts;
}

/**
 * sha256 of a distributor's and its vault's bytes: what a checkpoint of a clawed-back epoch rests on. Every claim, the
 * clawback, and a tampered or forked chain change one of them; a later run that finds them changed verifies the epoch
 * again, claims included.
 */
export function accountsSha256(distributor: ChainAccount | null, vault: ChainAccount | null): string {
  const hash = createHash('sha256');
  for (const account of [distributor, vault]) {
    const data = account?.data ?? Buffer.alloc(0);
    const length = Buffer.alloc(5);
    length.writeUInt8(account ? 1 : 0, 0);
    length.writeUInt32LE(data.length, 1);
    hash.update(length).update(data);
  }
  return hash.digest('hex');
}

export async function getAccountsInChunks(chain: ChainGateway, addresses: readonly PublicKey[]) {
  const accounts: Awaited<ReturnType<ChainGateway['getAccounts']>> = [];
  for (let i = 0; i < addresses.length; i += ACCOUNTS_PER_REQUEST) accounts.push(...(await chain.getAccounts(addresses.slice(i, i + ACCOUNTS_PER_REQUEST))));
  return accounts;
}
