import { Body, Controller, Get, Inject, Module, Param, Post, Req } from '@nestjs/common';
import { IdParam } from '../requests/parameters';
import { CommandBus, CommandHandler, type ICommandHandler } from '@nestjs/cqrs';
import { randomUUID } from 'node:crypto';
import { checkSignature } from '../../domain/chain-proofs';
import { requireChain } from '../../domain/chain-setup';
import { currentPolicy, networkDecider, type NetworkState } from '../../domain/network';
import { reject } from '../../domain/rejection';
import * as stake from '../../domain/stake';
import { Roles, type AuthenticatedRequest } from '../auth/api-key.guard';
import { ApiCommand, Schema } from '../openapi/openapi';
import type { ChainGateway } from '../chain/chain-gateway';
import { loadChainSetup } from '../treasury/chain-setup';
import { CHAIN_GATEWAY } from '../chain/open-chain';
import { appendChainProofCredit } from '../treasury/chain-proofs';
import { ChainMovements } from '../settlement/chain-movements';
import { SettlementModule } from '../settlement/settlement.module';
import { decideAndAppend, load, loadLatest, loadThrough, type CommandMetadata, type Requested } from '../commands/streams';
import { EVENT_STORE, type EventStore } from '../event-store/event-store';
import { commandMetadata } from '../requests/request-metadata';
import { loadSynqer } from '../synqers/synqers';
import { synqerDecider } from '../../domain/synqer';

/**
 * A command on a synqer's stake as a caller states it (the on-chain deposit is its own command, below): an unstake
 * request's epoch and cooldown, and a withdrawal's epoch, come from the ledger when it is decided.
 */
export type StakeRequest = Requested<Exclude<stake.StakeCommand, { type: 'CreditOnChainDeposit' }>, 'lastOpenedEpoch' | 'cooldownEpochs' | 'vault'>;

/** A change to a synqer's stake, as data (the synqer is `command.data.synqerId`). */
export class ChangeStake {
  constructor(
    readonly command: StakeRequest,
    readonly metadata: CommandMetadata,
  ) {}
}

@CommandHandler(ChangeStake)
export class ChangeStakeHandler implements ICommandHandler<ChangeStake> {
  constructor(@Inject(EVENT_STORE) private readonly store: EventStore) {}

  async execute({ command, metadata }: ChangeStake) {
    const { synqerId } = command.data;
    if (!(await loadSynqer(this.store, synqerId))) reject('not_found', 'synqerId', `no synqer is registered as ${synqerId}`);
    const ledger = await loadLatest(this.store, networkDecider);
    // Where the vault returns on-chain-backed stake: the synqer's payout wallet, once the chain is set up.
    const vault =
      command.type === 'WithdrawStake' && (await loadChainSetup(this.store))
        ? { payoutWallet: (await load(this.store, synqerDecider, synqerId)).state?.wallets.at(-1)?.payoutWallet ?? null }
        : null;
    return decideAndAppend(this.store, stake.stakeDecider, synqerId, (state) => stake.stakeDecider.decide(withLedger(command, ledger, vault), state), metadata);
  }
}

/** The command with what the ledger says now: the last opened epoch, the policy's unstake cooldown, and where the vault pays. */
function withLedger(command: StakeRequest, ledger: NetworkState, vault: stake.VaultContext | null): stake.StakeCommand {
  switch (command.type) {
    case 'RequestUnstake':
      return {
        type: 'RequestUnstake',
        data: { ...command.data, lastOpenedEpoch: ledger.lastEpoch, cooldownEpochs: currentPolicy(ledger).unstakeCooldownEpochs },
      };
    case 'WithdrawStake':
      return { type: 'WithdrawStake', data: { ...command.data, lastOpenedEpoch: ledger.lastEpoch, vault } };
    default:
      return command;
  }
}

/** A stake deposit proven by its transaction on chain (`POST /synqers/:id/stake/deposits/onchain`). */
export class CreditOnChainDeposit {
  constructor(
    readonly synqerId: string,
    readonly signature: unknown,
    readonly metadata: CommandMetadata,
  ) {}
}

@CommandHandler(CreditOnChainDeposit)
export class CreditOnChainDepositHandler implements ICommandHandler<CreditOnChainDeposit> {
  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(CHAIN_GATEWAY) private readonly chain: ChainGateway,
  ) {}

  /** Reads the transaction through the gateway, then decides on that plain data alone (domain/stake.ts `depositOnChain`). */
  async execute({ synqerId, signature: input, metadata }: CreditOnChainDeposit) {
    if (!(await loadSynqer(this.store, synqerId))) reject('not_found', 'synqerId', `no synqer is registered as ${synqerId}`);
    const signature = checkSignature(input);
    const addresses = requireChain(await loadChainSetup(this.store));
    const transaction = await this.chain.getTransaction(signature);
    return appendChainProofCredit(
      this.store,
      { signature, kind: 'stake-deposit' },
      stake.stakeDecider,
      synqerId,
      (state, claim) =>
        stake.stakeDecider.decide({ type: 'CreditOnChainDeposit', data: { synqerId, facts: { signature, claim, transaction }, addresses } }, state),
      metadata,
    );
  }
}

@Controller('synqers/:id/stake')
export class StakesController {
  constructor(
    private readonly commands: CommandBus,
    @Inject(EVENT_STORE) private readonly store: EventStore,
    private readonly movements: ChainMovements,
  ) {}

