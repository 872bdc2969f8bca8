import { Body, Controller, ForbiddenException, Get, Inject, Module, Param, Post, Req } from '@nestjs/common';
import { IdParam } from '../requests/parameters';
import { CommandBus, CommandHandler, type ICommandHandler } from '@nestjs/cqrs';
import { randomUUID } from 'node:crypto';
import { PublicKey } from '@solana/web3.js';
import { burnedAccounts, checkSignature, type ProofAddresses } from '../../domain/chain-proofs';
import { requireChain } from '../../domain/chain-setup';
import * as developer from '../../domain/developer';
import { currentPolicy, networkDecider } from '../../domain/network';
import { reject } from '../../domain/rejection';
import { Roles, type AuthenticatedRequest } from '../auth/api-key.guard';
import { ApiCommand, Schema } from '../openapi/openapi';
import type { ChainGateway } from '../chain/chain-gateway';
import { loadChainSetup } from '../treasury/chain-setup';
import { CHAIN_GATEWAY } from '../chain/open-chain';
import { appendChainProofCredit } from '../treasury/chain-proofs';
import { ChainMovements } from '../settlement/chain-movements';
import { treasuryAvailable } from '../verification/liabilities';
import { SettlementModule } from '../settlement/settlement.module';
import { readTokenAccount } from '../chain/token';
import { decideAndAppend, load, loadLatest, loadThrough, type CommandMetadata, type Requested } from '../commands/streams';
import { EVENT_STORE, type EventStore } from '../event-store/event-store';
import { commandMetadata } from '../requests/request-metadata';
import { KeyedQueue } from '../commands/keyed-queue';

/** A command on a developer's account as a caller states it (the on-chain burn is its own command, below): burns are credited at the rate in force when decided. */
export type DeveloperRequest = Requested<Exclude<developer.DeveloperCommand, { type: 'CreditOnChainBurn' }>, 'creditsPerToken' | 'delivery'>;

/** A change to a developer's account, as data. */
export class ChangeDeveloper {
  constructor(
    readonly developerId: string,
    readonly command: DeveloperRequest,
    readonly metadata: CommandMetadata,
  ) {}
}

/** Purchases whose delivery takes from the treasury, decided one at a time per engine (see `treasuryAvailable`). */
const TREASURY_QUEUE = new KeyedQueue();

@CommandHandler(ChangeDeveloper)
export class ChangeDeveloperHandler implements ICommandHandler<ChangeDeveloper> {
  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(CHAIN_GATEWAY) private readonly chain: ChainGateway,
    private readonly movements: ChainMovements,
  ) {}

  async execute({ developerId, command, metadata }: ChangeDeveloper) {
    if (command.type === 'RecordPurchase') {
      // Deliveries are decided one at a time in this engine: each sees the reservations of those before it.
      return TREASURY_QUEUE.run('treasury', async () => {
        const decided: developer.DeveloperCommand = { type: 'RecordPurchase', data: { ...command.data, delivery: await this.delivery() } };
        return decideAndAppend(this.store, developer.developerDecider, developerId, (state) => developer.developerDecider.decide(decided, state), metadata);
      });
    }
    const rate = BigInt(currentPolicy(await loadLatest(this.store, networkDecider)).creditsPerToken);
    const decided: developer.DeveloperCommand =
      command.type === 'BurnForCredits' ? { type: 'BurnForCredits', data: { ...command.data, creditsPerToken: rate } } : command;
    return decideAndAppend(this.store, developer.developerDecider, developerId, (state) => developer.developerDecider.decide(decided, state), metadata);
  }

  /** In hybrid the treasury delivers purchases, from what it holds free of reservations; otherwise they stay in the books. */
  private async delivery(): Promise<developer.PurchaseDelivery> {
    if (!(await this.movements.onChain())) return null;
    return { treasuryAvailable: (await treasuryAvailable(this.store, this.chain)) ?? 0n };
  }
}

/** A burn of $SYNQ proven by its transaction on chain (`POST /developers/:id/burns/onchain`). */
export class CreditOnChainBurn {
  constructor(
    readonly developerId: string,
    readonly signature: unknown,
    readonly metadata: CommandMetadata,
  ) {}
}

