/**
 * The developers read model: its tables (tables.ts), how events change them (apply.ts) and every read of them
 * (queries.ts). Nothing outside this folder queries its tables.
 */
export { developersProjection } from './apply';
export type { DeveloperRow } from './queries';
export { DEVELOPERS, DEVELOPERS_TABLES } from './tables';
