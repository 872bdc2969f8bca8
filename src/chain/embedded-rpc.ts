import { createHash, createPublicKey, verify } from 'node:crypto';
import { Keypair, PublicKey, SystemProgram, Transaction, VersionedTransaction, type VersionedMessage } from '@solana/web3.js';
import { base58Decode, base58Encode } from '../../domain/values';
import { ChainError } from './chain-gateway';
import type { EmbeddedChain } from './embedded-chain';
import { MEMO_PROGRAM_ID, readMint, readTokenAccount } from './token';

/**
 * Solana's JSON-RPC 2.0 over the embedded chain, in the shapes a cluster answers, so that `new Connection(url)` of
 * `@solana/web3.js` (and the engine's own RpcChain) work against it. Confirmation is by polling getSignatureStatuses:
 * there are no websockets. Everything that landed is final at once (one block per transaction, slot = block height).
 *
 * Not kept by the embedded ledger, so answered empty: pre/post balances, token balances, inner instructions and the
 * block time of a landed transaction.
 */
export class EmbeddedRpc {
  /** The faucet behind requestAirdrop: it is minted the lamports and sends them, so an airdrop is a transaction. */
  private readonly faucet = Keypair.generate();
  private airdrops: Promise<unknown> = Promise.resolve();

  constructor(private readonly chain: EmbeddedChain) {}

  /** One request or a batch; undefined when nothing is to be answered (notifications only). */
  async handle(body: unknown): Promise<JsonRpcResponse | JsonRpcResponse[] | undefined> {
    if (Array.isArray(body)) {
      if (body.length === 0) return failure(null, INVALID_REQUEST, 'Invalid request');
      if (body.length > MAX_BATCH) return failure(null, INVALID_REQUEST, `Invalid request: a batch holds at most ${MAX_BATCH} requests`);
      const answers: JsonRpcResponse[] = [];
      for (const request of body) {
        const answer = await this.one(request);
        if (answer) answers.push(answer);
      }
      return answers.length > 0 ? answers : undefined;
    }
    return this.one(body);
  }

  private async one(request: unknown): Promise<JsonRpcResponse | undefined> {
    if (typeof request !== 'object' || request === null || Array.isArray(request)) return failure(null, INVALID_REQUEST, 'Invalid request');
    const { jsonrpc, id, method, params } = request as Record<string, unknown>;
    const answerId = typeof id === 'string' || typeof id === 'number' ? id : null;
    if (jsonrpc !== '2.0' || typeof method !== 'string' || (params !== undefined && !Array.isArray(params))) {
      return failure(answerId, INVALID_REQUEST, 'Invalid request');
    }
    const handler = this.methods[method];
    let answer: JsonRpcResponse;
    if (!handler) answer = failure(answerId, METHOD_NOT_FOUND, 'Method not found');
    else {
      try {
        answer = { jsonrpc: '2.0', result: await handler((params as unknown[] | undefined) ?? []), id: answerId };
      } catch (error) {
        answer =
          error instanceof RpcError
            ? failure(answerId, error.code, error.message, error.data)
            : failure(answerId, INTERNAL_ERROR, `Internal error: ${(error as Error)?.message ?? String(error)}`);
      }
    }
    // A notification (no id) is answered with nothing (JSON-RPC 2.0).
    return id === undefined ? undefined : answer;
  }

