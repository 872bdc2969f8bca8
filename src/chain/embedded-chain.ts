import { createHash, randomUUID } from 'node:crypto';
import { setFlagsFromString } from 'node:v8';
import { Client, type ClientConfig, type Pool } from 'pg';
import { PublicKey, SYSVAR_CLOCK_PUBKEY } from '@solana/web3.js';
import type { FailedTransactionMetadata, LiteSVM as LiteSvmType, TransactionMetadata } from 'litesvm';
import { base58Encode } from '../../domain/values';
import { ChainError, decodeWire, type ChainAccount, type ChainGateway, type Confirmation, type LandedTransaction, type RecentBlockhash } from './chain-gateway';
import { JITO_DISTRIBUTOR_PROGRAM_ID, loadJitoDistributorProgram } from './jito-distributor';

// litesvm's native module corrupts V8's allocation-site pretenuring table once an SBF program (SPL Token, Memo) has
// run, and the next full GC aborts with std::bad_alloc (LiteSVM/litesvm#171, reproduced here with one Memo
// transaction and global.gc()). Pretenuring is an optimisation only; without it the crash does not occur.
setFlagsFromString('--no-allocation-site-pretenuring');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { LiteSVM } = require('litesvm') as typeof import('litesvm');
const { TransactionErrorInstructionError, TransactionErrorInsufficientFundsForRent } =
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  require('litesvm/dist/internal') as typeof import('litesvm/dist/internal');

/** As on mainnet: a blockhash stays usable for 150 blocks. */
const BLOCKHASH_VALIDITY = 150n;
/** The embedded chain's fee schedule: the cluster default, per signature, no priority fees. */
const LAMPORTS_PER_SIGNATURE = 5000n;
// Another namespace than the projections' (735813) and the migrator's.
const LOCK_NAMESPACE = 735814;

/**
 * The embedded chain: litesvm runs the real SPL Token, Associated Token Account and Memo programs in-process, and this
 * adapter gives it what litesvm leaves out: a ledger that survives restarts (PostgreSQL, migration 005), transactions
 * found by signature, block heights and blockhash expiry. Transactions execute one at a time, each in full, and are
 * written with the accounts they touched in one statement; a process that dies before that statement leaves the chain
 * as if the transaction had never been sent (as a cluster drops one it never received).
 *
 * One process at a time owns the ledger (a session advisory lock): two in-memory copies would diverge.
 */
export class EmbeddedChain implements ChainGateway {
  readonly kind = 'embedded';
  private queue: Promise<unknown> = Promise.resolve();
  /** Blockhash → the height it was issued at, for those issued since this process opened the ledger. */
  private readonly issued = new Map<string, bigint>();
  /** Outcomes of the transactions this process executed, so confirming one needs no query (the ledger has them all). */
  private readonly landed = new Map<string, { height: bigint; error: string | null; fee: bigint }>();

  private constructor(
    private readonly pool: Pool,
    private readonly lock: Client,
    private svm: LiteSvmType,
    private readonly genesis: string,
    private height: bigint,
    /** Seconds the operator moved the chain clock ahead of the wall clock (chain_ledger.clock_offset). */
    private clockOffset: bigint,
  ) {}