  @Post('deposits')
  @Roles('operator')
  @ApiCommand({
    summary: 'Record a stake deposit',
    body: Schema.object({ depositId: Schema.id(), amount: Schema.amount() }),
    status: 201,
    answers: 'The stake right after this deposit',
    errors: [404, 409],
  })
  async deposit(@Param('id', IdParam) id: string, @Body() body: { depositId?: unknown; amount?: unknown }, @Req() request: AuthenticatedRequest) {
    await this.run(request, { type: 'DepositStake', data: { synqerId: id, depositId: body?.depositId, amount: body?.amount } });
    return this.view(id, (event) => event.type === 'StakeDeposited' && event.data.depositId === body?.depositId);
  }

  /**
   * A deposit the synqer (or anyone for them) made on chain: a TransferChecked of $SYNQ into the stake vault with the
   * memo `synq:stake:<id>`. Credited as `StakeDeposited` (depositId = the signature), once per transaction.
   */
  @Post('deposits/onchain')
  @Roles('operator')
  @ApiCommand({
    summary: 'Credit a stake deposit made on chain (a TransferChecked into the stake vault, memo synq:stake:<id>)',
    body: Schema.object({ signature: Schema.signature('The transaction') }),
    status: 201,
    answers: 'The stake',
    errors: [404, 409, 503],
  })
  async depositOnChain(@Param('id', IdParam) id: string, @Body() body: { signature?: unknown }, @Req() request: AuthenticatedRequest) {
    await this.commands.execute(new CreditOnChainDeposit(id, body?.signature, commandMetadata(request, randomUUID())));
    return this.get(id);
  }

  @Post('unstake-requests')
  @Roles('operator')
  @ApiCommand({
    summary: 'Request to unstake: held until the policy cooldown has passed',
    body: Schema.object({ requestId: Schema.id(), amount: Schema.amount() }),
    status: 201,
    answers: 'The stake right after this request',
    errors: [404, 409],
  })
  async requestUnstake(@Param('id', IdParam) id: string, @Body() body: { requestId?: unknown; amount?: unknown }, @Req() request: AuthenticatedRequest) {
    await this.run(request, { type: 'RequestUnstake', data: { synqerId: id, requestId: body?.requestId, amount: body?.amount } });
    return this.view(id, (event) => event.type === 'UnstakeRequested' && event.data.requestId === body?.requestId);
  }

  @Post('withdrawals')
  @Roles('operator')
  @ApiCommand({
    summary: 'Withdraw an unstake request after its cooldown (the on-chain-backed part from the vault)',
    body: Schema.object({ requestId: Schema.id() }),
    status: 201,
    answers: 'The stake right after this withdrawal, and its chain transfer',
    errors: [404, 409, 503],
  })
  async withdraw(@Param('id', IdParam) id: string, @Body() body: { requestId?: unknown }, @Req() request: AuthenticatedRequest) {
    await this.run(request, { type: 'WithdrawStake', data: { synqerId: id, requestId: body?.requestId } });
    // The vault pays back the on-chain-backed part on chain, once, as the withdrawal's own event ordered; a retry resumes it.
    const chainTransfer = await this.movements.returnStake(id, String(body?.requestId), commandMetadata(request, randomUUID()));
    return { ...(await this.view(id, (event) => event.type === 'StakeWithdrawn' && event.data.requestId === body?.requestId)), chainTransfer };
  }

  @Post('slashes')
  @Roles('operator')
  @ApiCommand({
    summary: 'Slash a stake',
    body: Schema.object({ slashId: Schema.id(), amount: Schema.amount(), reason: Schema.text() }),
    status: 201,
    answers: 'The stake right after this slash, and its chain transfer',
    errors: [404, 409, 503],
  })
  async slash(@Param('id', IdParam) id: string, @Body() body: { slashId?: unknown; amount?: unknown; reason?: unknown }, @Req() request: AuthenticatedRequest) {
    await this.run(request, { type: 'SlashStake', data: { synqerId: id, slashId: body?.slashId, amount: body?.amount, reason: body?.reason } });
    // The slashed on-chain-backed stake moves from the vault to the treasury on chain, once, as the slash's event ordered.
    const chainTransfer = await this.movements.moveSlash(id, String(body?.slashId), commandMetadata(request, randomUUID()));
    return { ...(await this.view(id, (event) => event.type === 'StakeSlashed' && event.data.slashId === body?.slashId)), chainTransfer };
  }

  @Get()
  @Roles('operator', 'auditor', 'ingest')
  async get(@Param('id', IdParam) id: string) {
    // A synqer never registered has no stake to show: 404, not a stake of zero.
    if (!(await loadSynqer(this.store, id))) reject('not_found', 'synqerId', `no synqer is registered as ${id}`);
    return this.view(id, () => false);
  }

  /** The stake as it stood right after the event `through` selects: a repeated command answers what it answered first. */
  private async view(id: string, through: Parameters<typeof loadThrough>[3]) {
    const state = await loadThrough(this.store, stake.stakeDecider, id, through);
    return {
      synqerId: id,
      active: state.active.toString(),
      held: stake.heldStake(state).toString(),
      slashed: state.slashed.toString(),
      unstaking: [...state.unstaking.entries()].map(([requestId, r]) => ({
        requestId,
        amount: r.amount.toString(),
        unlockEpoch: r.unlockEpoch,
        withdrawn: r.withdrawn,
      })),
    };
  }

  private run(request: AuthenticatedRequest, command: StakeRequest) {
    return this.commands.execute(new ChangeStake(command, commandMetadata(request, randomUUID())));
  }
}

@Module({ imports: [SettlementModule], controllers: [StakesController], providers: [ChangeStakeHandler, CreditOnChainDepositHandler] })
export class StakesModule {}
