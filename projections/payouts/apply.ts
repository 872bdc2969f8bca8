import type { ClawbackEvent } from '../../domain/clawback';
import type { EpochClaimsEvent } from '../../domain/epoch-claims';
import type { PayoutEvent } from '../../domain/epoch-payout';
import type { RecordedEvent } from '../../src/event-store/event-store';
import type { Projection, ProjectionSql } from '../projection';
import { PAYOUT_CATEGORIES, PAYOUTS, PAYOUTS_TABLES } from './tables';

/**
 * Epochs' settlements as the dashboard and the API's GET routes show them, so that a read is a query, not a replay of
 * the epoch's payout stream (tens of thousands of events, wire bytes included, at 100,000 payouts): each planned batch
 * and its last attempt, fees and rent (`payout-<n>`), the claims of web3 epochs observed and sponsored (`claims-<n>`),
 * and their clawback (`clawback-<n>`). The tables hold what the streams' deciders fold (domain/epoch-payout.ts,
 * epoch-claims.ts, clawback.ts) as far as the views read it; the rules stay in the domain.
 *
 * Consecutive events of one type are written in one statement (a catch-up meets thousands of attempts and claims in a
 * row); a run ends where a row would be changed twice, so each statement sees the rows as the events before it left
 * them. An event naming a batch, claim or clawback the tables do not have stops the projection, as the decider's fold
 * would fail.
 */

type Row = Record<string, unknown>;

interface Writer {
  /** The row the event changes: a run of one type never changes one row twice. */
  key(data: Row): string;
  /** What the statement needs of the event, as a JSON record. */
  row(data: Row): Row;
  write(sql: ProjectionSql, rows: Row[]): Promise<void>;
}

const json = (rows: Row[]) => JSON.stringify(rows);
const byBatch = (data: Row) => `${data.epoch}:${data.batch}`;
const byWallet = (data: Row) => `${data.epoch}:${data.wallet}`;
const byEpoch = (data: Row) => String(data.epoch);

function expectChanged(changed: number, rows: Row[], what: string): void {
  if (changed !== rows.length) throw new Error(`${rows.length - changed} of ${rows.length} ${what} are not in the read model`);
}

