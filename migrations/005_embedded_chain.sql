-- The embedded chain's ledger (src/chain/embedded-chain.ts): litesvm executes in memory, and every transaction it
-- executes is written here with the accounts it left behind, in one statement, so a restarted engine sees the chain
-- exactly as it was after its last landed transaction. A real cluster keeps its own ledger and never uses these tables.
CREATE TABLE chain_ledger (
  id boolean PRIMARY KEY DEFAULT true CHECK (id),
  -- Names this chain: a log settled on one embedded chain is never verified against another.
  genesis text NOT NULL,
  -- One block per landed transaction (and the blocks that pass while a dropped transaction expires).
  block_height bigint NOT NULL
);

CREATE TABLE chain_accounts (
  address text PRIMARY KEY,
  lamports numeric(20) NOT NULL,
  owner text NOT NULL,
  data bytea NOT NULL,
  executable boolean NOT NULL
);

CREATE TABLE chain_transactions (
  signature text PRIMARY KEY,
  block_height bigint NOT NULL,
  wire bytea NOT NULL,
  -- Null when it succeeded; a failed transaction still landed and paid its fee.
  error text,
  fee numeric(20) NOT NULL,
  logs text[] NOT NULL,
  -- Every account the transaction names, to answer "which transactions touched this account" as a cluster does.
  accounts text[] NOT NULL
);
CREATE INDEX chain_transactions_accounts ON chain_transactions USING gin (accounts);