  private readonly methods: Record<string, (params: unknown[]) => Promise<unknown>> = {
    getHealth: async () => 'ok',
    getVersion: async () => ({ 'solana-core': 'synq-embedded (litesvm 0.8)', 'feature-set': 0 }),
    getGenesisHash: async () =>
      base58Encode(
        createHash('sha256')
          .update(await this.chain.cluster())
          .digest(),
      ),
    getSlot: async () => Number(await this.chain.blockHeight()),
    getBlockHeight: async () => Number(await this.chain.blockHeight()),
    getEpochInfo: async () => {
      const height = Number(await this.chain.blockHeight());
      return { absoluteSlot: height, blockHeight: height, epoch: 0, slotIndex: height, slotsInEpoch: 432_000, transactionCount: null };
    },
    getLatestBlockhash: async () => {
      const latest = await this.chain.latestBlockhash();
      return this.withContext({ blockhash: latest.blockhash, lastValidBlockHeight: Number(latest.lastValidBlockHeight) });
    },
    isBlockhashValid: async ([blockhash]) => {
      const hash = text(blockhash, 'blockhash');
      // Valid while a transaction with it would not be refused for its blockhash.
      const probe = new Transaction({ feePayer: this.faucet.publicKey, recentBlockhash: hash }).add(
        SystemProgram.transfer({ fromPubkey: this.faucet.publicKey, toPubkey: this.faucet.publicKey, lamports: 0 }),
      );
      probe.sign(this.faucet);
      const simulated = await this.chain.simulateTransaction(probe.serialize());
      return this.withContext(simulated.error !== 'BlockhashNotFound');
    },
    getMinimumBalanceForRentExemption: async ([length]) =>
      Number(await this.chain.minimumBalanceForRentExemption(integer(length, 'data length', 10 * 1024 * 1024))),
    getFeeForMessage: async ([message]) => {
      const bytes = Buffer.from(text(message, 'message'), 'base64');
      // The message's header starts with its number of required signatures (after the version byte of a v0 message).
      const signatures = bytes.length === 0 ? 0 : bytes[0] & 0x80 ? (bytes[1] ?? 0) : bytes[0];
      return this.withContext(signatures * LAMPORTS_PER_SIGNATURE);
    },
    getBalance: async ([address]) => this.withContext(Number((await this.chain.getAccount(publicKey(address)))?.lamports ?? 0n)),
    getAccountInfo: async ([address, config]) => {
      const options = accountOptions(config);
      const account = await this.chain.getAccount(publicKey(address));
      return this.withContext(account && encodeAccount(account, options));
    },
    getMultipleAccounts: async ([addresses, config]) => {
      if (!Array.isArray(addresses)) throw invalidParams('Invalid params: expected an array of addresses');
      if (addresses.length > 100) throw invalidParams('Too many inputs provided; max 100');
      const options = accountOptions(config);
      const accounts = await this.chain.getAccounts(addresses.map((address) => publicKey(address)));
      return this.withContext(accounts.map((account) => account && encodeAccount(account, options)));
    },
    getTokenAccountBalance: async ([address]) => {
      const key = publicKey(address);
      const account = await this.chain.getAccount(key);
      if (!account) throw invalidParams('Invalid param: could not find account');
      const token = readTokenAccount(key, account);
      const mint = token && readMint(token.mint, await this.chain.getAccount(token.mint));
      if (!token || !mint) throw invalidParams('Invalid param: not a Token account');
      return this.withContext(tokenAmount(token.amount, mint.decimals));
    },
    sendTransaction: async ([encoded, config]) => {
      const options = object(config);
      const wire = decodeTransaction(encoded, options.encoding);
      verifySignatures(wire);
      if (options.skipPreflight !== true) {
        const simulated = await this.chain.simulateTransaction(wire);
        if (simulated.error !== null) {
          const err = clusterError(simulated.error);
          throw new RpcError(PREFLIGHT_FAILURE, `Transaction simulation failed: ${describeError(err)}`, {
            accounts: null,
            err,
            innerInstructions: null,
            logs: simulated.logs,
            replacementBlockhash: null,
            returnData: null,
            unitsConsumed: Number(simulated.unitsConsumed),
          });
        }
      }
      try {
        return await this.chain.sendTransaction(wire);
      } catch (error) {
        // Refused before it executed (fee payer without lamports, an account missing): it never lands.
        if (error instanceof ChainError) throw new RpcError(PREFLIGHT_FAILURE, `Transaction refused: ${error.message}`);
        throw error;
      }
    },
    simulateTransaction: async ([encoded, config]) => {
      const options = object(config);
      const wire = decodeTransaction(encoded, options.encoding);
      const sigVerify = options.sigVerify === true;
      const replace = options.replaceRecentBlockhash === true;
      if (sigVerify && replace) throw invalidParams('sigVerify may not be used with replaceRecentBlockhash');
      if (sigVerify) verifySignatures(wire);
      let replacementBlockhash: { blockhash: string; lastValidBlockHeight: number } | null = null;
      let simulated = wire;
      if (replace) {
        const latest = await this.chain.latestBlockhash();
        replacementBlockhash = { blockhash: latest.blockhash, lastValidBlockHeight: Number(latest.lastValidBlockHeight) };
        const transaction = VersionedTransaction.deserialize(wire);
        transaction.message.recentBlockhash = latest.blockhash;
        simulated = Buffer.from(transaction.serialize());
      }
      const outcome = await this.chain.simulateTransaction(simulated, { sigVerify });
      return this.withContext({
        accounts: null,
        err: outcome.error === null ? null : clusterError(outcome.error),
        innerInstructions: null,
        logs: outcome.logs,
        replacementBlockhash,
        returnData: null,
        unitsConsumed: Number(outcome.unitsConsumed),
      });
    },
    getSignatureStatuses: async ([signatures]) => {
      if (!Array.isArray(signatures)) throw invalidParams('Invalid params: expected an array of signatures');
      if (signatures.length > 256) throw invalidParams('Too many inputs provided; max 256');
      const found = await this.chain.getLedgerTransactions(signatures.map((signature) => signatureText(signature)));
      return this.withContext(
        found.map((landed) => {
          if (!landed) return null;
          const err = landed.error === null ? null : clusterError(landed.error);
          return { slot: Number(landed.slot), confirmations: null, err, status: err === null ? { Ok: null } : { Err: err }, confirmationStatus: 'finalized' };
        }),
      );
    },
    getTransaction: async ([signature, config]) => {
      const options = typeof config === 'string' ? { encoding: config } : object(config);
      const encoding = options.encoding ?? 'json';
      if (encoding !== 'json' && encoding !== 'base64' && encoding !== 'base58') {
        throw invalidParams(`Invalid params: encoding ${String(encoding)} is not served by the embedded chain (json, base64, base58)`);
      }
      const [landed] = await this.chain.getLedgerTransactions([signatureText(signature)]);
      if (!landed) return null;
      const transaction = VersionedTransaction.deserialize(landed.wire);
      const version = transaction.version;
      const maxVersion = options.maxSupportedTransactionVersion;
      if (version !== 'legacy' && (typeof maxVersion !== 'number' || maxVersion < version)) {
        throw new RpcError(
          UNSUPPORTED_TRANSACTION_VERSION,
          `Transaction version (${version}) is not supported by the requesting client. Please try the request again with the following configuration parameter: "maxSupportedTransactionVersion": ${version}`,
        );
      }
      const err = landed.error === null ? null : clusterError(landed.error);
      return {
        slot: Number(landed.slot),
        blockTime: null,
        ...(maxVersion === undefined ? {} : { version }),
        transaction:
          encoding === 'json'
            ? { signatures: transaction.signatures.map((bytes) => base58Encode(bytes)), message: jsonMessage(transaction.message) }
            : [encoding === 'base64' ? landed.wire.toString('base64') : base58Encode(landed.wire), encoding],
        meta: {
          err,
          status: err === null ? { Ok: null } : { Err: err },
          fee: Number(landed.fee),
          preBalances: [],
          postBalances: [],
          innerInstructions: [],
          logMessages: landed.logs,
          preTokenBalances: [],
          postTokenBalances: [],
          rewards: [],
          loadedAddresses: { writable: [], readonly: [] },
        },
      };
    },
    getSignaturesForAddress: async ([address, config]) => {
      const options = object(config);
      const limit = options.limit === undefined ? 1000 : integer(options.limit, 'limit', 1000);
      if (limit < 1) throw invalidParams('Invalid param: limit must be from 1 to 1000');
      const newestFirst = (await this.chain.signaturesForAddress(publicKey(address))).reverse();
      let from = 0;
      if (options.before !== undefined) {
        const at = newestFirst.indexOf(signatureText(options.before));
        from = at < 0 ? newestFirst.length : at + 1;
      }
      let to = newestFirst.length;
      if (options.until !== undefined) {
        const at = newestFirst.indexOf(signatureText(options.until));
        if (at >= 0) to = at;
      }
      const page = newestFirst.slice(from, Math.max(from, to)).slice(0, limit);
      const landed = await this.chain.getLedgerTransactions(page);
      return page.flatMap((signature, i) => {
        const found = landed[i];
        if (!found) return [];
        return [
          {
            signature,
            slot: Number(found.slot),
            err: found.error === null ? null : clusterError(found.error),
            memo: memoOf(found.wire),
            blockTime: null,
            confirmationStatus: 'finalized',
          },
        ];
      });
    },
    requestAirdrop: async ([address, lamports]) => {
      const to = publicKey(address);
      const amount = BigInt(integer(lamports, 'lamports', Number.MAX_SAFE_INTEGER));
      if (amount === 0n) throw invalidParams('Invalid param: lamports must be positive');
      const next = this.airdrops.then(() => this.airdrop(to, amount));
      this.airdrops = next.catch(() => undefined);
      return next;
    },
  };

