import type { Pool, PoolClient } from 'pg';
import type { EpochVerification } from '../../domain/chain-verification';
import type { SettlementMode } from '../../domain/settlement-control';

/**
 * Replay-verification's checkpoints (migrations/009_verification_checkpoints.sql; this module owns the tables): what
 * runs proved final of each epoch, the accounts they watch and the last signature seen on each, and the run and log
 * position they are as of. A table rather than an event: the run that proved each row is an event already
 * (`verification-<run>`, named here by its id), and a cache of it can be rewritten, emptied or recomputed by a full
 * run without touching the books. An auditor trusts a checkpoint because a full run rechecks every one
 * (`checkpoint_mismatch`), not because it is stored.
 */

/** An epoch proven final, and what the proof rests on. */
export interface EpochCheckpoint {
  verification: EpochVerification;
  /** web3: the distributor and vault, and sha256 of both accounts' bytes as the proof saw them. */
  accounts?: { distributor: string; vault: string; sha256: string };
  runId: string;
  upToPosition: bigint;
}

export type WatchedRole = 'treasury' | 'stake_vault';

/** An account watched for transactions the books do not record. */
export interface WatchedAccount {
  role: WatchedRole;
  address: string;
  /** The newest signature naming it that a run looked at; null when there was none. */
  lastSignature: string | null;
  /** How many signatures named it up to `lastSignature`. */
  seen: number;
  /** Signatures found moving tokens the books do not record: looked at again by every run. */
  flagged: string[];
}

export interface Checkpoints {
  runId: string;
  upToPosition: bigint;
  cluster: string;
  setupSha256: string;
  epochs: Map<number, EpochCheckpoint>;
  accounts: Map<WatchedRole, WatchedAccount>;
}

/** Any constant shared by every engine: verification runs queue on it (a run's checkpoints follow the one before). */
const VERIFICATION_LOCK_KEY = 7_358_112_009;

export class VerificationCheckpoints {
  constructor(private readonly pool: Pool) {}

