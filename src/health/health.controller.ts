import { Controller, Get, HttpStatus, Inject, Optional, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import type { AuthenticatedRequest } from '../auth/api-key.guard';
import { Database } from '../database/database';
import { EVENT_STORE, type EventStore } from '../event-store/event-store';
import { ProjectionRunner } from '../projections/projection-runner';

export interface HealthReport {
  status: 'ok' | 'unavailable';
  database: { reachable: boolean; source: 'embedded' | 'external'; serverVersion?: string; error?: string };
  eventStore: { kind: string; lastPosition?: string; error?: string };
  migrations: { applied: { version: number; name: string }[] };
  /**
   * Each projection's progress; `stalled`: behind the log and no progress for SYNQ_PROJECTION_STALL_SECONDS (the read
   * models are behind, the engine still answers: the status stays ok).
   */
  projections?: { name: string; status: string; position: string; lagEvents: string; stalled: boolean; idleSeconds: number }[];
  projectionsError?: string;
}

/** What `/health` tells a caller without a key: up or down, nothing about versions, migrations or projections. */
export interface MinimalHealth {
  status: 'up' | 'down';
}

@Controller('health')
export class HealthController {
  constructor(
    private readonly database: Database,
    @Inject(EVENT_STORE) private readonly eventStore: EventStore,
    @Optional() private readonly projections?: ProjectionRunner,
  ) {}

  /**
   * 200 when the database and the event store answer, 503 otherwise. Public (no `@Roles`): without a valid key only
   * `{ status: 'up' | 'down' }`; with any valid key (proven before the route, src/http/authenticate-first.ts) the full report.
   */
  @Get()
  async health(@Req() request: Request, @Res({ passthrough: true }) response: Response): Promise<HealthReport | MinimalHealth> {
    const report = await this.report();
    if (report.status !== 'ok') response.status(HttpStatus.SERVICE_UNAVAILABLE);
    if (!(request as Partial<AuthenticatedRequest>).principal) return { status: report.status === 'ok' ? 'up' : 'down' };
    return report;
  }

  private async report(): Promise<HealthReport> {
    const report: HealthReport = {
      status: 'ok',
      database: { reachable: true, source: this.database.source },
      eventStore: { kind: this.eventStore.kind },
      migrations: { applied: this.database.migrations.current },
    };
    try {
      report.database.serverVersion = await this.database.serverVersion();
    } catch (error) {
      report.status = 'unavailable';
      report.database.reachable = false;
      report.database.error = (error as Error).message;
    }
    try {
      report.eventStore.lastPosition = (await this.eventStore.lastPosition()).toString();
    } catch (error) {
      report.status = 'unavailable';
      report.eventStore.error = (error as Error).message;
    }
    if (this.projections && report.database.reachable) {
      try {
        report.projections = (await this.projections.status()).map((p) => ({
          name: p.name,
          status: p.status,
          position: p.position.toString(),
          lagEvents: p.lagEvents.toString(),
          stalled: p.stalled,
          idleSeconds: Math.round(p.idleSeconds),
        }));
      } catch (error) {
        report.projectionsError = (error as Error).message;
      }
    }
    return report;
  }
}
