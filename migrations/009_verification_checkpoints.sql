-- Replay-verification's checkpoints (issue 17 item 9). src/verification/checkpoints.ts owns these tables: nothing else
-- reads or writes them. A run records what it proved, so that the next run checks only what is new or can have
-- changed; a full run (POST /verification/runs {"full": true}, synq verify chain --full) checks everything again,
-- compares it with what is recorded here (a difference is a `checkpoint_mismatch` discrepancy) and rewrites it.
-- The runs themselves stay events (`verification-<run>`); these rows are a cache of what they proved, never the books.

-- One row per epoch proven final (clean, settled, and in web3 clawed back): what was proven of it, as
-- domain/chain-verification.ts's EpochVerification has it, and the chain facts it rests on.
CREATE TABLE verification_epochs (
  epoch integer PRIMARY KEY,
  -- The run that proved it, and the log position that run verified up to.
  run_id text NOT NULL,
  up_to_position bigint NOT NULL,
  -- The books' numbers: mode, the distribution's root, total and leaf count; what its settlement took out of the
  -- treasury on chain (less a clawback's return); what it adds to the rewards carried forward and not yet paid.
  mode text NOT NULL,
  root text NOT NULL,
  total numeric(20) NOT NULL,
  leaf_count integer NOT NULL,
  treasury_out numeric(21) NOT NULL,
  carried numeric(21) NOT NULL,
  -- Its share of the run's `checked` counts (settlementTransactions, payouts, anchors, distributors, claims, vaultTransactions).
  checked jsonb NOT NULL,
  -- web3: the distributor and its vault, and sha256 of both accounts' bytes as seen: a change makes the next run verify
  -- the epoch again (a tampered or forked chain, a claim after the clawback).
  distributor text,
  vault text,
  accounts_sha256 text,
  verified_at timestamptz NOT NULL DEFAULT now()
);

-- The accounts watched for transactions the books do not record: the treasury and the stake vault.
CREATE TABLE verification_accounts (
  role text PRIMARY KEY CHECK (role IN ('treasury', 'stake_vault')),
  address text NOT NULL,
  -- The newest signature naming the account that a run looked at (null: none yet), and how many up to it.
  last_signature text,
  seen bigint NOT NULL,
  -- Signatures found moving tokens the books do not record: every run looks at them again (a full run lists them too).
  flagged text[] NOT NULL
);

-- The run the checkpoints above are as of: nothing in the log up to its position that touches a checkpointed epoch
-- went unseen. Bound to the chain they were proven against.
CREATE TABLE verification_watermark (
  singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  run_id text NOT NULL,
  up_to_position bigint NOT NULL,
  cluster text NOT NULL,
  -- sha256 of the chain setup (mint, treasury, stake vault, opening balances): another setup is another chain.
  setup_sha256 text NOT NULL,
  scope text NOT NULL CHECK (scope IN ('full', 'incremental')),
  recorded_at timestamptz NOT NULL DEFAULT now()
);
