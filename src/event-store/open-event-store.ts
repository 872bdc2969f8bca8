import type { AppConfig } from '../config/config';
import type { Database } from '../database/database';
import type { EventStore } from './event-store';
import { EventStoreDbEventStore } from './eventstoredb-event-store';
import { PostgresEventStore } from './postgres-event-store';

/** EventStoreDB when a connection string is configured, else the PostgreSQL store in the engine's database. */
export function openEventStore(config: AppConfig, database: Database): EventStore {
  return config.eventStoreConnectionString ? new EventStoreDbEventStore(config.eventStoreConnectionString) : new PostgresEventStore(database.pool);
}
