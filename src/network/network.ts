import { Body, Controller, Get, Inject, Module, Post, Req } from '@nestjs/common';
import { CommandBus, CommandHandler, type ICommandHandler } from '@nestjs/cqrs';
import { randomUUID } from 'node:crypto';
import * as network from '../../domain/network';
import { reject } from '../../domain/rejection';
import { toInstant } from '../../domain/values';
import { Roles, type AuthenticatedRequest } from '../auth/api-key.guard';
import { ApiCommand, Schema } from '../openapi/openapi';
import { decideAndAppend, loadLatest, loadThrough, type CommandMetadata, type Requested } from '../commands/streams';
import { EVENT_STORE, type EventStore } from '../event-store/event-store';
import { commandMetadata } from '../requests/request-metadata';

/** A command on the network ledger (treasury, policy, epoch calendar) as a caller states it (a close's cut-off is its own position). */
export type NetworkRequest = Requested<network.NetworkCommand, never>;

/** A command on the network ledger, as data: what the command bus carries (`POST /treasury/fundings`, `/policy`, `/epochs`). */
export class ChangeNetwork {
  constructor(
    readonly command: NetworkRequest,
    readonly metadata: CommandMetadata,
  ) {}
}

/**
 * Decides a command on the network ledger and records its events: the one composition of every network ledger command,
 * run by the bus's handler for HTTP and called directly by `synq epochs open`. A close's cut-off is the position of
 * its own EpochClosed event (`network.cutOffOf`).
 */
export function changeNetwork(store: EventStore, command: NetworkRequest, metadata: CommandMetadata) {
  return decideAndAppend(store, network.networkDecider, undefined, (state) => network.networkDecider.decide(command, state), metadata);
}

@CommandHandler(ChangeNetwork)
export class ChangeNetworkHandler implements ICommandHandler<ChangeNetwork> {
  constructor(@Inject(EVENT_STORE) private readonly store: EventStore) {}

  execute({ command, metadata }: ChangeNetwork) {
    return changeNetwork(this.store, command, metadata);
  }
}

const treasuryView = (state: network.NetworkState) => ({
  funded: state.funded.toString(),
  allocated: state.allocated.toString(),
  unallocated: network.unallocated(state).toString(),
});

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
  @ApiCommand({
    summary: 'Record a treasury funding',
    body: Schema.object({ amount: Schema.amount(), reference: Schema.text(200, 'Its id: the same reference again is the same funding') }),
    status: 201,
    answers: 'The treasury right after this funding',
    errors: [409],
  })
  async fund(@Body() body: { amount?: unknown; reference?: unknown }, @Req() request: AuthenticatedRequest) {
    await this.run(request, { type: 'FundTreasury', data: { amount: body?.amount, reference: body?.reference } });
    // The treasury as it stood right after this funding: a repeat answers what the funding answered.
    const state = await loadThrough(this.store, network.networkDecider, undefined, (e) => e.type === 'TreasuryFunded' && e.data.reference === body?.reference);
    return treasuryView(state);
  }

  @Get('treasury')
  @Roles('operator', 'auditor')
  async treasury() {
    return treasuryView(await loadLatest(this.store, network.networkDecider));
  }

  @Post('policy')
  @Roles('operator')
  @ApiCommand({
    summary: 'Adopt a new policy version, effective from the next epoch opened',
    body: Schema.object(
      {
        weightBytesBps: Schema.integer(0, 10_000, 'With weightSessionsBps, sums to 10000'),
        weightSessionsBps: Schema.integer(0, 10_000),
        minUptimeBps: Schema.integer(0, 10_000),
        minQosBps: Schema.integer(0, 10_000),
        stakeBoostMaxBps: Schema.integer(0, 10_000),
        stakeTarget: Schema.amount(),
        creditsPerToken: Schema.amount(),
        unstakeCooldownEpochs: Schema.integer(0, 1_000),
        maxPoolPerEpoch: Schema.amount(),
        solPriceInSynq: Schema.amount(),
        claimWindowSeconds: Schema.integer(86_400, 10 * 365 * 86_400),
        minimumPayout: Schema.amount({ allowZero: true }),
        unclaimedRewards: Schema.oneOf(['carry', 'return']),
        sponsoredClaimMinimum: Schema.amount({ allowZero: true }),
      },
      [
        'weightBytesBps',
        'weightSessionsBps',
        'minUptimeBps',
        'minQosBps',
        'stakeBoostMaxBps',
        'stakeTarget',
        'creditsPerToken',
        'unstakeCooldownEpochs',
        'maxPoolPerEpoch',
      ],
    ),
    status: 201,
    answers: 'The policy in force and every version adopted',
  })
  async adoptPolicy(@Body() body: Record<string, unknown>, @Req() request: AuthenticatedRequest) {
    await this.run(request, { type: 'AdoptPolicy', data: body ?? {} });
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
  @ApiCommand({
    summary: 'Open the next epoch',
    body: Schema.object({ epoch: Schema.integer(1, 1_000_000_000), start: Schema.instant(), end: Schema.instant(), rewardPool: Schema.amount() }),
    status: 201,
    answers: 'The epoch as opened',
    errors: [409],
  })
  async open(@Body() body: { epoch?: unknown; start?: unknown; end?: unknown; rewardPool?: unknown }, @Req() request: AuthenticatedRequest) {
    await this.run(request, { type: 'OpenEpoch', data: { epoch: body?.epoch, start: body?.start, end: body?.end, rewardPool: body?.rewardPool } });
    return this.epoch(typeof body?.epoch === 'number' ? body.epoch : 0);
  }

  /** The epoch as the network ledger recorded its opening (its settlement is read at GET /epochs/{n}): a repeat answers the same. */
  private async epoch(epoch: number) {
    const ledger = await loadThrough(this.store, network.networkDecider, undefined, (e) => e.type === 'EpochOpened' && e.data.epoch === epoch);
    const info = ledger.epochs.get(epoch);
    if (!info) reject('not_found', 'epoch', `epoch ${epoch} was never opened`);
    return epochView(info);
  }

  private run(request: AuthenticatedRequest, command: NetworkRequest) {
    return this.commands.execute(new ChangeNetwork(command, commandMetadata(request, randomUUID())));
  }
}

@Module({ controllers: [NetworkController], providers: [ChangeNetworkHandler] })
export class NetworkModule {}
