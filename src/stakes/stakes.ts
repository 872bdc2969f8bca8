import { Body, Controller, Get, Inject, Module, Param, Post, Req } from '@nestjs/common';
import { CommandBus, CommandHandler, type ICommandHandler } from '@nestjs/cqrs';
import { randomUUID } from 'node:crypto';
import { currentPolicy, type NetworkState } from '../../domain/network';
import { reject } from '../../domain/rejection';
import * as stake from '../../domain/stake';
import { Roles, type AuthenticatedRequest } from '../auth/api-key.guard';
import { decideAndAppend, fold, type CommandMetadata } from '../commands/decide-and-append';
import { EVENT_STORE, type EventStore } from '../event-store/event-store';
import { commandMetadata } from '../http/request-metadata';
import { loadNetwork } from '../network/network';
import { loadSynqer } from '../synqers/synqers';

type StakeDecision = (state: stake.StakeState, ledger: NetworkState) => stake.StakeEvent[];

export class ChangeStake {
  constructor(
    readonly synqerId: string,
    readonly decide: StakeDecision,
    readonly metadata: CommandMetadata,
  ) {}
}

@CommandHandler(ChangeStake)
export class ChangeStakeHandler implements ICommandHandler<ChangeStake> {
  constructor(@Inject(EVENT_STORE) private readonly store: EventStore) {}

  async execute({ synqerId, decide, metadata }: ChangeStake) {
    if (!(await loadSynqer(this.store, synqerId))) reject('not_found', 'synqerId', `no synqer is registered as ${synqerId}`);
    const ledger = await loadNetwork(this.store);
    return decideAndAppend(this.store, stake.stakeStream(synqerId), stake.initialStake(), stake.evolveStake, (state) => decide(state, ledger), metadata);
  }
}

@Controller('synqers/:id/stake')
export class StakesController {
  constructor(
    private readonly commands: CommandBus,
    @Inject(EVENT_STORE) private readonly store: EventStore,
  ) {}

  @Post('deposits')
  @Roles('operator')
  async deposit(@Param('id') id: string, @Body() body: { depositId?: unknown; amount?: unknown }, @Req() request: AuthenticatedRequest) {
    await this.run(request, id, (state) => stake.deposit(state, id, { depositId: body?.depositId, amount: body?.amount }));
    return this.get(id);
  }

  @Post('unstake-requests')
  @Roles('operator')
  async requestUnstake(@Param('id') id: string, @Body() body: { requestId?: unknown; amount?: unknown }, @Req() request: AuthenticatedRequest) {
    await this.run(request, id, (state, ledger) =>
      stake.requestUnstake(state, id, { requestId: body?.requestId, amount: body?.amount }, ledger.lastEpoch, currentPolicy(ledger).unstakeCooldownEpochs),
    );
    return this.get(id);
  }

  @Post('withdrawals')
  @Roles('operator')
  async withdraw(@Param('id') id: string, @Body() body: { requestId?: unknown }, @Req() request: AuthenticatedRequest) {
    await this.run(request, id, (state, ledger) => stake.withdraw(state, id, { requestId: body?.requestId }, ledger.lastEpoch));
    return this.get(id);
  }

  @Post('slashes')
  @Roles('operator')
  async slash(@Param('id') id: string, @Body() body: { slashId?: unknown; amount?: unknown; reason?: unknown }, @Req() request: AuthenticatedRequest) {
    await this.run(request, id, (state) => stake.slash(state, id, { slashId: body?.slashId, amount: body?.amount, reason: body?.reason }));
    return this.get(id);
  }

  @Get()
  @Roles('operator', 'auditor', 'ingest')
  async get(@Param('id') id: string) {
    const { state } = await fold(this.store, stake.stakeStream(id), stake.initialStake(), stake.evolveStake);
    return {
      synqerId: id,
      active: state.active.toString(),
      held: stake.heldStake(state).toString(),
      slashed: state.slashed.toString(),
      unstaking: [...state.unstaking.entries()].map(([requestId, r]) => ({ requestId, amount: r.amount.toString(), unlockEpoch: r.unlockEpoch, withdrawn: r.withdrawn })),
    };
  }

  private run(request: AuthenticatedRequest, synqerId: string, decide: StakeDecision) {
    return this.commands.execute(new ChangeStake(synqerId, decide, commandMetadata(request, randomUUID())));
  }
}

@Module({ controllers: [StakesController], providers: [ChangeStakeHandler] })
export class StakesModule {}
