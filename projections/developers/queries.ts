/**
 * Every read of the developers read model's tables goes here, as functions taking a `ReadModelSql` (../projection.ts),
 * like ../settlement/queries.ts. None is needed yet: the API answers a developer's balances from its stream.
 */

/** A row of `developers`, as `SELECT *` gives it (numeric columns as decimal strings). */
export interface DeveloperRow {
  developer_id: string;
  wallet: string;
  token_balance: string;
  credits: string;
  purchased: string;
  burned: string;
  burned_onchain: string;
  credits_consumed: string;
  operations: number;
}
