import { Body, Controller, HttpCode, Inject, Module, Post, Req, Res, type DynamicModule } from '@nestjs/common';
import { ApiBody, ApiOperation, ApiResponse } from '@nestjs/swagger';
import { SkipThrottle } from '@nestjs/throttler';
import type { Request, Response } from 'express';
import type { ChainGateway } from '../chain/chain-gateway';
import { EmbeddedChain } from '../chain/embedded-chain';
import { EmbeddedRpc, failure, INVALID_REQUEST } from '../chain/embedded-rpc';
import { AnyJsonBody } from '../requests/any-json-body';

/** A JSON-RPC request body larger than this is refused (a batch of 100 getMultipleAccounts of 100 keys is ~500 KB). */
export const CHAIN_RPC_BODY_LIMIT = 1024 * 1024;

/**
 * `POST /chain/rpc`: Solana's JSON-RPC over the embedded chain, public like a cluster's endpoint (no API key; the
 * server listens on 127.0.0.1 only). Every answer is JSON-RPC, with HTTP 200, errors included. Not rate limited
 * (src/http/public-rate-limit.ts): it stands for a cluster's endpoint, which wallets' libraries poll many times a second.
 */
@SkipThrottle()
@Controller('chain')
export class ChainRpcController {
  constructor(@Inject(EmbeddedRpc) private readonly rpc: EmbeddedRpc) {}

  @Post('rpc')
  @HttpCode(200)
  @AnyJsonBody()
  @ApiOperation({ summary: "Solana's JSON-RPC over the embedded chain (public); every answer is JSON-RPC, errors included" })
  @ApiBody({
    required: true,
    schema: {
      oneOf: [{ $ref: '#/components/schemas/JsonRpcRequest' }, { type: 'array', minItems: 1, items: { $ref: '#/components/schemas/JsonRpcRequest' } }],
    },
  })
  @ApiResponse({ status: 200, description: 'A JSON-RPC answer (a result or an error), or an array of them for a batch' })
  @ApiResponse({ status: 204, description: 'Only notifications: nothing to answer' })
  @ApiResponse({ status: 413, description: 'A body over 1 MB: a JSON-RPC error' })
  async rpcCall(@Body() body: unknown, @Req() request: Request, @Res({ passthrough: true }) response: Response): Promise<unknown> {
    const length = Number(request.header('content-length') ?? 0);
    if (length > CHAIN_RPC_BODY_LIMIT) {
      response.status(413);
      return failure(null, INVALID_REQUEST, `Invalid request: the body is ${length} bytes, more than ${CHAIN_RPC_BODY_LIMIT}`);
    }
    const answer = await this.rpc.handle(body);
    // Only notifications: nothing to answer.
    if (answer === undefined) response.status(204);
    return answer;
  }
}

/** Registered by the application only while the engine runs the embedded chain (a cluster has its own RPC). */
@Module({})
export class ChainRpcModule {
  static forRoot(chain: ChainGateway): DynamicModule {
    if (!(chain instanceof EmbeddedChain)) return { module: ChainRpcModule };
    return { module: ChainRpcModule, controllers: [ChainRpcController], providers: [{ provide: EmbeddedRpc, useValue: new EmbeddedRpc(chain) }] };
  }
}
