import { Controller, Get, Inject, Module, Param } from '@nestjs/common';
import { EpochParam } from '../requests/parameters';
import { reject } from '../../domain/rejection';
import { Roles } from '../auth/api-key.guard';
import { EVENT_STORE, type EventStore } from '../event-store/event-store';
import { ProjectionReader } from '../projections/projection-reader';
import { Audit, createAudit, EpochNeverClosedError } from './audit';

@Controller('audit')
export class AuditController {
  constructor(@Inject(Audit) private readonly audit: Audit) {}

  /**
   * Replays the log up to the epoch's close, recalculates its rewards, digest and Merkle root in memory, and compares
   * them with the recorded events and the settlement projection: `match`, `mismatch` (the first difference of each
   * kind, with both values) or `incomplete` (the close is not fully recorded yet).
   */
  @Get('epochs/:epoch')
  @Roles('auditor', 'operator')
  async epoch(@Param('epoch', EpochParam) epoch: number) {
    try {
      return (await this.audit.run({ epoch })).epochs[0];
    } catch (error) {
      if (error instanceof EpochNeverClosedError) reject('not_found', 'epoch', error.message);
      throw error;
    }
  }
}

@Module({
  controllers: [AuditController],
  providers: [
    { provide: Audit, inject: [EVENT_STORE, ProjectionReader], useFactory: (store: EventStore, reader: ProjectionReader) => createAudit({ store, reader }) },
  ],
})
export class AuditModule {}
