/**
 * The payouts read model: its tables (tables.ts), how events change them (apply.ts) and every read of them
 * (queries.ts, as `payoutsQueries`). Nothing outside this folder queries its tables.
 */
export { payoutsProjection } from './apply';
export * as payoutsQueries from './queries';
export type { AtPosition, BatchRow, ClaimCostsRow, ClaimListingRow, ClawbackRow, ObservedClaimRow, PayoutRow } from './queries';
export { PAYOUT_CATEGORIES, PAYOUTS, PAYOUTS_TABLES } from './tables';