@CommandHandler(CreditOnChainBurn)
export class CreditOnChainBurnHandler implements ICommandHandler<CreditOnChainBurn> {
  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(CHAIN_GATEWAY) private readonly chain: ChainGateway,
  ) {}

  /**
   * Reads the transaction and the owners of the token accounts it burns from through the gateway, then decides on
   * that plain data alone (domain/developer.ts `creditOnChainBurn`). The owner is the token account's owner as the
   * chain holds it now, not the burn's signing authority: a delegate's burn of someone else's tokens is not the
   * developer's, and an account closed since proves no owner.
   */
  async execute({ developerId, signature: input, metadata }: CreditOnChainBurn) {
    if (!(await load(this.store, developer.developerDecider, developerId)).state) {
      reject('not_found', 'developerId', `no developer is registered as ${developerId}`);
    }
    const signature = checkSignature(input);
    const addresses = requireChain(await loadChainSetup(this.store));
    const transaction = await this.chain.getTransaction(signature);
    const owners = await tokenAccountOwners(this.chain, burnedAccounts(transaction, addresses), addresses);
    const rate = BigInt(currentPolicy(await loadLatest(this.store, networkDecider)).creditsPerToken);
    return appendChainProofCredit(
      this.store,
      { signature, kind: 'developer-burn' },
      developer.developerDecider,
      developerId,
      (state, claim) =>
        developer.developerDecider.decide(
          { type: 'CreditOnChainBurn', data: { facts: { signature, claim, transaction, tokenAccountOwners: owners }, addresses, creditsPerToken: rate } },
          state,
        ),
      metadata,
    );
  }
}

/** Each account's owner if it is a token account of the $SYNQ mint now; null otherwise (closed, or never one). */
async function tokenAccountOwners(chain: ChainGateway, accounts: string[], addresses: Pick<ProofAddresses, 'mint'>): Promise<Map<string, string | null>> {
  const keys = accounts.map((account) => new PublicKey(account));
  const found = keys.length > 0 ? await chain.getAccounts(keys) : [];
  return new Map(
    accounts.map((account, i) => {
      const token = readTokenAccount(keys[i], found[i]);
      return [account, token && token.mint.toBase58() === addresses.mint ? token.owner.toBase58() : null];
    }),
  );
}

@Controller('developers')
export class DevelopersController {
  constructor(
    private readonly commands: CommandBus,
    @Inject(EVENT_STORE) private readonly store: EventStore,
    private readonly movements: ChainMovements,
  ) {}

  @Post()
  @Roles('operator')
  @ApiCommand({
    summary: 'Register a developer',
    body: Schema.object({ developerId: Schema.id(), wallet: Schema.publicKey('Its wallet, which on-chain burns come from') }),
    status: 201,
    answers: 'The account as registered',
    errors: [409],
  })
  async register(@Body() body: { developerId?: unknown; wallet?: unknown }, @Req() request: AuthenticatedRequest) {
    const developerId = typeof body?.developerId === 'string' ? body.developerId : '';
    await this.run(request, developerId, { type: 'RegisterDeveloper', data: { developerId: body?.developerId, wallet: body?.wallet } });
    return this.view(developerId, request, (event) => event.type === 'DeveloperRegistered');
  }

  /** Purchases are recorded by operators once the payment is confirmed. */
  @Post(':id/purchases')
  @Roles('operator')
  @ApiCommand({
    summary: "Record a developer's purchase of $SYNQ, once its payment is confirmed",
    body: Schema.object({ purchaseId: Schema.id(), amount: Schema.amount(), paymentReference: Schema.text(200) }),
    status: 201,
    answers: 'The account right after this purchase, and its chain transfer (hybrid)',
    errors: [404, 409, 503],
  })
  async purchase(
    @Param('id', IdParam) id: string,
    @Body() body: { purchaseId?: unknown; amount?: unknown; paymentReference?: unknown },
    @Req() request: AuthenticatedRequest,
  ) {
    await this.run(request, id, {
      type: 'RecordPurchase',
      data: { purchaseId: body?.purchaseId, amount: body?.amount, paymentReference: body?.paymentReference },
    });
    // In hybrid the purchase's own event ordered its delivery (the tokens never enter tokenBalance); carried out once here,
    // and a repeated request resumes it.
    const chainTransfer = await this.movements.deliverPurchase(id, String(body?.purchaseId), commandMetadata(request, randomUUID()));
    return { ...(await this.view(id, request, (event) => event.type === 'TokensPurchased' && event.data.purchaseId === body?.purchaseId)), chainTransfer };
  }

