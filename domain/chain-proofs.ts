import type { Decider } from './decider';
import { reject } from './rejection';
import { base58Decode, Checks } from './values';

/**
 * Facts proven from the chain: a developer's burn of $SYNQ (for data credits) and a synqer's stake deposit. The engine
 * reads the landed transaction through its chain gateway and passes it in here as plain data; these functions decide
 * what it proves, the way the SPL Token and Memo programs executed it. Only top-level instructions count (an
 * instruction run by another program, CPI, is not looked at), and only the $SYNQ mint and the stake vault that the
 * books recorded at `chain init` (domain/chain-setup.ts).
 *
 * A signature is credited once across the whole engine: the first command that credits it claims the stream
 * `chainproof-<signature>` (expected revision `no_stream`) before it records the credit on its own stream, and the claim
 * names that stream. A claim whose credit is missing (the engine stopped in between) is completed by submitting the
 * same signature for the same account again; any other account is refused.
 */

/** SPL Token (the original program; $SYNQ is minted by it) and Memo v2. */
export const TOKEN_PROGRAM = 'TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA';
export const MEMO_PROGRAM = 'MemoSq4gqABAXKb96qnH8TysNcWxMyWCqXgDLGmfcHr';

/** SPL Token instruction tags (the first byte of the data). */
const TRANSFER_CHECKED = 12;
const BURN = 8;
const BURN_CHECKED = 15;

export interface ObservedInstruction {
  programId: string;
  /** The instruction's accounts, resolved to base58 addresses, in the instruction's order. */
  accounts: readonly string[];
  data: Uint8Array;
}

/** A landed transaction as the chain reports it: its top-level instructions, and its error (null if it succeeded). */
export interface ObservedTransaction {
  signature: string;
  error: string | null;
  instructions: readonly ObservedInstruction[];
}

/** The recorded accounts a proof is checked against (`ChainInitialized`). */
export interface ProofAddresses {
  mint: string;
  stakeVault: string;
}

// ---------------------------------------------------------------------------------------------------------------------
// The uniqueness claim: stream `chainproof-<signature>`, one event.

export type ChainProofKind = 'developer-burn' | 'stake-deposit';

export interface ChainProofClaim {
  signature: string;
  kind: ChainProofKind;
  /** The stream the credit is recorded on: `developer-<id>` or `stake-<synqerId>`. */
  creditedTo: string;
}

export type ChainProofEvent = { type: 'ChainProofClaimed'; data: ChainProofClaim };

export const chainProofStream = (signature: string) => `chainproof-${signature}`;

export const evolveChainProof = (state: ChainProofClaim | undefined, event: ChainProofEvent): ChainProofClaim | undefined => state ?? event.data;

/** The claim to record before the credit; nothing when `creditedTo` holds it already (a credit being completed). */
export function claimChainProof(claim: ChainProofClaim | undefined, proof: ChainProofClaim): ChainProofEvent[] {
  if (claim) {
    if (claim.creditedTo === proof.creditedTo && claim.kind === proof.kind) return [];
    refuseAlreadyCredited();
  }
  return [{ type: 'ChainProofClaimed', data: proof }];
}

/** Refuses a signature credited before: on `stream` (`creditedHere`) or, as its claim says, on any other stream. */
export function requireNotCredited(claim: ChainProofClaim | undefined, stream: string, creditedHere: boolean): void {
  if (creditedHere || (claim && claim.creditedTo !== stream)) refuseAlreadyCredited();
}

export function refuseAlreadyCredited(): never {
  reject('conflict', 'signature', 'this transaction is already credited: a transaction proves one credit, once');
}

/** A transaction signature: base58 of 64 bytes. */
export function checkSignature(value: unknown): string {
  const checks = new Checks();
  if (typeof value !== 'string' || base58Decode(value)?.length !== 64) checks.add('signature', 'must be a base58 transaction signature of 64 bytes');
  checks.done();
  return value as string;
}

// ---------------------------------------------------------------------------------------------------------------------
// What a transaction proves.

/** Not found and failed transactions prove nothing. */
function requireSucceeded(transaction: ObservedTransaction | null): ObservedTransaction {
  if (!transaction) reject('not_found', 'signature', 'the chain has no transaction with this signature (not landed, or not yet)');
  if (transaction.error !== null) reject('invalid', 'signature', `the transaction failed on chain and moved nothing (${transaction.error})`);
  return transaction;
}

export interface TokenBurn {
  /** The token account burned from. */
  account: string;
  mint: string;
  /** The owner or delegate that signed the burn. */
  authority: string;
  amount: bigint;
}

/**
 * The top-level Burn and BurnChecked instructions of a transaction, read as the token program reads them: the tag,
 * then the amount (u64 little-endian; BurnChecked adds the decimals), trailing bytes ignored; accounts
 * [account, mint, authority, ...signers].
 */
export function tokenBurns(transaction: ObservedTransaction | null): TokenBurn[] {
  const burns: TokenBurn[] = [];
  for (const instruction of transaction?.instructions ?? []) {
    if (instruction.programId !== TOKEN_PROGRAM || instruction.accounts.length < 3) continue;
    const tag = instruction.data[0];
    if (!((tag === BURN && instruction.data.length >= 9) || (tag === BURN_CHECKED && instruction.data.length >= 10))) continue;
    burns.push({ account: instruction.accounts[0], mint: instruction.accounts[1], authority: instruction.accounts[2], amount: readU64(instruction.data, 1) });
  }
  return burns;
}

