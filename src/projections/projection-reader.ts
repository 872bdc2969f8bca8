import type { Pool, QueryResultRow } from 'pg';
import { projectionSchema, type ReadModelSql } from '../../projections/projection';
import { KindedError, type ErrorKind } from '../errors';

export class ProjectionNotReadyError extends KindedError {
  constructor(readonly projectionName: string) {
    super(`projection ${projectionName} is still being built for the first time; try again shortly`);
  }

  get kind(): ErrorKind {
    return 'unavailable';
  }

  get field(): string {
    return 'projection';
  }
}

/**
 * Reads a projection's live generation. The schema name is cached; when a rebuild or rewind replaces the generation,
 * the old schema is dropped in the same transaction, so a cached name fails (undefined schema or table) and is looked
 * up again: a reader never answers from a generation that is no longer live.
 */
export class ProjectionReader implements ReadModelSql {
  private readonly schemas = new Map<string, string>();

  constructor(private readonly pool: Pool) {}

  /** `sql` receives the live schema's name to qualify the projection's tables with. */
  async query<R extends QueryResultRow>(projection: string, sql: (schema: string) => string, params: unknown[] = []): Promise<R[]> {
    for (let attempt = 0; ; attempt++) {
      const schema = this.schemas.get(projection) ?? (await this.lookUp(projection));
      try {
        return (await this.pool.query<R>(sql(schema), params)).rows;
      } catch (error) {
        const code = (error as { code?: string }).code;
        this.schemas.delete(projection);
        if (attempt < 2 && (code === '3F000' || code === '42P01')) continue;
        throw error;
      }
    }
  }

  private async lookUp(projection: string): Promise<string> {
    const { rows } = await this.pool.query<{ generation: number }>('SELECT generation FROM projection_state WHERE name = $1', [projection]);
    if (rows.length === 0 || rows[0].generation === 0) throw new ProjectionNotReadyError(projection);
    const schema = projectionSchema(projection, rows[0].generation);
    this.schemas.set(projection, schema);
    return schema;
  }
}
