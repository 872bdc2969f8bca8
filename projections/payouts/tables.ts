/**
 * The payouts read model's tables (created empty in a fresh schema per generation). Only this folder reads or writes
 * them: apply.ts changes them, queries.ts is every read.
 */

/** The read model's name: its projection's, and the one its live schema is looked up by. */
export const PAYOUTS = 'payouts';

/** The stream categories it is fed from: `payout-<n>`, `claims-<n>`, `clawback-<n>`. */
export const PAYOUT_CATEGORIES = ['payout', 'claims', 'clawback'] as const;

export const PAYOUTS_TABLES = `
-- An epoch's settlement as planned (SettlementPlanned) and what its attempts cost (domain/epoch-payout.ts PayoutState).
CREATE TABLE payouts (
  epoch integer PRIMARY KEY,
  mode text NOT NULL,
  root text NOT NULL,
  leaf_count integer NOT NULL,
  total numeric NOT NULL,
  -- web3: the distributor's accounts as planned (DistributorAccounts); null otherwise
  distributor jsonb,
  fee_lamports numeric NOT NULL DEFAULT 0,
  rent_lamports numeric NOT NULL DEFAULT 0,
  settled boolean NOT NULL DEFAULT false
);
-- Each planned batch (one transaction) and its last attempt; the signed wire bytes stay in the log.
CREATE TABLE payout_batches (
  epoch integer NOT NULL,
  batch integer NOT NULL,
  kind text NOT NULL,
  first_leaf integer NOT NULL,
  leaf_count integer NOT NULL,
  status text NOT NULL DEFAULT 'unsigned',
  attempts integer NOT NULL DEFAULT 0,
  -- the last attempt: its signature, the rent it pays once confirmed, and (web3) the distributor terms it creates
  signature text,
  rent numeric,
  terms jsonb,
  confirmed_signature text,
  PRIMARY KEY (epoch, batch)
);
-- A wallet's claim in a web3 epoch (domain/epoch-claims.ts): as observed on chain, and its sponsored claim if any.
CREATE TABLE claims (
  epoch integer NOT NULL,
  wallet text NOT NULL,
  observed boolean NOT NULL DEFAULT false,
  amount numeric,
  claim_status text,
  signature text,
  slot text,
  fee_payer text,
  fee numeric,
  rent_lamports numeric,
  -- the sponsored claim's last attempt (null: none), its signature, and what the sponsor paid over all attempts
  sponsored_status text,
  sponsored_attempts integer NOT NULL DEFAULT 0,
  sponsored_signature text,
  sponsor_fee numeric NOT NULL DEFAULT 0,
  sponsor_rent numeric NOT NULL DEFAULT 0,
  PRIMARY KEY (epoch, wallet)
);
-- A claim seen on chain is sponsored when its signature is a confirmed sponsored claim's.
CREATE INDEX claims_sponsored ON claims (epoch, sponsored_signature) WHERE sponsored_status = 'confirmed';
-- A web3 epoch's clawback (domain/clawback.ts ClawbackState); the unclaimed leaves themselves stay in the log.
CREATE TABLE clawbacks (
  epoch integer PRIMARY KEY,
  status text NOT NULL,
  attempts integer NOT NULL,
  -- the last attempt's signature
  signature text,
  fee_lamports numeric NOT NULL DEFAULT 0,
  last_error text,
  -- DistributorClawedBack: its signature, what it moved, the total claimed, and the leaves never claimed
  clawed_back_signature text,
  amount numeric,
  claimed numeric,
  unclaimed_count integer,
  unclaimed_total numeric,
  -- what the policy made of the unclaimed rewards: 'carry' or 'return'
  policy text
);
`;
