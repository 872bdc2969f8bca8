import type { DynamicModule, ExecutionContext } from '@nestjs/common';
import { ThrottlerModule } from '@nestjs/throttler';
import type { AuthenticatedRequest } from '../auth/api-key.guard';
import type { AppConfig } from '../config/config';
import { rolesOf } from './routes';

/** SYNQ_PUBLIC_RATE_LIMIT's default: requests a minute, per client address and public route. */
export const DEFAULT_PUBLIC_RATE_LIMIT = 600;

/**
 * @nestjs/throttler over the public routes only (those without `@Roles`: health, metrics, a wallet's claim and its
 * sponsored claim): at most `config.publicRateLimit` requests a minute per client address and route, then 429
 * problem+json with Retry-After. Routes that need a key, and callers presenting a valid one, are not limited here (a
 * key is accountable; it can be revoked). `0` turns the limit off (a proxy in front limits instead). Clients are told apart by address: behind a
 * reverse proxy, every client is the proxy's address and shares one budget per route.
 */
export function publicRateLimitModule(config: AppConfig): DynamicModule {
  const limit = config.publicRateLimit ?? DEFAULT_PUBLIC_RATE_LIMIT;
  return ThrottlerModule.forRoot({
    throttlers: [{ name: 'default', ttl: 60_000, limit: Math.max(limit, 1) }],
    skipIf: (context: ExecutionContext) =>
      limit === 0 ||
      rolesOf(context.getHandler(), context.getClass()) !== undefined ||
      // A caller with a valid key (a monitor asking /health in detail) is accountable: not limited either.
      context.switchToHttp().getRequest<Partial<AuthenticatedRequest>>().principal !== undefined,
    errorMessage: (_context, detail) =>
      `too many requests to this public route: at most ${detail.limit} a minute from one client; try again in ${detail.timeToBlockExpire} s`,
  });
}
