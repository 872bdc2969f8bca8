import type { DeveloperEvent } from '../../domain/developer';
import type { Projection } from '../projection';
import { DEVELOPERS, DEVELOPERS_TABLES } from './tables';

/**
 * Developers' $SYNQ balances and data credits, and what moved them. A burn proven on chain adds credits and counts in
 * `burned_onchain`; it leaves `token_balance` (tokens bought through the engine) and `burned` (burns of that balance) alone.
 */
export const developersProjection: Projection = {
  name: DEVELOPERS,
  version: 2,
  eventTypes: new Set(['DeveloperRegistered', 'TokensPurchased', 'TokensBurnedForCredits', 'CreditsConsumed', 'OnChainBurnCredited']),
  categories: ['developer'],
  tables: DEVELOPERS_TABLES,
  async apply(events, { sql }) {
    for (const event of events) {
      const developerId = event.stream.slice('developer-'.length);
      const data = event.data as DeveloperEvent['data'] & Record<string, string>;
      switch (event.type as DeveloperEvent['type']) {
        case 'DeveloperRegistered':
          await sql.query('INSERT INTO developers (developer_id, wallet) VALUES ($1, $2)', [developerId, data.wallet]);
          break;
        case 'TokensPurchased':
          await sql.query(
            'UPDATE developers SET token_balance = token_balance + $2::numeric, purchased = purchased + $2::numeric, operations = operations + 1 WHERE developer_id = $1',
            [developerId, data.amount],
          );
          break;
        case 'TokensBurnedForCredits':
          await sql.query(
            `UPDATE developers SET token_balance = token_balance - $2::numeric, burned = burned + $2::numeric, credits = credits + $3::numeric,
                    operations = operations + 1 WHERE developer_id = $1`,
            [developerId, data.amount, data.credits],
          );
          break;
        case 'OnChainBurnCredited':
          await sql.query(
            'UPDATE developers SET burned_onchain = burned_onchain + $2::numeric, credits = credits + $3::numeric, operations = operations + 1 WHERE developer_id = $1',
            [developerId, data.amount, data.credits],
          );
          break;
        case 'CreditsConsumed':
          await sql.query(
            'UPDATE developers SET credits = credits - $2::numeric, credits_consumed = credits_consumed + $2::numeric, operations = operations + 1 WHERE developer_id = $1',
            [developerId, data.credits],
          );
          break;
      }
    }
  },
};