  /** The faucet is minted the lamports and its fee, then sends them in a System transfer (a transaction, as on a cluster). */
  private async airdrop(to: PublicKey, lamports: bigint): Promise<string> {
    await this.chain.requestAirdrop(this.faucet.publicKey, lamports + BigInt(LAMPORTS_PER_SIGNATURE));
    const { blockhash } = await this.chain.latestBlockhash();
    const transfer = new Transaction({ feePayer: this.faucet.publicKey, recentBlockhash: blockhash }).add(
      SystemProgram.transfer({ fromPubkey: this.faucet.publicKey, toPubkey: to, lamports: Number(lamports) }),
    );
    transfer.sign(this.faucet);
    const wire = transfer.serialize();
    const simulated = await this.chain.simulateTransaction(wire);
    if (simulated.error !== null) throw new RpcError(INTERNAL_ERROR, `airdrop request failed: ${describeError(clusterError(simulated.error))}`);
    return this.chain.sendTransaction(wire);
  }

  private async withContext<T>(value: T): Promise<{ context: { slot: number }; value: T }> {
    return { context: { slot: Number(await this.chain.blockHeight()) }, value };
  }
}

export type JsonRpcResponse =
  | { jsonrpc: '2.0'; result: unknown; id: string | number | null }
  | { jsonrpc: '2.0'; error: { code: number; message: string; data?: unknown }; id: string | number | null };

