-- The embedded chain's clock (src/chain/embedded-chain.ts): litesvm's starts at unix time 0, and Jito's merkle
-- distributor needs real timestamps (its vesting and clawback times must lie in the chain clock's future). The chain
-- clock is the wall clock plus this offset, in seconds, which only an operator moves forward (EmbeddedChain.advanceClock),
-- so it never goes back across a restart. A real cluster keeps its own clock and never uses this column.
ALTER TABLE chain_ledger ADD COLUMN clock_offset bigint NOT NULL DEFAULT 0 CHECK (clock_offset >= 0);
