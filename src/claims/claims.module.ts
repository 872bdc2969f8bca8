import { Body, Controller, Get, HttpCode, Module, Param, Post, Query, Req, Res } from '@nestjs/common';
import { EpochParam, PublicKeyParam, pageNumber } from '../requests/parameters';
import type { Request } from 'express';
import { randomUUID } from 'node:crypto';
import { reject } from '../../domain/rejection';
import { Roles, type AuthenticatedRequest } from '../auth/api-key.guard';
import { ApiCommand, Schema } from '../openapi/openapi';
import { APP_CONFIG, type AppConfig } from '../config/config';
import type { ChainGateway } from '../chain/chain-gateway';
import { CHAIN_GATEWAY } from '../chain/open-chain';
import { EVENT_STORE, type EventStore } from '../event-store/event-store';
import { ProjectionReader } from '../projections/projection-reader';
import { ProjectionRunner } from '../projections/projection-runner';
import { sendReadPositions } from '../projections/read-positions';
import { commandMetadata, correlationIdOf } from '../requests/request-metadata';
import { ClaimListings } from './claim-listings';
import { ClaimObserver, Claims, createClaims } from './claims';
import { sponsorKeyLoader } from './sponsor-key';

/**
 * Claims of web3 epochs. A wallet's claim and its sponsored claim are public, like an airdrop's API: the wallet's own
 * signature is what authenticates a sponsored claim, and the unsigned transaction is worthless to anyone else.
 */
@Controller('epochs/:epoch/claims')
export class ClaimsController {
  constructor(
    private readonly claims: Claims,
    private readonly listings: ClaimListings,
  ) {}

  /**
   * Every leaf claimed or not, and totals: `?limit=` (up to 1000) and `?offset=`. From the read models, the chain
   * observed first when it was not within the last 30 s (`X-Claims-Observed-At`; src/claims/claim-listings.ts).
   */
  @Get()
  @Roles('operator', 'auditor')
  async list(
    @Param('epoch', EpochParam) epoch: number,
    @Req() request: AuthenticatedRequest,
    @Res({ passthrough: true }) response: { setHeader(name: string, value: string): void },
    @Query('limit') limit?: string,
    @Query('offset') offset?: string,
  ) {
    const page = { limit: pageNumber('limit', limit, 100, 1, 1000), offset: pageNumber('offset', offset, 0, 0, 1_000_000_000) };
    const { body, positions, observedAt } = await this.listings.list(epoch, page, commandMetadata(request, `observe-${epoch}-${randomUUID()}`));
    sendReadPositions(response, positions);
    response.setHeader('X-Claims-Observed-At', observedAt.toISOString());
    return body;
  }

  /** The wallet's claim and the unsigned transaction that claims it; `?sponsored=true`: one whose fee and rent the sponsor pays. */
  @Get(':wallet')
  async claim(@Param('epoch', EpochParam) epoch: number, @Param('wallet', PublicKeyParam) wallet: string, @Query('sponsored') sponsored?: unknown) {
    if (sponsored !== undefined && sponsored !== 'true' && sponsored !== 'false') reject('invalid', 'sponsored', 'must be true or false');
    return this.claims.claimFor(epoch, wallet, sponsored === 'true');
  }

  /** The sponsored transaction signed by the wallet (`{ transaction: base64 }`): checked, co-signed by the sponsor, sent and confirmed. */
  @Post(':wallet/sponsored')
  @HttpCode(200)
  @ApiCommand({
    summary: 'Submit a sponsored claim the wallet signed: checked, co-signed by the sponsor, sent and confirmed (public)',
    body: Schema.object({
      transaction: { type: 'string', format: 'byte', minLength: 1, description: 'The transaction of GET ?sponsored=true, signed by the wallet, base64' },
    }),
    status: 200,
    answers: 'The confirmed claim and what the sponsor paid (the same transaction again: the same answer)',
    errors: [404, 409, 503],
  })
  async sponsored(@Param('epoch', EpochParam) epoch: number, @Param('wallet', PublicKeyParam) wallet: string, @Body() body: unknown, @Req() request: Request) {
    return this.claims.submitSponsored(epoch, wallet, body, { actor: `wallet:${String(wallet).slice(0, 44)}`, correlationId: correlationIdOf(request) });
  }
}

const CLAIMS = Symbol('claims');

/** The claims capability; exports ClaimObserver for verification and clawback. */
@Module({
  controllers: [ClaimsController],
  providers: [
    {
      provide: CLAIMS,
      inject: [EVENT_STORE, CHAIN_GATEWAY, ProjectionReader, APP_CONFIG],
      useFactory: (store: EventStore, chain: ChainGateway, reader: ProjectionReader, config: AppConfig) =>
        createClaims({ store, chain, reader, sponsorKey: sponsorKeyLoader(config) }),
    },
    { provide: Claims, inject: [CLAIMS], useFactory: (composed: ReturnType<typeof createClaims>) => composed.claims },
    { provide: ClaimObserver, inject: [CLAIMS], useFactory: (composed: ReturnType<typeof createClaims>) => composed.observer },
    {
      provide: ClaimListings,
      inject: [EVENT_STORE, ProjectionReader, ProjectionRunner, ClaimObserver],
      useFactory: (store: EventStore, reader: ProjectionReader, runner: ProjectionRunner, observer: ClaimObserver) =>
        new ClaimListings({ store, reader, runner, observer }),
    },
  ],
  exports: [Claims, ClaimObserver],
})
export class ClaimsModule {}