/** JSON-RPC's and Solana's error codes. */
export const PARSE_ERROR = -32700;
export const INVALID_REQUEST = -32600;
export const METHOD_NOT_FOUND = -32601;
export const INVALID_PARAMS = -32602;
export const INTERNAL_ERROR = -32603;
export const PREFLIGHT_FAILURE = -32002;
export const SIGNATURE_VERIFICATION_FAILURE = -32003;
export const UNSUPPORTED_TRANSACTION_VERSION = -32015;

const MAX_BATCH = 1000;
const LAMPORTS_PER_SIGNATURE = 5000;
/** A packet: the largest transaction a cluster takes, and its base64 and base58 lengths. */
const PACKET_DATA_SIZE = 1232;
const MAX_BASE64_SIZE = 1644;
const MAX_BASE58_SIZE = 1683;
/** The rent epoch of a rent-exempt account, as clusters answer it (u64::MAX, which JSON readers take as this double). */
const RENT_EXEMPT_EPOCH = Number(2n ** 64n - 1n);
const MEMO_PROGRAM_V1 = 'Memo1UhkJRfHyvLMcVucJwxXeuD728EqVDDwQDxFMNo';
/** ASN.1 prefix of an Ed25519 public key in SPKI DER (RFC 8410): the raw 32 bytes follow. */
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

export function failure(id: string | number | null, code: number, message: string, data?: unknown): JsonRpcResponse {
  return { jsonrpc: '2.0', error: { code, message, ...(data === undefined ? {} : { data }) }, id };
}

class RpcError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly data?: unknown,
  ) {
    super(message);
  }
}

const invalidParams = (message: string) => new RpcError(INVALID_PARAMS, message);

function object(value: unknown): Record<string, unknown> {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) throw invalidParams('Invalid params: the configuration must be an object');
  return value as Record<string, unknown>;
}

function text(value: unknown, what: string): string {
  if (typeof value !== 'string') throw invalidParams(`Invalid params: ${what} must be a string`);
  return value;
}

function integer(value: unknown, what: string, max: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0 || value > max) {
    throw invalidParams(`Invalid params: ${what} must be an integer from 0 to ${max}`);
  }
  return value;
}

function publicKey(value: unknown): PublicKey {
  const bytes = typeof value === 'string' ? base58Decode(value) : undefined;
  if (!bytes || bytes.length !== 32) throw invalidParams('Invalid param: Invalid');
  return new PublicKey(bytes);
}

function signatureText(value: unknown): string {
  const bytes = typeof value === 'string' ? base58Decode(value) : undefined;
  if (!bytes || bytes.length !== 64) throw invalidParams('Invalid param: Invalid');
  return value as string;
}