  static async open(pool: Pool, connection: ClientConfig): Promise<EmbeddedChain> {
    const lock = new Client(connection);
    await lock.connect();
    try {
      const { rows } = await lock.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1, 0) AS locked', [LOCK_NAMESPACE]);
      if (!rows[0].locked) {
        throw new ChainBusyError('the embedded chain is open in another process (a running engine?): stop it, or use its API, to work on the chain');
      }
      await pool.query('INSERT INTO chain_ledger (genesis, block_height) VALUES ($1, 1) ON CONFLICT (id) DO NOTHING', [randomUUID()]);
      const ledger = await pool.query<{ genesis: string; block_height: string; clock_offset: string }>(
        'SELECT genesis, block_height, clock_offset FROM chain_ledger',
      );
      const { genesis, block_height, clock_offset } = ledger.rows[0];
      const chain = new EmbeddedChain(pool, lock, await loadSvm(pool, BigInt(clock_offset)), genesis, BigInt(block_height), BigInt(clock_offset));
      return chain;
    } catch (error) {
      await lock.end().catch(() => undefined);
      throw error;
    }
  }

  async cluster(): Promise<string> {
    return `embedded:${this.genesis}`;
  }

  async getAccount(address: PublicKey): Promise<ChainAccount | null> {
    return this.read(address);
  }

  async getAccounts(addresses: readonly PublicKey[]): Promise<(ChainAccount | null)[]> {
    return addresses.map((address) => this.read(address));
  }

  async latestBlockhash(): Promise<RecentBlockhash> {
    const blockhash = this.blockhashAt(this.height);
    if (this.issued.size > 1000) this.issued.clear();
    this.issued.set(blockhash, this.height);
    return { blockhash, lastValidBlockHeight: this.height + BLOCKHASH_VALIDITY };
  }

  async blockHeight(): Promise<bigint> {
    return this.height;
  }

  async minimumBalanceForRentExemption(dataLength: number): Promise<bigint> {
    return this.svm.minimumBalanceForRentExemption(BigInt(dataLength));
  }

  sendTransaction(wire: Uint8Array): Promise<string> {
    return this.serially(() => this.execute(wire));
  }

  /**
   * Runs a signed transaction without landing it (a cluster's simulateTransaction and preflight): nothing is written.
   * `error` is null when it would succeed, `AlreadyProcessed` or `BlockhashNotFound` when it could not land, else
   * litesvm's error (as `getTransaction` keeps it for a failed one, or the number of an error without fields).
   */
  simulateTransaction(wire: Uint8Array, options: { sigVerify?: boolean } = {}): Promise<{ error: string | null; logs: string[]; unitsConsumed: bigint }> {
    return this.serially(async () => {
      const decoded = decodeWire(wire);
      const known =
        this.landed.has(decoded.signature) ||
        (await this.pool.query('SELECT 1 FROM chain_transactions WHERE signature = $1', [decoded.signature])).rows.length > 0;
      if (known) return { error: 'AlreadyProcessed', logs: [], unitsConsumed: 0n };
      const issuedAt = this.issuedAt(decoded.blockhash);
      if (issuedAt === undefined || this.height > issuedAt + BLOCKHASH_VALIDITY) return { error: 'BlockhashNotFound', logs: [], unitsConsumed: 0n };
      const inner = (
        this.svm as unknown as {
          inner: {
            simulateLegacyTransaction(b: Uint8Array): { meta(): TransactionMetadata } | FailedTransactionMetadata;
            simulateVersionedTransaction(b: Uint8Array): { meta(): TransactionMetadata } | FailedTransactionMetadata;
            setSigverify(on: boolean): void;
          };
        }
      ).inner;
      const sigVerify = options.sigVerify ?? true;
      this.tick();
      if (!sigVerify) inner.setSigverify(false);
      let result: { meta(): TransactionMetadata } | FailedTransactionMetadata;
      try {
        result = decoded.version === 'legacy' ? inner.simulateLegacyTransaction(wire) : inner.simulateVersionedTransaction(wire);
      } finally {
        if (!sigVerify) inner.setSigverify(true);
      }
      if (typeof (result as FailedTransactionMetadata).err === 'function') {
        const failed = result as FailedTransactionMetadata;
        return { error: String(failed.err()), logs: failed.meta().logs(), unitsConsumed: failed.meta().computeUnitsConsumed() };
      }
      const meta = (result as { meta(): TransactionMetadata }).meta();
      return { error: null, logs: meta.logs(), unitsConsumed: meta.computeUnitsConsumed() };
    });
  }

  /** Landed transactions as the ledger keeps them (wire bytes, outcome, logs), in the order asked; null where unknown. */
  async getLedgerTransactions(
    signatures: readonly string[],
  ): Promise<({ signature: string; slot: bigint; wire: Buffer; error: string | null; fee: bigint; logs: string[] } | null)[]> {
    const { rows } = await this.pool.query<LedgerRow & { logs: string[] }>(
      'SELECT signature, block_height, wire, error, fee, logs FROM chain_transactions WHERE signature = ANY($1::text[])',
      [[...signatures]],
    );
    const found = new Map(rows.map((row) => [row.signature, row]));
    return signatures.map((signature) => {
      const row = found.get(signature);
      return row ? { signature, slot: BigInt(row.block_height), wire: row.wire, error: row.error, fee: BigInt(row.fee), logs: row.logs } : null;
    });
  }

  async confirmTransaction(signature: string, lastValidBlockHeight: bigint): Promise<Confirmation> {
    const recent = this.landed.get(signature);
    const landed = recent ? { slot: recent.height, error: recent.error, fee: recent.fee } : await this.getTransaction(signature);
    if (landed)
      return landed.error === null
        ? { status: 'succeeded', slot: landed.slot, fee: landed.fee }
        : { status: 'failed', slot: landed.slot, fee: landed.fee, error: landed.error };
    // Executed transactions land at once, so one not found never will: waiting for it is letting its blocks pass.
    await this.serially(async () => {
      if (this.height <= lastValidBlockHeight) await this.advanceTo(lastValidBlockHeight + 1n);
    });
    return { status: 'expired' };
  }

  async getTransaction(signature: string): Promise<LandedTransaction | null> {
    const { rows } = await this.pool.query<LedgerRow & { logs: string[] }>(
      'SELECT signature, block_height, wire, error, fee, logs FROM chain_transactions WHERE signature = $1',
      [signature],
    );
    return rows.length === 0 ? null : { ...fromLedger(rows[0]), logs: rows[0].logs };
  }

  async signaturesForAddress(address: PublicKey, options: { after?: string } = {}): Promise<string[]> {
    // One transaction per block: a block height orders them. An `after` the ledger does not have asks for everything.
    const { rows } = await this.pool.query<{ signature: string }>(
      `SELECT signature FROM chain_transactions
        WHERE accounts @> ARRAY[$1::text]
          AND block_height > COALESCE((SELECT block_height FROM chain_transactions WHERE signature = $2), -1)
        ORDER BY block_height`,
      [address.toBase58(), options.after ?? null],
    );
    return rows.map((row) => row.signature);
  }

  async getTransactions(signatures: readonly string[]): Promise<(Omit<LandedTransaction, 'logs'> | null)[]> {
    const found = new Map<string, Omit<LandedTransaction, 'logs'>>();
    for (let i = 0; i < signatures.length; i += 1000) {
      const { rows } = await this.pool.query<LedgerRow>(
        'SELECT signature, block_height, wire, error, fee FROM chain_transactions WHERE signature = ANY($1::text[])',
        [signatures.slice(i, i + 1000)],
      );
      for (const row of rows) found.set(row.signature, fromLedger(row));
    }
    return signatures.map((signature) => found.get(signature) ?? null);
  }

  requestAirdrop(address: PublicKey, lamports: bigint): Promise<void> {
    return this.serially(async () => {
      const result = this.svm.airdrop(address, lamports);
      if (!result || isFailure(result)) throw new ChainError(`airdrop of ${lamports} lamports to ${address.toBase58()} failed`);
      await this.persist([address.toBase58()], undefined);
    });
  }

  /** Lets blocks pass without transactions (the embedded chain's clock): blockhashes older than 150 blocks expire. */
  advanceBlocks(count: bigint): Promise<void> {
    return this.serially(() => this.advanceTo(this.height + count));
  }

  /**
   * The chain clock's unix time (the Clock sysvar programs read): the wall clock plus the seconds an operator moved it
   * forward. It never goes back.
   */
  async unixTimestamp(): Promise<bigint> {
    return this.tick();
  }

  /**
   * Operator only (not part of ChainGateway: a cluster's clock is its own): moves the chain clock `seconds` ahead, for
   * good (kept in the ledger), e.g. past a distributor's clawback start. Returns the new unix time.
   */
  advanceClock(seconds: bigint): Promise<bigint> {
    if (typeof seconds !== 'bigint' || seconds < 0n) return Promise.reject(new RangeError(`the clock moves forward only, not by ${String(seconds)} s`));
    return this.serially(async () => {
      await this.pool.query('UPDATE chain_ledger SET clock_offset = clock_offset + $1', [seconds.toString()]);
      this.clockOffset += seconds;
      return this.tick();
    });
  }

  /**
   * Tests only (not in ChainGateway; nothing in the engine calls it): rewrites an existing account's data in place, as
   * no transaction could, and keeps it in the ledger. Replay-verification's fault-injection tests use it to show a chain
   * that disagrees with the books in ways the real programs forbid (a distributor whose root is not the books', a vault
   * holding less than it was funded with). Lamports, owner and size stay as they are.
   */
  tamperAccountForTests(address: PublicKey, mutate: (data: Buffer) => void): Promise<void> {
    return this.serially(async () => {
      const account = this.svm.getAccount(address);
      if (!account || account.executable) throw new ChainError(`no account ${address.toBase58()} to tamper with`);
      const data = Buffer.from(account.data);
      mutate(data);
      if (data.length !== account.data.length) throw new ChainError('a tampered account keeps its size');
      this.svm.setAccount(address, { lamports: account.lamports, owner: account.owner, data, executable: false });
      await this.persist([address.toBase58()], undefined);
    });
  }

  async close(): Promise<void> {
    await this.queue.catch(() => undefined);
    await this.lock.end().catch(() => undefined);
  }

  private async execute(wire: Uint8Array): Promise<string> {
    const decoded = decodeWire(wire);
    if (this.landed.has(decoded.signature)) return decoded.signature;
    // A blockhash this process issued is younger than its ownership of the ledger: anything signed with it that landed
    // landed here, and is in `landed`. Only older ones need the ledger asked.
    if (!this.issued.has(decoded.blockhash)) {
      const known = await this.pool.query('SELECT 1 FROM chain_transactions WHERE signature = $1', [decoded.signature]);
      if (known.rows.length > 0) return decoded.signature;
    }
    const issuedAt = this.issuedAt(decoded.blockhash);
    // An unknown or expired blockhash: the cluster accepts the bytes and drops them; nothing lands.
    if (issuedAt === undefined || this.height > issuedAt + BLOCKHASH_VALIDITY) return decoded.signature;

    this.tick();
    // The wire bytes go to litesvm as they are (its sendTransaction would decode and encode them again).
    const inner = (
      this.svm as unknown as {
        inner: {
          sendLegacyTransaction(b: Uint8Array): TransactionMetadata | FailedTransactionMetadata;
          sendVersionedTransaction(b: Uint8Array): TransactionMetadata | FailedTransactionMetadata;
        };
      }
    ).inner;
    const result = decoded.version === 'legacy' ? inner.sendLegacyTransaction(wire) : inner.sendVersionedTransaction(wire);
    let error: string | null = null;
    let logs: string[];
    if (isFailure(result)) {
      const reason = result.err();
      // Rejected before execution (bad signature, fee payer without lamports, missing account): it does not land.
      if (!(reason instanceof TransactionErrorInstructionError || reason instanceof TransactionErrorInsufficientFundsForRent)) {
        throw new ChainError(`transaction ${decoded.signature} rejected: ${result.toString()}`);
      }
      error = reason.toString();
      logs = result.meta().logs();
    } else {
      logs = result.logs();
    }
    const fee = LAMPORTS_PER_SIGNATURE * BigInt(decoded.signers.length);
    const touched = new Set(decoded.instructions.flatMap((instruction) => instruction.accounts));
    for (const signer of decoded.signers) touched.add(signer);
    await this.persist([...touched], { signature: decoded.signature, wire, error, fee, logs, accounts: [...touched] });
    return decoded.signature;
  }

  /** Writes the accounts, the transaction and the new height in one statement: all of it, or none. */
  private async persist(
    addresses: string[],
    transaction: { signature: string; wire: Uint8Array; error: string | null; fee: bigint; logs: string[]; accounts: string[] } | undefined,
  ): Promise<void> {
    const height = transaction ? this.height + 1n : this.height;
    const rows = addresses.flatMap((address) => {
      const account = this.svm.getAccount(new PublicKey(address));
      if (!account || account.executable) return [];
      return [{ address, lamports: BigInt(account.lamports).toString(), owner: account.owner.toBase58(), data: Buffer.from(account.data) }];
    });
    try {
      await this.pool.query(
        `WITH accounts AS (
           INSERT INTO chain_accounts (address, lamports, owner, data, executable)
           SELECT address, lamports, owner, data, false FROM unnest($1::text[], $2::numeric[], $3::text[], $4::bytea[]) AS a(address, lamports, owner, data)
           ON CONFLICT (address) DO UPDATE SET lamports = excluded.lamports, owner = excluded.owner, data = excluded.data
         ), landed AS (
           INSERT INTO chain_transactions (signature, block_height, wire, error, fee, logs, accounts)
           SELECT $5::text, $6::bigint, $7::bytea, $8::text, $9::numeric, $10::text[], $11::text[] WHERE $5::text IS NOT NULL
         )
         UPDATE chain_ledger SET block_height = $6`,
        [
          rows.map((row) => row.address),
          rows.map((row) => row.lamports),
          rows.map((row) => row.owner),
          rows.map((row) => row.data),
          transaction?.signature ?? null,
          height.toString(),
          transaction ? Buffer.from(transaction.wire) : null,
          transaction?.error ?? null,
          transaction?.fee.toString() ?? null,
          transaction?.logs ?? null,
          transaction?.accounts ?? null,
        ],
      );
    } catch (error) {
      // Memory ran ahead of the ledger: go back to what the ledger holds, as after a restart.
      this.svm = await loadSvm(this.pool, this.clockOffset);
      throw error;
    }
    this.height = height;
    if (transaction) {
      if (this.landed.size >= 1_000_000) this.landed.clear();
      this.landed.set(transaction.signature, { height, error: transaction.error, fee: transaction.fee });
    }
  }

  private async advanceTo(height: bigint): Promise<void> {
    await this.pool.query('UPDATE chain_ledger SET block_height = $1', [height.toString()]);
    this.height = height;
  }

  /** Brings the chain clock up to the wall clock plus the offset (never back); the chain's unix time. */
  private tick(): bigint {
    return setClockAtLeast(this.svm, wallClockSeconds() + this.clockOffset);
  }

  private read(address: PublicKey): ChainAccount | null {
    // The Clock sysvar as a cluster would show it now, not as the last transaction left it.
    if (address.equals(SYSVAR_CLOCK_PUBKEY)) this.tick();
    const account = this.svm.getAccount(address);
    if (!account) return null;
    return { lamports: BigInt(account.lamports), owner: account.owner, data: Buffer.from(account.data), executable: account.executable };
  }

  /** Blockhashes derive from the chain's genesis and the height they were issued at, so they survive a restart. */
  private blockhashAt(height: bigint): string {
    return base58Encode(createHash('sha256').update(`synq embedded chain ${this.genesis} ${height}`).digest());
  }

  private issuedAt(blockhash: string): bigint | undefined {
    const known = this.issued.get(blockhash);
    if (known !== undefined) return known;
    for (let height = this.height; height >= 1n && height >= this.height - BLOCKHASH_VALIDITY; height--) {
      if (this.blockhashAt(height) === blockhash) return height;
    }
    return undefined;
  }

  private serially<T>(work: () => Promise<T>): Promise<T> {
    const next = this.queue.then(work, work);
    this.queue = next.catch(() => undefined);
    return next;
  }
}