/** The token accounts whose $SYNQ a transaction burns: the gateway is asked who owns them. */
export const burnedAccounts = (transaction: ObservedTransaction | null, addresses: Pick<ProofAddresses, 'mint'>): string[] => [
  ...new Set(
    tokenBurns(transaction)
      .filter((burn) => burn.mint === addresses.mint)
      .map((burn) => burn.account),
  ),
];

export interface ProvenBurn {
  amount: bigint;
  /** The token account burned from, owned by the developer's wallet. */
  tokenAccount: string;
}

/**
 * The one burn of $SYNQ a successful transaction made from a token account owned by `wallet`. `owners` maps each
 * burned account (`burnedAccounts`) to its owner as the chain holds it now; null when the account no longer exists
 * (it was closed), which proves no owner. Burns of $SYNQ from other accounts in the same transaction are not the
 * developer's and are ignored. A transaction with several burns of the developer's is refused rather than summed: a
 * credit names one burn (one account, one amount), as verification checks it against the chain.
 */
export function proveBurn(
  transaction: ObservedTransaction | null,
  addresses: Pick<ProofAddresses, 'mint'>,
  wallet: string,
  owners: ReadonlyMap<string, string | null>,
): ProvenBurn {
  const landed = requireSucceeded(transaction);
  const burns = tokenBurns(landed).filter((burn) => burn.mint === addresses.mint && burn.amount > 0n);
  if (burns.length === 0) reject('invalid', 'signature', `the transaction burns no $SYNQ (mint ${addresses.mint})`);
  const own = burns.filter((burn) => owners.get(burn.account) === wallet);
  if (own.length === 0) {
    const account = burns[0].account;
    const owner = owners.get(account);
    reject(
      'invalid',
      'signature',
      `the $SYNQ was burned from ${account}, which is not owned by the developer's registered wallet ${wallet} (${owner ? `its owner is ${owner}` : 'the account no longer exists'})`,
    );
  }
  if (own.length > 1)
    reject('invalid', 'signature', `the transaction burns the developer's $SYNQ in ${own.length} instructions: a credit is for a transaction with one burn`);
  return { amount: own[0].amount, tokenAccount: own[0].account };
}

export interface ProvenStakeDeposit {
  amount: bigint;
  /** The token account the $SYNQ came from. */
  sourceAccount: string;
}

/** The memo that names the synqer a stake deposit is for. */
export const stakeMemo = (synqerId: string) => `synq:stake:${synqerId}`;
const STAKE_MEMO_PREFIX = 'synq:stake:';

/**
 * The $SYNQ a successful transaction moved into the stake vault for `synqerId`: its one top-level TransferChecked
 * (tag 12; accounts [source, mint, destination, authority]) of the $SYNQ mint into the vault, from any account but the
 * vault itself (several are refused, not summed: a credit names one transfer); and the transaction must carry a Memo v2
 * instruction reading exactly `synq:stake:<synqerId>`, and no stake memo naming anyone else.
 */
export function proveStakeDeposit(transaction: ObservedTransaction | null, addresses: ProofAddresses, synqerId: string): ProvenStakeDeposit {
  const landed = requireSucceeded(transaction);
  const transfers: { source: string; amount: bigint }[] = [];
  for (const instruction of landed.instructions) {
    if (instruction.programId !== TOKEN_PROGRAM || instruction.accounts.length < 4) continue;
    if (instruction.data[0] !== TRANSFER_CHECKED || instruction.data.length < 10) continue;
    const [source, mint, destination] = instruction.accounts;
    const amount = readU64(instruction.data, 1);
    if (mint === addresses.mint && destination === addresses.stakeVault && source !== addresses.stakeVault && amount > 0n) transfers.push({ source, amount });
  }
  if (transfers.length === 0) {
    reject(
      'invalid',
      'signature',
      `the transaction transfers no $SYNQ into the stake vault ${addresses.stakeVault} (a TransferChecked of mint ${addresses.mint})`,
    );
  }
  if (transfers.length > 1)
    reject(
      'invalid',
      'signature',
      `the transaction transfers $SYNQ into the stake vault in ${transfers.length} instructions: a deposit is a transaction with one`,
    );
  const memos = landed.instructions.filter((instruction) => instruction.programId === MEMO_PROGRAM).map((instruction) => utf8(instruction.data));
  const stakeMemos = memos.filter((memo): memo is string => memo !== undefined && memo.startsWith(STAKE_MEMO_PREFIX));
  if (stakeMemos.length === 0) reject('invalid', 'signature', `the transaction carries no memo "${stakeMemo(synqerId)}" saying whose stake it is`);
  const other = stakeMemos.find((memo) => memo !== stakeMemo(synqerId));
  if (other !== undefined) reject('invalid', 'signature', `the transaction's memo "${other}" names another synqer, not ${synqerId}`);
  return { amount: transfers[0].amount, sourceAccount: transfers[0].source };
}

function readU64(data: Uint8Array, offset: number): bigint {
  let value = 0n;
  for (let i = 7; i >= 0; i--) value = (value << 8n) | BigInt(data[offset + i]);
  return value;
}

/** The Memo program refuses data that is not UTF-8, so a landed memo always decodes; undefined otherwise. */
function utf8(data: Uint8Array): string | undefined {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(data);
  } catch {
    return undefined;
  }
}

export type ChainProofCommand = { type: 'ClaimChainProof'; data: ChainProofClaim };

/** The uniqueness claim of a transaction, by its signature: `chainproof-<signature>`. */
export const chainProofDecider: Decider<ChainProofClaim | undefined, ChainProofEvent, ChainProofCommand, string> = {
  streamOf: chainProofStream,
  initial: () => undefined,
  evolve: evolveChainProof,
  decide: (command, state) => claimChainProof(state, command.data),
};
