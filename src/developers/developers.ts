import { Body, Controller, ForbiddenException, Get, Inject, Module, Param, Post, Req } from '@nestjs/common';
import { CommandBus, CommandHandler, type ICommandHandler } from '@nestjs/cqrs';
import { randomUUID } from 'node:crypto';
import * as developer from '../../domain/developer';
import { currentPolicy } from '../../domain/network';
import { reject } from '../../domain/rejection';
import { Roles, type AuthenticatedRequest } from '../auth/api-key.guard';
import { decideAndAppend, fold, type CommandMetadata } from '../commands/decide-and-append';
import { EVENT_STORE, type EventStore } from '../event-store/event-store';
import { commandMetadata } from '../http/request-metadata';
import { loadNetwork } from '../network/network';

type DeveloperDecision = (state: developer.DeveloperState | undefined, creditsPerToken: bigint) => developer.DeveloperEvent[];

export class ChangeDeveloper {
  constructor(
    readonly developerId: string,
    readonly decide: DeveloperDecision,
    readonly metadata: CommandMetadata,
  ) {}
}

@CommandHandler(ChangeDeveloper)
export class ChangeDeveloperHandler implements ICommandHandler<ChangeDeveloper> {
  constructor(@Inject(EVENT_STORE) private readonly store: EventStore) {}

  async execute({ developerId, decide, metadata }: ChangeDeveloper) {
    const rate = BigInt(currentPolicy(await loadNetwork(this.store)).creditsPerToken);
    return decideAndAppend(this.store, developer.developerStream(developerId), undefined, developer.evolveDeveloper, (state) => decide(state, rate), metadata);
  }
}

@Controller('developers')
export class DevelopersController {
  constructor(
    private readonly commands: CommandBus,
    @Inject(EVENT_STORE) private readonly store: EventStore,
  ) {}

  @Post()
  @Roles('operator')
  async register(@Body() body: { developerId?: unknown; wallet?: unknown }, @Req() request: AuthenticatedRequest) {
    const developerId = typeof body?.developerId === 'string' ? body.developerId : '';
    await this.run(request, developerId, (state) => developer.registerDeveloper(state, { developerId: body?.developerId, wallet: body?.wallet }));
    return this.get(developerId, request);
  }

  /** Purchases are recorded by operators once the payment is confirmed. */
  @Post(':id/purchases')
  @Roles('operator')
  async purchase(@Param('id') id: string, @Body() body: { purchaseId?: unknown; amount?: unknown; paymentReference?: unknown }, @Req() request: AuthenticatedRequest) {
    await this.run(request, id, (state) => developer.recordPurchase(state, { purchaseId: body?.purchaseId, amount: body?.amount, paymentReference: body?.paymentReference }));
    return this.get(id, request);
  }

  @Post(':id/burns')
  @Roles('operator', 'developer')
  async burn(@Param('id') id: string, @Body() body: { burnId?: unknown; amount?: unknown }, @Req() request: AuthenticatedRequest) {
    await this.run(request, id, (state, rate) => developer.burnForCredits(state, { burnId: body?.burnId, amount: body?.amount }, rate));
    return this.get(id, request);
  }

  /** Usage is reported by the network (ingest) or operators. */
  @Post(':id/usage')
  @Roles('operator', 'ingest')
  async consume(@Param('id') id: string, @Body() body: { usageId?: unknown; credits?: unknown; sessionReference?: unknown }, @Req() request: AuthenticatedRequest) {
    await this.run(request, id, (state) => developer.consumeCredits(state, { usageId: body?.usageId, credits: body?.credits, sessionReference: body?.sessionReference }));
    return this.get(id, request);
  }

  @Get(':id')
  @Roles('operator', 'auditor', 'developer', 'ingest')
  async get(@Param('id') id: string, @Req() request: AuthenticatedRequest) {
    ownAccountOnly(request, id);
    const { state } = await fold(this.store, developer.developerStream(id), undefined as developer.DeveloperState | undefined, developer.evolveDeveloper);
    if (!state) reject('not_found', 'developerId', `no developer is registered as ${id}`);
    return { developerId: state.developerId, wallet: state.wallet, tokenBalance: state.tokenBalance.toString(), credits: state.credits.toString() };
  }

  private run(request: AuthenticatedRequest, developerId: string, decide: DeveloperDecision) {
    ownAccountOnly(request, developerId);
    return this.commands.execute(new ChangeDeveloper(developerId, decide, commandMetadata(request, randomUUID())));
  }
}

/** A developer key acts for its own account only. */
function ownAccountOnly(request: AuthenticatedRequest, developerId: string): void {
  if (request.principal.role === 'developer' && request.principal.developerId !== developerId) {
    throw new ForbiddenException("a developer key may only use its own developer's account");
  }
}

@Module({ controllers: [DevelopersController], providers: [ChangeDeveloperHandler] })
export class DevelopersModule {}