  /** Runs `work` holding the verification lock on a connection of its own, so that runs write checkpoints one after the other. */
  async exclusively<T>(work: (client: PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    let broken = false;
    try {
      await client.query('SELECT pg_advisory_lock($1)', [VERIFICATION_LOCK_KEY]);
      try {
        return await work(client);
      } finally {
        await client.query('SELECT pg_advisory_unlock($1)', [VERIFICATION_LOCK_KEY]).catch(() => (broken = true));
      }
    } finally {
      client.release(broken);
    }
  }

  /** What the last run recorded; null when no run has (or the tables were emptied). */
  async load(client: PoolClient | Pool = this.pool): Promise<Checkpoints | null> {
    const { rows: marks } = await client.query<{ run_id: string; up_to_position: string; cluster: string; setup_sha256: string }>(
      'SELECT run_id, up_to_position::text, cluster, setup_sha256 FROM verification_watermark',
    );
    if (marks.length === 0) return null;
    const { rows: epochs } = await client.query<EpochRow>(
      `SELECT epoch, run_id, up_to_position::text, mode, root, total::text, leaf_count, treasury_out::text, carried::text, checked,
              distributor, vault, accounts_sha256
         FROM verification_epochs ORDER BY epoch`,
    );
    const { rows: accounts } = await client.query<{ role: WatchedRole; address: string; last_signature: string | null; seen: string; flagged: string[] }>(
      'SELECT role, address, last_signature, seen::text, flagged FROM verification_accounts',
    );
    return {
      runId: marks[0].run_id,
      upToPosition: BigInt(marks[0].up_to_position),
      cluster: marks[0].cluster,
      setupSha256: marks[0].setup_sha256,
      epochs: new Map(epochs.map((row) => [row.epoch, fromRow(row)])),
      accounts: new Map(
        accounts.map((row) => [
          row.role,
          { role: row.role, address: row.address, lastSignature: row.last_signature, seen: Number(row.seen), flagged: row.flagged },
        ]),
      ),
    };
  }

  /**
   * Records a run's checkpoints in one transaction: `epochs` are written (replacing what was there), `dropped` epochs
   * lose theirs (verified again and no longer final), and with `replaceAll` (a full run) every other epoch's goes too.
   */
  async save(
    client: PoolClient,
    run: { runId: string; upToPosition: bigint; cluster: string; setupSha256: string; scope: 'full' | 'incremental' },
    changes: { epochs: readonly EpochCheckpoint[]; dropped: readonly number[]; accounts: readonly WatchedAccount[]; replaceAll: boolean },
  ): Promise<void> {
    await client.query('BEGIN');
    try {
      if (changes.replaceAll) await client.query('DELETE FROM verification_epochs');
      else if (changes.dropped.length > 0) await client.query('DELETE FROM verification_epochs WHERE epoch = ANY($1::int[])', [changes.dropped]);
      for (let i = 0; i < changes.epochs.length; i += 1000) {
        const rows = changes.epochs.slice(i, i + 1000).map(toRow);
        await client.query(
          `INSERT INTO verification_epochs (epoch, run_id, up_to_position, mode, root, total, leaf_count, treasury_out, carried, checked,
                                            distributor, vault, accounts_sha256)
           SELECT epoch, run_id, up_to_position, mode, root, total, leaf_count, treasury_out, carried, checked, distributor, vault, accounts_sha256
             FROM jsonb_to_recordset($1::jsonb) AS r(epoch int, run_id text, up_to_position bigint, mode text, root text, total numeric,
                  leaf_count int, treasury_out numeric, carried numeric, checked jsonb, distributor text, vault text, accounts_sha256 text)
           ON CONFLICT (epoch) DO UPDATE SET run_id = EXCLUDED.run_id, up_to_position = EXCLUDED.up_to_position, mode = EXCLUDED.mode,
             root = EXCLUDED.root, total = EXCLUDED.total, leaf_count = EXCLUDED.leaf_count, treasury_out = EXCLUDED.treasury_out,
             carried = EXCLUDED.carried, checked = EXCLUDED.checked, distributor = EXCLUDED.distributor, vault = EXCLUDED.vault,
             accounts_sha256 = EXCLUDED.accounts_sha256, verified_at = now()`,
          [JSON.stringify(rows)],
        );
      }
      for (const account of changes.accounts) {
        await client.query(
          `INSERT INTO verification_accounts (role, address, last_signature, seen, flagged) VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (role) DO UPDATE SET address = EXCLUDED.address, last_signature = EXCLUDED.last_signature, seen = EXCLUDED.seen,
             flagged = EXCLUDED.flagged`,
          [account.role, account.address, account.lastSignature, account.seen, account.flagged],
        );
      }
      await client.query(
        `INSERT INTO verification_watermark (singleton, run_id, up_to_position, cluster, setup_sha256, scope) VALUES (true, $1, $2, $3, $4, $5)
         ON CONFLICT (singleton) DO UPDATE SET run_id = EXCLUDED.run_id, up_to_position = EXCLUDED.up_to_position, cluster = EXCLUDED.cluster,
           setup_sha256 = EXCLUDED.setup_sha256, scope = EXCLUDED.scope, recorded_at = now()`,
        [run.runId, run.upToPosition.toString(), run.cluster, run.setupSha256, run.scope],
      );
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK');
      throw error;
    }
  }
}

interface EpochRow {
  epoch: number;
  run_id: string;
  up_to_position: string;
  mode: SettlementMode;
  root: string;
  total: string;
  leaf_count: number;
  treasury_out: string;
  carried: string;
  checked: EpochVerification['checked'];
  distributor: string | null;
  vault: string | null;
  accounts_sha256: string | null;
}

function fromRow(row: EpochRow): EpochCheckpoint {
  return {
    verification: {
      epoch: row.epoch,
      mode: row.mode,
      root: row.root,
      total: row.total,
      leafCount: row.leaf_count,
      // Only final epochs are recorded: settled, not an anchor, clean, and clawed back in web3.
      settled: true,
      anchored: false,
      clawedBack: row.mode === 'web3',
      treasuryOut: BigInt(row.treasury_out),
      carried: BigInt(row.carried),
      checked: row.checked,
      discrepancies: 0,
    },
    ...(row.distributor && row.vault && row.accounts_sha256
      ? { accounts: { distributor: row.distributor, vault: row.vault, sha256: row.accounts_sha256 } }
      : {}),
    runId: row.run_id,
    upToPosition: BigInt(row.up_to_position),
  };
}

function toRow(checkpoint: EpochCheckpoint) {
  const v = checkpoint.verification;
  return {
    epoch: v.epoch,
    run_id: checkpoint.runId,
    up_to_position: checkpoint.upToPosition.toString(),
    mode: v.mode,
    root: v.root,
    total: v.total,
    leaf_count: v.leafCount,
    treasury_out: v.treasuryOut.toString(),
    carried: v.carried.toString(),
    checked: v.checked,
    distributor: checkpoint.accounts?.distributor ?? null,
    vault: checkpoint.accounts?.vault ?? null,
    accounts_sha256: checkpoint.accounts?.sha256 ?? null,
  };
}
