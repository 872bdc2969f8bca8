import { Body, Controller, Get, HttpCode, Inject, Module, Param, Post, Put, Req } from '@nestjs/common';
import { IdParam } from '../requests/parameters';
import { CommandBus, CommandHandler, type ICommandHandler } from '@nestjs/cqrs';
import { randomUUID } from 'node:crypto';
import { networkDecider } from '../../domain/network';
import * as synqer from '../../domain/synqer';
import { reject } from '../../domain/rejection';
import { Roles, type AuthenticatedRequest } from '../auth/api-key.guard';
import { ApiCommand, Schema } from '../openapi/openapi';
import { decideAndAppend, load, loadLatest, loadThrough, type CommandMetadata, type Requested } from '../commands/streams';
import { EVENT_STORE, type EventStore } from '../event-store/event-store';
import { commandMetadata } from '../requests/request-metadata';

/** A command on a synqer as a caller states it: a payout wallet change is dated from the last opened epoch, loaded when it is decided. */
export type SynqerRequest = Requested<synqer.SynqerCommand, 'lastOpenedEpoch'>;

/** Any change to a synqer, as data: which one, and the command. */
export class ChangeSynqer {
  constructor(
    readonly synqerId: string,
    readonly command: SynqerRequest,
    readonly metadata: CommandMetadata,
  ) {}
}

@CommandHandler(ChangeSynqer)
export class ChangeSynqerHandler implements ICommandHandler<ChangeSynqer> {
  constructor(@Inject(EVENT_STORE) private readonly store: EventStore) {}

  async execute({ synqerId, command, metadata }: ChangeSynqer) {
    const ledger = await loadLatest(this.store, networkDecider);
    const decided: synqer.SynqerCommand =
      command.type === 'ChangePayoutWallet' ? { type: 'ChangePayoutWallet', data: { ...command.data, lastOpenedEpoch: ledger.lastEpoch } } : command;
    return decideAndAppend(this.store, synqer.synqerDecider, synqerId, (state) => synqer.synqerDecider.decide(decided, state), metadata);
  }
}

export async function loadSynqer(store: EventStore, synqerId: string): Promise<synqer.SynqerState | undefined> {
  return (await load(store, synqer.synqerDecider, synqerId)).state;
}

@Controller('synqers')
export class SynqersController {
  constructor(
    private readonly commands: CommandBus,
    @Inject(EVENT_STORE) private readonly store: EventStore,
  ) {}

  @Post()
  @Roles('operator')
  @ApiCommand({
    summary: 'Register a synqer (the same details again: answered as the first time)',
    body: Schema.object(
      {
        synqerId: Schema.id(),
        payoutWallet: Schema.publicKey('Where its rewards are paid'),
        reportingKey: Schema.publicKey('The ed25519 public key its metric reports are signed with'),
        region: Schema.text(64),
        labels: {
          type: 'object',
          additionalProperties: { type: 'string', maxLength: 256 },
          maxProperties: 32,
          description: 'At most 32, keys up to 64 characters',
        },
      },
      ['synqerId', 'payoutWallet', 'reportingKey', 'region'],
    ),
    status: 201,
    answers: 'The synqer as registered',
    errors: [409],
  })
  async register(@Body() body: synqer.RegisterSynqer, @Req() request: AuthenticatedRequest) {
    const synqerId = typeof body?.synqerId === 'string' ? body.synqerId : '';
    await this.run(request, synqerId, { type: 'RegisterSynqer', data: body ?? {} });
    // The synqer as registered: a repeated registration answers what the first one answered.
    const state = await loadThrough(this.store, synqer.synqerDecider, synqerId, (event) => event.type === 'SynqerRegistered');
    if (!state) reject('not_found', 'synqerId', `no synqer is registered as ${synqerId}`);
    return { ...state, payoutWallet: state.wallets[state.wallets.length - 1].payoutWallet };
  }

  @Put(':id/payout-wallet')
  @Roles('operator')
  @ApiCommand({
    summary: "Change a synqer's payout wallet, from the next epoch opened",
    body: Schema.object({ payoutWallet: Schema.publicKey() }),
    status: 200,
    answers: 'The synqer',
    errors: [404, 409],
  })
  async changePayoutWallet(@Param('id', IdParam) id: string, @Body() body: { payoutWallet?: unknown }, @Req() request: AuthenticatedRequest) {
    await this.run(request, id, { type: 'ChangePayoutWallet', data: { payoutWallet: body?.payoutWallet } });
    return this.get(id);
  }

  /**
   * `{ reportingKey, reason? }`: the new key verifies the reports recorded after this rotation, the old one those
   * recorded before it (a report in flight, decided with the old key and recorded after, is refused and voided).
   */
  @Post(':id/reporting-key')
  @HttpCode(200)
  @Roles('operator')
  @ApiCommand({
    summary: "Rotate a synqer's reporting key: reports recorded after this are verified with the new key only",
    body: Schema.object(
      {
        reportingKey: Schema.publicKey('The new ed25519 public key: a sound point (not small-order, canonical), never one the synqer had'),
        reason: Schema.text(),
      },
      ['reportingKey'],
    ),
    status: 200,
    answers: 'The synqer, with its new key in force and every key it has had (reportingKeys)',
    errors: [404, 409],
  })
  async rotateReportingKey(@Param('id', IdParam) id: string, @Body() body: { reportingKey?: unknown; reason?: unknown }, @Req() request: AuthenticatedRequest) {
    await this.run(request, id, { type: 'RotateReportingKey', data: { reportingKey: body?.reportingKey, reason: body?.reason } });
    return this.get(id);
  }

  @Post(':id/suspend')
  @Roles('operator')
  @ApiCommand({
    summary: 'Suspend a synqer: its reports are refused',
    body: Schema.object({ reason: Schema.text() }),
    status: 201,
    answers: 'The synqer',
    errors: [404, 409],
  })
  async suspend(@Param('id', IdParam) id: string, @Body() body: { reason?: unknown }, @Req() request: AuthenticatedRequest) {
    await this.run(request, id, { type: 'SuspendSynqer', data: { reason: body?.reason } });
    return this.get(id);
  }

  @Post(':id/reinstate')
  @Roles('operator')
  @ApiCommand({
    summary: 'Reinstate a suspended synqer',
    body: Schema.object({ reason: Schema.text() }),
    status: 201,
    answers: 'The synqer',
    errors: [404, 409],
  })
  async reinstate(@Param('id', IdParam) id: string, @Body() body: { reason?: unknown }, @Req() request: AuthenticatedRequest) {
    await this.run(request, id, { type: 'ReinstateSynqer', data: { reason: body?.reason } });
    return this.get(id);
  }

  @Get(':id')
  @Roles('operator', 'ingest', 'auditor')
  async get(@Param('id', IdParam) id: string) {
    const state = await loadSynqer(this.store, id);
    if (!state) reject('not_found', 'synqerId', `no synqer is registered as ${id}`);
    return { ...state, payoutWallet: state.wallets[state.wallets.length - 1].payoutWallet };
  }

  private run(request: AuthenticatedRequest, synqerId: string, command: SynqerRequest) {
    return this.commands.execute(new ChangeSynqer(synqerId, command, commandMetadata(request, randomUUID())));
  }
}

@Module({ controllers: [SynqersController], providers: [ChangeSynqerHandler] })
export class SynqersModule {}