const PAYOUT_WRITERS: Record<PayoutEvent['type'], Writer> = {
  SettlementPlanned: {
    key: byEpoch,
    row: (data) => {
      const batches = data.batches as { batch: number; kind: string; firstLeaf: number; leafCount: number }[];
      batches.forEach((batch, i) => {
        // The fold addresses batches by their place in the plan; the view shows their number: one and the same.
        if (batch.batch !== i) throw new Error(`epoch ${data.epoch}'s plan lists batch ${batch.batch} at place ${i}`);
      });
      return {
        epoch: data.epoch,
        mode: data.mode,
        root: data.root,
        leafCount: data.leafCount,
        total: data.total,
        distributor: data.distributor ?? null,
        batches: batches.map((batch) => [batch.kind, batch.firstLeaf, batch.leafCount]),
      };
    },
    async write(sql, rows) {
      for (const plan of rows) {
        await sql.query('INSERT INTO payouts (epoch, mode, root, leaf_count, total, distributor) VALUES ($1, $2, $3, $4, $5, $6)', [
          plan.epoch,
          plan.mode,
          plan.root,
          plan.leafCount,
          plan.total,
          plan.distributor === null ? null : JSON.stringify(plan.distributor),
        ]);
        await sql.query(
          `INSERT INTO payout_batches (epoch, batch, kind, first_leaf, leaf_count)
           SELECT $1, b.i - 1, b.e->>0, (b.e->>1)::integer, (b.e->>2)::integer FROM jsonb_array_elements($2::jsonb) WITH ORDINALITY AS b(e, i)`,
          [plan.epoch, JSON.stringify(plan.batches)],
        );
      }
    },
  },
  SettlementTransactionSigned: {
    key: byBatch,
    row: (data) => ({ epoch: data.epoch, batch: data.batch, signature: data.signature, rent: data.rent, terms: data.terms ?? null }),
    async write(sql, rows) {
      const { rowCount } = await sql.query(
        `UPDATE payout_batches b SET status = 'awaiting', attempts = b.attempts + 1, signature = e.signature, rent = e.rent, terms = e.terms
           FROM jsonb_to_recordset($1::jsonb) AS e(epoch integer, batch integer, signature text, rent numeric, terms jsonb)
          WHERE b.epoch = e.epoch AND b.batch = e.batch`,
        [json(rows)],
      );
      expectChanged(rowCount ?? 0, rows, 'signed batches');
    },
  },
  SettlementTransactionConfirmed: {
    key: byBatch,
    row: (data) => ({ epoch: data.epoch, batch: data.batch, signature: data.signature, fee: data.fee }),
    async write(sql, rows) {
      // A confirmed attempt paid its fee and the rent of the accounts it created.
      await batchOutcome(
        sql,
        rows,
        `status = 'confirmed', confirmed_signature = e.signature`,
        'coalesce(b.rent, 0)',
        '(epoch integer, batch integer, signature text, fee numeric)',
      );
    },
  },
  SettlementTransactionFailed: {
    key: byBatch,
    row: (data) => ({ epoch: data.epoch, batch: data.batch, fee: data.fee }),
    async write(sql, rows) {
      // A failed transaction moves nothing but its fee.
      await batchOutcome(sql, rows, `status = 'failed'`, '0', '(epoch integer, batch integer, fee numeric)');
    },
  },
  SettlementTransactionExpired: {
    key: byBatch,
    row: (data) => ({ epoch: data.epoch, batch: data.batch }),
    async write(sql, rows) {
      const { rowCount } = await sql.query(
        `UPDATE payout_batches b SET status = 'expired' FROM jsonb_to_recordset($1::jsonb) AS e(epoch integer, batch integer)
          WHERE b.epoch = e.epoch AND b.batch = e.batch`,
        [json(rows)],
      );
      expectChanged(rowCount ?? 0, rows, 'expired batches');
    },
  },
  EpochSettled: {
    key: byEpoch,
    row: (data) => ({ epoch: data.epoch }),
    async write(sql, rows) {
      const { rowCount } = await sql.query(
        'UPDATE payouts p SET settled = true FROM jsonb_to_recordset($1::jsonb) AS e(epoch integer) WHERE p.epoch = e.epoch',
        [json(rows)],
      );
      expectChanged(rowCount ?? 0, rows, 'settled epochs');
    },
  },
};

/** An attempt's outcome on its batch, and its fee (and for a confirmed one its rent) added to the epoch's. */
async function batchOutcome(sql: ProjectionSql, rows: Row[], set: string, rent: string, columns: string): Promise<void> {
  const { rows: counts } = await sql.query<{ batches: number }>(
    `WITH e AS (SELECT * FROM jsonb_to_recordset($1::jsonb) AS e${columns}),
          changed AS (UPDATE payout_batches b SET ${set} FROM e WHERE b.epoch = e.epoch AND b.batch = e.batch RETURNING b.epoch, e.fee, ${rent} AS rent),
          costs AS (UPDATE payouts p SET fee_lamports = p.fee_lamports + c.fee, rent_lamports = p.rent_lamports + c.rent
                      FROM (SELECT epoch, sum(fee) AS fee, sum(rent) AS rent FROM changed GROUP BY epoch) c WHERE p.epoch = c.epoch RETURNING 1)
     SELECT (SELECT count(*) FROM changed)::integer AS batches, (SELECT count(*) FROM costs)::integer AS epochs`,
    [json(rows)],
  );
  expectChanged(counts[0].batches, rows, 'batches with an outcome');
}

