import { Body, Controller, Get, Inject, Module, Post, Req } from '@nestjs/common';
import { CommandBus, CommandHandler, type ICommandHandler } from '@nestjs/cqrs';
import { randomUUID } from 'node:crypto';
import * as network from '../../domain/network';
import { reject } from '../../domain/rejection';
import { toInstant } from '../../domain/values';
import { Roles, type AuthenticatedRequest } from '../auth/api-key.guard';
import { decideAndAppend, loadLatest, type CommandMetadata } from '../commands/streams';
import { EVENT_STORE, type EventStore } from '../event-store/event-store';
import { commandMetadata } from '../requests/request-metadata';

/** A decision on the network ledger (treasury and epoch calendar). `cutOff` is the store's position when it is taken. */
export class ChangeNetwork {
  constructor(
    readonly decide: (state: network.NetworkState, cutOff: bigint) => network.NetworkEvent[],
    readonly metadata: CommandMetadata,
  ) {}
}

@CommandHandler(ChangeNetwork)
export class ChangeNetworkHandler implements ICommandHandler<ChangeNetwork> {
  constructor(@Inject(EVENT_STORE) private readonly store: EventStore) {}

  execute({ decide, metadata }: ChangeNetwork) {
    return decideAndAppend(this.store, network.networkDecider, undefined, async (state) => decide(state, await this.store.lastPosition()), metadata);
  }
}

export function epochView(epoch: network.EpochInfo) {
  return {
    epoch: epoch.epoch,
    start: toInstant(epoch.start),
    end: toInstant(epoch.end),
    rewardPool: epoch.rewardPool.toString(),
    status: epoch.status,
    ...(epoch.cutOffPosition !== undefined ? { cutOffPosition: epoch.cutOffPosition.toString() } : {}),
  };
}

@Controller()
export class NetworkController {
  constructor(
    private readonly commands: CommandBus,
    @Inject(EVENT_STORE) private readonly store: EventStore,
  ) {}

  @Post('treasury/fundings')
  @Roles('operator')
  async fund(@Body() body: { amount?: unknown; reference?: unknown }, @Req() request: AuthenticatedRequest) {
    await this.run(request, (state) => network.fundTreasury(state, { amount: body?.amount, reference: body?.reference }));
    return this.treasury();
  }

  @Get('treasury')
  @Roles('operator', 'auditor')
  async treasury() {
    const state = await loadLatest(this.store, network.networkDecider);
    return { funded: state.funded.toString(), allocated: state.allocated.toString(), unallocated: network.unallocated(state).toString() };
  }

  @Post('policy')
  @Roles('operator')
  async adoptPolicy(@Body() body: Record<string, unknown>, @Req() request: AuthenticatedRequest) {
    await this.run(request, (state) => network.adoptPolicy(state, body ?? {}));
    return this.policy();
  }

  /** The version in force now, and any adopted for later epochs. */
  @Get('policy')
  @Roles('operator', 'auditor', 'ingest', 'developer')
  async policy() {
    const state = await loadLatest(this.store, network.networkDecider);
    return { inForce: network.currentPolicy(state), adopted: state.policies };
  }

  @Post('epochs')
  @Roles('operator')
  async open(@Body() body: { epoch?: unknown; start?: unknown; end?: unknown; rewardPool?: unknown }, @Req() request: AuthenticatedRequest) {
    await this.run(request, (state) => network.openEpoch(state, { epoch: body?.epoch, start: body?.start, end: body?.end, rewardPool: body?.rewardPool }));
    return this.epoch(typeof body?.epoch === 'number' ? body.epoch : 0);
  }

  /** The epoch as the network ledger records it (its settlement is read at GET /epochs/{n}). */
  private async epoch(epoch: number) {
    const info = (await loadLatest(this.store, network.networkDecider)).epochs.get(epoch);
    if (!info) reject('not_found', 'epoch', `epoch ${epoch} was never opened`);
    return epochView(info);
  }

  private run(request: AuthenticatedRequest, decide: ChangeNetwork['decide']) {
    return this.commands.execute(new ChangeNetwork(decide, commandMetadata(request, randomUUID())));
  }
}

@Module({ controllers: [NetworkController], providers: [ChangeNetworkHandler] })
export class NetworkModule {}