function decodeTransaction(encoded: unknown, encoding: unknown): Buffer {
  const chosen = encoding ?? 'base58';
  const data = text(encoded, 'transaction');
  let wire: Buffer;
  if (chosen === 'base64') {
    if (data.length > MAX_BASE64_SIZE) throw tooLarge('base64', data.length);
    wire = Buffer.from(data, 'base64');
  } else if (chosen === 'base58') {
    if (data.length > MAX_BASE58_SIZE) throw tooLarge('base58', data.length);
    const bytes = base58DecodeAny(data);
    if (!bytes) throw invalidParams('invalid base58 encoding: InvalidCharacter');
    wire = Buffer.from(bytes);
  } else {
    throw invalidParams(`unsupported encoding: ${String(chosen)}. Supported encodings: base58, base64`);
  }
  if (wire.length > PACKET_DATA_SIZE)
    throw invalidParams(`${String(chosen)} encoded transaction too large: ${wire.length} bytes (max: ${PACKET_DATA_SIZE} bytes)`);
  try {
    VersionedTransaction.deserialize(wire);
  } catch {
    throw invalidParams('failed to deserialize solana_sdk::transaction::versioned::VersionedTransaction: io error: failed to fill whole buffer');
  }
  return wire;
}

const BASE58_ALPHABET = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';

/** base58 of any length (domain's base58Decode takes keys and signatures, up to 128 digits): a transaction's bytes. */
function base58DecodeAny(text: string): Buffer | undefined {
  let value = 0n;
  for (const digit of text) {
    const at = BASE58_ALPHABET.indexOf(digit);
    if (at < 0) return undefined;
    value = value * 58n + BigInt(at);
  }
  let zeros = 0;
  while (zeros < text.length && text[zeros] === '1') zeros++;
  const hex = value === 0n ? '' : value.toString(16);
  return Buffer.concat([Buffer.alloc(zeros), Buffer.from(hex.length % 2 === 1 ? `0${hex}` : hex, 'hex')]);
}

const tooLarge = (encoding: string, length: number) =>
  invalidParams(
    `${encoding} encoded transaction too large: ${length} bytes (max: encoded/raw ${encoding === 'base64' ? MAX_BASE64_SIZE : MAX_BASE58_SIZE}/${PACKET_DATA_SIZE})`,
  );

/** Every required signature checked against its key, as a cluster's RPC node does before anything else. */
function verifySignatures(wire: Buffer): void {
  const transaction = VersionedTransaction.deserialize(wire);
  const message = transaction.message.serialize();
  const signers = transaction.message.staticAccountKeys.slice(0, transaction.message.header.numRequiredSignatures);
  const valid =
    transaction.signatures.length === signers.length &&
    signers.every((signer, i) => {
      const key = createPublicKey({ key: Buffer.concat([ED25519_SPKI_PREFIX, signer.toBuffer()]), format: 'der', type: 'spki' });
      return verify(null, message, key, transaction.signatures[i]);
    });
  if (!valid) throw new RpcError(SIGNATURE_VERIFICATION_FAILURE, 'Transaction signature verification failure');
}

interface AccountOptions {
  encoding: 'base64' | 'base58';
  slice?: { offset: number; length: number };
}

function accountOptions(config: unknown): AccountOptions {
  const options = object(config);
  const encoding = options.encoding ?? 'base64';
  // jsonParsed falls back to base64 where a cluster has no parser; the embedded chain has none.
  if (encoding !== 'base64' && encoding !== 'base58' && encoding !== 'jsonParsed') {
    throw invalidParams(`Invalid params: encoding ${String(encoding)} is not served by the embedded chain (base64, base58, jsonParsed)`);
  }
  const slice = options.dataSlice === undefined ? undefined : object(options.dataSlice);
  return {
    encoding: encoding === 'base58' ? 'base58' : 'base64',
    ...(slice
      ? { slice: { offset: integer(slice.offset, 'dataSlice.offset', 10 * 1024 * 1024), length: integer(slice.length, 'dataSlice.length', 10 * 1024 * 1024) } }
      : {}),
  };
}

