import { Controller, Get, HttpStatus, Inject, Res } from '@nestjs/common';
import type { Response } from 'express';
import { Database } from '../database/database';
import { EVENT_STORE, type EventStore } from '../event-store/event-store';

export interface HealthReport {
  status: 'ok' | 'unavailable';
  database: { reachable: boolean; source: 'embedded' | 'external'; serverVersion?: string; error?: string };
  eventStore: { kind: string; lastPosition?: string; error?: string };
  migrations: { applied: { version: number; name: string }[] };
}

@Controller('health')
export class HealthController {
  constructor(
    private readonly database: Database,
    @Inject(EVENT_STORE) private readonly eventStore: EventStore,
  ) {}

  /** 200 when the database and the event store answer, 503 otherwise; always the full report. */
  @Get()
  async health(@Res({ passthrough: true }) response: Response): Promise<HealthReport> {
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
    if (report.status !== 'ok') response.status(HttpStatus.SERVICE_UNAVAILABLE);
    return report;
  }
}