const CLAIM_WRITERS: Record<EpochClaimsEvent['type'], Writer> = {
  RewardClaimObserved: {
    key: byWallet,
    row: (data) => ({
      epoch: data.epoch,
      wallet: data.wallet,
      amount: data.amount,
      claimStatus: data.claimStatus,
      signature: data.signature,
      slot: data.slot,
      feePayer: data.feePayer ?? null,
      fee: data.fee ?? null,
      rentLamports: data.rentLamports ?? null,
    }),
    async write(sql, rows) {
      await sql.query(
        `INSERT INTO claims (epoch, wallet, observed, amount, claim_status, signature, slot, fee_payer, fee, rent_lamports)
         SELECT e.epoch, e.wallet, true, e.amount, e."claimStatus", e.signature, e.slot, e."feePayer", e.fee, e."rentLamports"
           FROM jsonb_to_recordset($1::jsonb) AS e(epoch integer, wallet text, amount numeric, "claimStatus" text, signature text, slot text,
                                                    "feePayer" text, fee numeric, "rentLamports" numeric)
         ON CONFLICT (epoch, wallet) DO UPDATE SET observed = true, amount = EXCLUDED.amount, claim_status = EXCLUDED.claim_status,
           signature = EXCLUDED.signature, slot = EXCLUDED.slot, fee_payer = EXCLUDED.fee_payer, fee = EXCLUDED.fee, rent_lamports = EXCLUDED.rent_lamports`,
        [json(rows)],
      );
    },
  },
  SponsoredClaimSigned: {
    key: byWallet,
    row: (data) => ({ epoch: data.epoch, wallet: data.wallet, signature: data.signature }),
    async write(sql, rows) {
      await sql.query(
        `INSERT INTO claims (epoch, wallet, sponsored_status, sponsored_attempts, sponsored_signature)
         SELECT e.epoch, e.wallet, 'awaiting', 1, e.signature FROM jsonb_to_recordset($1::jsonb) AS e(epoch integer, wallet text, signature text)
         ON CONFLICT (epoch, wallet) DO UPDATE SET sponsored_status = 'awaiting', sponsored_attempts = claims.sponsored_attempts + 1,
           sponsored_signature = EXCLUDED.sponsored_signature`,
        [json(rows)],
      );
    },
  },
  SponsoredClaimConfirmed: {
    key: byWallet,
    row: (data) => ({ epoch: data.epoch, wallet: data.wallet, fee: data.fee, rent: data.rentLamports }),
    write: (sql, rows) => sponsoredOutcome(sql, rows, 'confirmed', '(epoch integer, wallet text, fee numeric, rent numeric)', 'e.fee', 'e.rent'),
  },
  SponsoredClaimFailed: {
    key: byWallet,
    row: (data) => ({ epoch: data.epoch, wallet: data.wallet, fee: data.fee }),
    write: (sql, rows) => sponsoredOutcome(sql, rows, 'failed', '(epoch integer, wallet text, fee numeric)', 'e.fee', '0'),
  },
  SponsoredClaimExpired: {
    key: byWallet,
    row: (data) => ({ epoch: data.epoch, wallet: data.wallet }),
    write: (sql, rows) => sponsoredOutcome(sql, rows, 'expired', '(epoch integer, wallet text)', '0', '0'),
  },
};

async function sponsoredOutcome(sql: ProjectionSql, rows: Row[], status: string, columns: string, fee: string, rent: string): Promise<void> {
  const { rowCount } = await sql.query(
    `UPDATE claims c SET sponsored_status = '${status}', sponsor_fee = c.sponsor_fee + ${fee}, sponsor_rent = c.sponsor_rent + ${rent}
       FROM jsonb_to_recordset($1::jsonb) AS e${columns}
      WHERE c.epoch = e.epoch AND c.wallet = e.wallet AND c.sponsored_status IS NOT NULL`,
    [json(rows)],
  );
  expectChanged(rowCount ?? 0, rows, 'sponsored claims with an outcome');
}

