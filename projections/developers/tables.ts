/**
 * The developers read model's tables (created empty in a fresh schema per generation). Only this folder reads or writes
 * them: apply.ts changes them, queries.ts is every read.
 */

/** The read model's name: its projection's, and the one its live schema is looked up by. */
export const DEVELOPERS = 'developers';

export const DEVELOPERS_TABLES = `
CREATE TABLE developers (
  developer_id text PRIMARY KEY,
  wallet text NOT NULL,
  token_balance numeric NOT NULL DEFAULT 0,
  credits numeric NOT NULL DEFAULT 0,
  purchased numeric NOT NULL DEFAULT 0,
  burned numeric NOT NULL DEFAULT 0,
  burned_onchain numeric NOT NULL DEFAULT 0,
  credits_consumed numeric NOT NULL DEFAULT 0,
  operations integer NOT NULL DEFAULT 0
);`;