function encodeAccount(account: { lamports: bigint; owner: PublicKey; data: Buffer; executable: boolean }, options: AccountOptions) {
  const data = options.slice ? account.data.subarray(options.slice.offset, options.slice.offset + options.slice.length) : account.data;
  if (options.encoding === 'base58' && data.length > 128)
    throw invalidParams('Encoded binary (base 58) data should be less than 128 bytes, please use Base64 encoding.');
  return {
    data: [options.encoding === 'base64' ? data.toString('base64') : data.length === 0 ? '' : base58Encode(data), options.encoding],
    executable: account.executable,
    lamports: Number(account.lamports),
    owner: account.owner.toBase58(),
    rentEpoch: RENT_EXEMPT_EPOCH,
    space: account.data.length,
  };
}

function tokenAmount(amount: bigint, decimals: number) {
  const digits = amount.toString().padStart(decimals + 1, '0');
  const whole = digits.slice(0, digits.length - decimals);
  const fraction = digits.slice(digits.length - decimals).replace(/0+$/, '');
  const uiAmountString = fraction ? `${whole}.${fraction}` : whole;
  return { amount: amount.toString(), decimals, uiAmount: Number(uiAmountString), uiAmountString };
}

function jsonMessage(message: VersionedMessage) {
  return {
    accountKeys: message.staticAccountKeys.map((key) => key.toBase58()),
    header: message.header,
    recentBlockhash: message.recentBlockhash,
    instructions: message.compiledInstructions.map((instruction) => ({
      programIdIndex: instruction.programIdIndex,
      accounts: [...instruction.accountKeyIndexes],
      data: base58Encode(instruction.data),
      stackHeight: null,
    })),
    ...(message.version === 0
      ? {
          addressTableLookups: message.addressTableLookups.map((lookup) => ({
            accountKey: lookup.accountKey.toBase58(),
            writableIndexes: [...lookup.writableIndexes],
            readonlyIndexes: [...lookup.readonlyIndexes],
          })),
        }
      : {}),
  };
}

/** A cluster's memo field: each Memo instruction's text as `[length] text`, joined by "; "; null without one. */
function memoOf(wire: Buffer): string | null {
  const message = VersionedTransaction.deserialize(wire).message;
  const memos = message.compiledInstructions
    .filter((instruction) => {
      const program = message.staticAccountKeys[instruction.programIdIndex]?.toBase58();
      return program === MEMO_PROGRAM_ID.toBase58() || program === MEMO_PROGRAM_V1;
    })
    .map((instruction) => {
      const memo = Buffer.from(instruction.data).toString('utf8');
      return `[${instruction.data.length}] ${memo}`;
    });
  return memos.length > 0 ? memos.join('; ') : null;
}

/** Names of litesvm's errors without fields, by number, as a cluster writes them. */
const TRANSACTION_ERRORS = [
  'AccountInUse', 'AccountLoadedTwice', 'AccountNotFound', 'ProgramAccountNotFound', 'InsufficientFundsForFee', 'InvalidAccountForFee',
  'AlreadyProcessed', 'BlockhashNotFound', 'CallChainTooDeep', 'MissingSignatureForFee', 'InvalidAccountIndex', 'SignatureFailure',
  'InvalidProgramForExecution', 'SanitizeFailure', 'ClusterMaintenance', 'AccountBorrowOutstanding', 'WouldExceedMaxBlockCostLimit',
  'UnsupportedVersion', 'InvalidWritableAccount', 'WouldExceedMaxAccountCostLimit', 'WouldExceedAccountDataBlockLimit', 'TooManyAccountLocks',
  'AddressLookupTableNotFound', 'InvalidAddressLookupTableOwner', 'InvalidAddressLookupTableData', 'InvalidAddressLookupTableIndex',
  'InvalidRentPayingAccount', 'WouldExceedMaxVoteCostLimit', 'WouldExceedAccountDataTotalLimit', 'MaxLoadedAccountsDataSizeExceeded',
  'ResanitizationNeeded', 'InvalidLoadedAccountsDataSizeLimit', 'UnbalancedTransaction', 'ProgramCacheHitMaxLimit', 'CommitCancelled',
]; // prettier-ignore
const INSTRUCTION_ERRORS = [
  'GenericError', 'InvalidArgument', 'InvalidInstructionData', 'InvalidAccountData', 'AccountDataTooSmall', 'InsufficientFunds',
  'IncorrectProgramId', 'MissingRequiredSignature', 'AccountAlreadyInitialized', 'UninitializedAccount', 'UnbalancedInstruction',
  'ModifiedProgramId', 'ExternalAccountLamportSpend', 'ExternalAccountDataModified', 'ReadonlyLamportChange', 'ReadonlyDataModified',
  'DuplicateAccountIndex', 'ExecutableModified', 'RentEpochModified', 'NotEnoughAccountKeys', 'AccountDataSizeChanged',
  'AccountNotExecutable', 'AccountBorrowFailed', 'AccountBorrowOutstanding', 'DuplicateAccountOutOfSync', 'InvalidError',
  'ExecutableDataModified', 'ExecutableLamportChange', 'ExecutableAccountNotRentExempt', 'UnsupportedProgramId', 'CallDepth',
  'MissingAccount', 'ReentrancyNotAllowed', 'MaxSeedLengthExceeded', 'InvalidSeeds', 'InvalidRealloc', 'ComputationalBudgetExceeded',
  'PrivilegeEscalation', 'ProgramEnvironmentSetupFailure', 'ProgramFailedToComplete', 'ProgramFailedToCompile', 'Immutable',
  'IncorrectAuthority', 'AccountNotRentExempt', 'InvalidAccountOwner', 'ArithmeticOverflow', 'UnsupportedSysvar', 'IllegalOwner',
  'MaxAccountsDataAllocationsExceeded', 'MaxAccountsExceeded', 'MaxInstructionTraceLengthExceeded', 'BuiltinProgramsMustConsumeComputeUnits',
  'BorshIoError',
]; // prettier-ignore