/** Another process owns the embedded chain's ledger. */
export class ChainBusyError extends ChainError {
  override name = 'ChainBusyError';
}

interface LedgerRow {
  signature: string;
  block_height: string;
  wire: Buffer;
  error: string | null;
  fee: string;
}

function fromLedger(row: LedgerRow): Omit<LandedTransaction, 'logs'> {
  const decoded = decodeWire(row.wire);
  return {
    signature: row.signature,
    slot: BigInt(row.block_height),
    error: row.error,
    fee: BigInt(row.fee),
    instructions: decoded.instructions,
    signers: decoded.signers,
  };
}

function isFailure(result: TransactionMetadata | FailedTransactionMetadata): result is FailedTransactionMetadata {
  return typeof (result as FailedTransactionMetadata).err === 'function';
}

const wallClockSeconds = (): bigint => BigInt(Math.floor(Date.now() / 1000));

function setClockAtLeast(svm: LiteSvmType, unixTimestamp: bigint): bigint {
  const clock = svm.getClock();
  if (clock.unixTimestamp < unixTimestamp) {
    clock.unixTimestamp = unixTimestamp;
    svm.setClock(clock);
  }
  return clock.unixTimestamp;
}

/**
 * litesvm with the ledger's accounts, Jito's merkle distributor (checked by sha256; the programs are not in the ledger,
 * which keeps no executable account) and the clock at the wall clock plus `clockOffset`.
 */
async function loadSvm(pool: Pool, clockOffset: bigint): Promise<LiteSvmType> {
  // Blockhashes are the adapter's (see issuedAt); litesvm's own check knows only its latest one.
  const svm = new LiteSVM().withBlockhashCheck(false).withTransactionHistory(0n);
  const { rows } = await pool.query<{ address: string; lamports: string; owner: string; data: Buffer }>(
    'SELECT address, lamports, owner, data FROM chain_accounts',
  );
  for (const row of rows) {
    svm.setAccount(new PublicKey(row.address), { lamports: Number(row.lamports), owner: new PublicKey(row.owner), data: row.data, executable: false });
  }
  svm.addProgram(JITO_DISTRIBUTOR_PROGRAM_ID, loadJitoDistributorProgram());
  setClockAtLeast(svm, wallClockSeconds() + clockOffset);
  return svm;
}
