/**
 * The settlement read model's tables (created empty in a fresh schema per generation) and the constants their layout
 * depends on. Only this folder reads or writes them: apply.ts changes them, queries.ts is every read.
 */

/** The read model's name: its projection's, and the one its live schema is looked up by. */
export const SETTLEMENT = 'settlement';

/** Hashes per stored chunk of a tree level: a proof of a million-leaf tree reads about 20 chunks. */
export const NODE_CHUNK = 1024;
/** The root of a distribution with no leaves (an epoch that paid nobody). */
export const EMPTY_ROOT = '0'.repeat(64);

export const SETTLEMENT_TABLES = `
CREATE TABLE synqers (
  synqer_id text PRIMARY KEY,
  region text NOT NULL,
  status text NOT NULL,
  -- [{ payoutWallet, fromEpoch }] in the order they were set
  wallets jsonb NOT NULL,
  registered_position bigint NOT NULL,
  -- The reporting key in force (issue 16: keys are rotated); reports decided with another never count.
  reporting_key text
);
CREATE TABLE stakes (
  synqer_id text PRIMARY KEY,
  active numeric NOT NULL DEFAULT 0,
  unstaking numeric NOT NULL DEFAULT 0,
  withdrawn numeric NOT NULL DEFAULT 0,
  slashed numeric NOT NULL DEFAULT 0
);
CREATE TABLE policies (version integer PRIMARY KEY, effective_from_epoch integer NOT NULL, policy jsonb NOT NULL);
CREATE TABLE epochs (
  epoch integer PRIMARY KEY,
  start_s bigint NOT NULL,
  end_s bigint NOT NULL,
  reward_pool numeric NOT NULL,
  status text NOT NULL,
  cut_off_position bigint,
  closed_position bigint,
  policy_version integer,
  synqers integer,
  eligible integer,
  ineligible integer,
  bytes numeric,
  sessions numeric,
  total_weight numeric,
  paid numeric,
  returned_to_treasury numeric,
  digest text,
  rewards_recorded boolean NOT NULL DEFAULT false,
  root text,
  leaf_count integer,
  distribution_total numeric,
  distribution_recorded boolean NOT NULL DEFAULT false,
  pool_returned numeric,
  -- set when a minimum payout is in force or anything is carried (domain/carry.ts); null otherwise
  carried_in numeric,
  carried_out numeric
);
CREATE TABLE metric_totals (
  epoch integer NOT NULL,
  synqer_id text NOT NULL,
  bytes numeric NOT NULL,
  sessions numeric NOT NULL,
  uptime_seconds numeric NOT NULL,
  qos_weighted_sum numeric NOT NULL,
  qos_weight numeric NOT NULL,
  reports integer NOT NULL,
  PRIMARY KEY (epoch, synqer_id)
) WITH (fillfactor = 50); -- every report updates its row: room on the page keeps the updates HOT (no index change)
CREATE TABLE rewards (
  epoch integer NOT NULL,
  synqer_id text NOT NULL,
  payout_wallet text,
  bytes numeric NOT NULL,
  sessions numeric NOT NULL,
  uptime_seconds numeric NOT NULL,
  uptime_bps integer NOT NULL,
  qos_bps integer NOT NULL,
  active_stake numeric NOT NULL,
  stake_boost_bps integer NOT NULL,
  eligible boolean NOT NULL,
  -- ineligibility reasons, comma-separated; '' when eligible
  reasons text NOT NULL,
  work numeric NOT NULL,
  weight numeric NOT NULL,
  reward numeric NOT NULL,
  PRIMARY KEY (epoch, synqer_id)
);
CREATE TABLE distribution_leaves (
  epoch integer NOT NULL,
  wallet text NOT NULL,
  leaf_index integer NOT NULL,
  amount numeric NOT NULL,
  leaf_hash bytea NOT NULL,
  PRIMARY KEY (epoch, wallet)
);
-- Rewards carried forward (domain/carry.ts): each wallet's balance outstanding (owed, in no leaf yet), and what each
-- closed epoch carried in (paid in its leaves) and out (below its minimum).
CREATE TABLE carried_balances (
  wallet text PRIMARY KEY,
  amount numeric NOT NULL CHECK (amount > 0)
);
CREATE TABLE carries (
  epoch integer NOT NULL,
  -- 'in' or 'out'
  direction text NOT NULL,
  wallet text NOT NULL,
  amount numeric NOT NULL,
  PRIMARY KEY (epoch, direction, wallet)
);
-- Level 0 are the leaves; chunk c of a level holds its hashes c * ${NODE_CHUNK} .. c * ${NODE_CHUNK} + ${NODE_CHUNK - 1}, 32 bytes each.
CREATE TABLE distribution_nodes (
  epoch integer NOT NULL,
  level integer NOT NULL,
  chunk integer NOT NULL,
  hashes bytea NOT NULL,
  PRIMARY KEY (epoch, level, chunk)
);
`;