/**
 * The embedded chain's error text (litesvm's, as the ledger keeps it) in a cluster's JSON: `{"InstructionError":[0,{"Custom":1}]}`,
 * `"BlockhashNotFound"`, `{"InsufficientFundsForRent":{"account_index":1}}`. Text it does not recognise is kept as it is.
 */
export function clusterError(error: string): unknown {
  if (/^\d+$/.test(error)) return TRANSACTION_ERRORS[Number(error)] ?? error;
  const instruction = /^TransactionErrorInstructionError \{ index: (\d+), error: (.*) \}$/.exec(error);
  if (instruction) return { InstructionError: [Number(instruction[1]), instructionError(instruction[2])] };
  const withAccount = /^TransactionError(InsufficientFundsForRent|ProgramExecutionTemporarilyRestricted) \{ account_index: (\d+) \}$/.exec(error);
  if (withAccount) return { [withAccount[1]]: { account_index: Number(withAccount[2]) } };
  const duplicate = /^TransactionErrorDuplicateInstruction \{ index: (\d+) \}$/.exec(error);
  if (duplicate) return { DuplicateInstruction: Number(duplicate[1]) };
  return error;
}

function instructionError(error: string): unknown {
  const custom = /^InstructionErrorCustom \{ code: (\d+) \}$/.exec(error);
  if (custom) return { Custom: Number(custom[1]) };
  const borsh = /^InstructionErrorBorshIo \{ msg: "(.*)" \}$/.exec(error);
  if (borsh) return { BorshIoError: borsh[1] };
  if (/^\d+$/.test(error)) return INSTRUCTION_ERRORS[Number(error)] ?? error;
  return error;
}

/** A cluster's words for the errors preflight reports most. */
function describeError(err: unknown): string {
  if (err === 'BlockhashNotFound') return 'Blockhash not found';
  if (err === 'AlreadyProcessed') return 'This transaction has already been processed';
  if (err === 'AccountNotFound') return 'Attempt to debit an account but found no record of a prior credit.';
  if (err === 'InsufficientFundsForFee') return 'Insufficient funds for fee';
  if (typeof err === 'object' && err !== null) {
    const instruction = (err as { InstructionError?: [number, unknown] }).InstructionError;
    if (instruction) {
      const [index, reason] = instruction;
      const custom = (reason as { Custom?: number }).Custom;
      return `Error processing Instruction ${index}: ${custom !== undefined ? `custom program error: 0x${custom.toString(16)}` : String(reason)}`;
    }
    const rent = (err as { InsufficientFundsForRent?: { account_index: number } }).InsufficientFundsForRent;
    if (rent) return `Transaction results in an account (${rent.account_index}) with insufficient funds for rent`;
  }
  return typeof err === 'string' ? err : JSON.stringify(err);
}