  @Post(':id/burns')
  @Roles('operator', 'developer')
  @ApiCommand({
    summary: 'Burn $SYNQ for data credits (a developer key: its own account only)',
    body: Schema.object({ burnId: Schema.id(), amount: Schema.amount() }),
    status: 201,
    answers: 'The account right after this burn',
    errors: [404, 409],
  })
  async burn(@Param('id', IdParam) id: string, @Body() body: { burnId?: unknown; amount?: unknown }, @Req() request: AuthenticatedRequest) {
    await this.run(request, id, { type: 'BurnForCredits', data: { burnId: body?.burnId, amount: body?.amount } });
    return this.view(id, request, (event) => event.type === 'TokensBurnedForCredits' && event.data.burnId === body?.burnId);
  }

  /**
   * A burn the developer made on chain themselves, from a token account of their registered wallet: credited at the
   * rate in force, once per transaction across the engine. It adds credits; `tokenBalance` (tokens bought through the
   * engine) does not move, since the tokens were the wallet's.
   */
  @Post(':id/burns/onchain')
  @Roles('operator', 'developer')
  @ApiCommand({
    summary: "Credit a burn the developer's wallet made on chain, once per transaction",
    body: Schema.object({ signature: Schema.signature('The burn transaction') }),
    status: 201,
    answers: 'The account',
    errors: [404, 409, 503],
  })
  async burnOnChain(@Param('id', IdParam) id: string, @Body() body: { signature?: unknown }, @Req() request: AuthenticatedRequest) {
    ownAccountOnly(request, id);
    await this.commands.execute(new CreditOnChainBurn(id, body?.signature, commandMetadata(request, randomUUID())));
    return this.get(id, request);
  }

  /** Usage is reported by the network (ingest) or operators. */
  @Post(':id/usage')
  @Roles('operator', 'ingest')
  @ApiCommand({
    summary: "Consume a developer's data credits",
    body: Schema.object({ usageId: Schema.id(), credits: Schema.amount(), sessionReference: Schema.text(200) }),
    status: 201,
    answers: 'The account right after this usage',
    errors: [404, 409],
  })
  async consume(
    @Param('id', IdParam) id: string,
    @Body() body: { usageId?: unknown; credits?: unknown; sessionReference?: unknown },
    @Req() request: AuthenticatedRequest,
  ) {
    await this.run(request, id, { type: 'ConsumeCredits', data: { usageId: body?.usageId, credits: body?.credits, sessionReference: body?.sessionReference } });
    return this.view(id, request, (event) => event.type === 'CreditsConsumed' && event.data.usageId === body?.usageId);
  }

  @Get(':id')
  @Roles('operator', 'auditor', 'developer', 'ingest')
  async get(@Param('id', IdParam) id: string, @Req() request: AuthenticatedRequest) {
    return this.view(id, request, () => false);
  }

  /** The account as it stood right after the event `through` selects: a repeated command answers what it answered first. */
  private async view(id: string, request: AuthenticatedRequest, through: Parameters<typeof loadThrough>[3]) {
    ownAccountOnly(request, id);
    const state = await loadThrough(this.store, developer.developerDecider, id, through);
    if (!state) reject('not_found', 'developerId', `no developer is registered as ${id}`);
    return { developerId: state.developerId, wallet: state.wallet, tokenBalance: state.tokenBalance.toString(), credits: state.credits.toString() };
  }

  private run(request: AuthenticatedRequest, developerId: string, command: DeveloperRequest) {
    ownAccountOnly(request, developerId);
    return this.commands.execute(new ChangeDeveloper(developerId, command, commandMetadata(request, randomUUID())));
  }
}

/** A developer key acts for its own account only. */
function ownAccountOnly(request: AuthenticatedRequest, developerId: string): void {
  if (request.principal.role === 'developer' && request.principal.developerId !== developerId) {
    throw new ForbiddenException("a developer key may only use its own developer's account");
  }
}

@Module({ imports: [SettlementModule], controllers: [DevelopersController], providers: [ChangeDeveloperHandler, CreditOnChainBurnHandler] })
export class DevelopersModule {}