const CLAWBACK_WRITERS: Record<ClawbackEvent['type'], Writer> = {
  ClawbackTransactionSigned: {
    key: byEpoch,
    row: (data) => ({ epoch: data.epoch, signature: data.signature }),
    async write(sql, rows) {
      await sql.query(
        `INSERT INTO clawbacks (epoch, status, attempts, signature)
         SELECT e.epoch, 'awaiting', 1, e.signature FROM jsonb_to_recordset($1::jsonb) AS e(epoch integer, signature text)
         ON CONFLICT (epoch) DO UPDATE SET status = 'awaiting', attempts = clawbacks.attempts + 1, signature = EXCLUDED.signature`,
        [json(rows)],
      );
    },
  },
  ClawbackTransactionFailed: {
    key: byEpoch,
    row: (data) => ({ epoch: data.epoch, fee: data.fee, error: data.error }),
    write: (sql, rows) =>
      clawbackChange(sql, rows, `status = 'failed', fee_lamports = k.fee_lamports + e.fee, last_error = e.error`, '(epoch integer, fee numeric, error text)'),
  },
  ClawbackTransactionExpired: {
    key: byEpoch,
    row: (data) => ({ epoch: data.epoch }),
    write: (sql, rows) => clawbackChange(sql, rows, `status = 'expired'`, '(epoch integer)'),
  },
  DistributorClawedBack: {
    key: byEpoch,
    // The unclaimed leaves themselves (up to one per leaf) are not kept: the view shows their count and total.
    row: (data) => ({
      epoch: data.epoch,
      signature: data.signature,
      fee: data.fee,
      amount: data.amount,
      claimed: data.claimed,
      unclaimedCount: (data.unclaimed as unknown[]).length,
      unclaimedTotal: data.unclaimedTotal,
    }),
    write: (sql, rows) =>
      clawbackChange(
        sql,
        rows,
        `status = 'clawed_back', fee_lamports = k.fee_lamports + e.fee, clawed_back_signature = e.signature, amount = e.amount, claimed = e.claimed,
         unclaimed_count = e."unclaimedCount", unclaimed_total = e."unclaimedTotal"`,
        '(epoch integer, signature text, fee numeric, amount numeric, claimed numeric, "unclaimedCount" integer, "unclaimedTotal" numeric)',
      ),
  },
  UnclaimedRewardsCarried: {
    key: byEpoch,
    row: (data) => ({ epoch: data.epoch }),
    write: (sql, rows) => clawbackChange(sql, rows, `policy = 'carry'`, '(epoch integer)'),
  },
  UnclaimedRewardsReturned: {
    key: byEpoch,
    row: (data) => ({ epoch: data.epoch }),
    write: (sql, rows) => clawbackChange(sql, rows, `policy = 'return'`, '(epoch integer)'),
  },
};

async function clawbackChange(sql: ProjectionSql, rows: Row[], set: string, columns: string): Promise<void> {
  const { rowCount } = await sql.query(`UPDATE clawbacks k SET ${set} FROM jsonb_to_recordset($1::jsonb) AS e${columns} WHERE k.epoch = e.epoch`, [json(rows)]);
  expectChanged(rowCount ?? 0, rows, 'clawbacks');
}

/** Each event type's writer, under the stream category it is recorded in. */
const WRITERS: Record<(typeof PAYOUT_CATEGORIES)[number], Record<string, Writer>> = {
  payout: PAYOUT_WRITERS,
  claims: CLAIM_WRITERS,
  clawback: CLAWBACK_WRITERS,
};

const writerOf = (event: RecordedEvent): Writer | undefined =>
  (WRITERS as Record<string, Record<string, Writer> | undefined>)[event.stream.slice(0, event.stream.indexOf('-'))]?.[event.type];

export const payoutsProjection: Projection = {
  name: PAYOUTS,
  version: 1,
  eventTypes: new Set(Object.values(WRITERS).flatMap((writers) => Object.keys(writers))),
  categories: PAYOUT_CATEGORIES,
  tables: PAYOUTS_TABLES,
  async apply(events, { sql }) {
    let writer: Writer | undefined;
    let rows: Row[] = [];
    const keys = new Set<string>();
    const flush = async () => {
      if (writer && rows.length > 0) await writer.write(sql, rows);
      rows = [];
      keys.clear();
    };
    for (const event of events) {
      // Only these streams' events: a type of the same name elsewhere is another stream's business.
      const next = writerOf(event);
      if (!next) continue;
      const data = event.data as Row;
      const key = next.key(data);
      if (next !== writer || keys.has(key)) {
        await flush();
        writer = next;
      }
      rows.push(next.row(data));
      keys.add(key);
    }
    await flush();
  },
};
