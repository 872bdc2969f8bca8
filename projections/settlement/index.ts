/**
 * The settlement read model: its tables (tables.ts), how events change them (apply.ts) and every read of them
 * (queries.ts, as `settlementQueries`). Nothing outside this folder queries its tables.
 */
export { settlementProjection } from './apply';
export { observeCloseParts, type ClosePart } from './close-parts';
export * as settlementQueries from './queries';
export type { EpochRow, RewardRow, RowAsText, SynqerEpochRow } from './queries';
export { EMPTY_ROOT, NODE_CHUNK, SETTLEMENT, SETTLEMENT_TABLES } from './tables';
