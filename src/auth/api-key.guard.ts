import { applyDecorators, SetMetadata, UnauthorizedException, ForbiddenException, Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request } from 'express';
import { Database } from '../database/database';
import { ApiKeyRoles } from '../openapi/openapi';
import { authenticate, type ApiKeyPrincipal, type Role } from './api-keys';

export const ROLES_KEY = 'synq:roles';
/** The roles allowed on a route; routes without it are public (health, docs). Documented in OpenAPI (bearer, 401, 403). */
export const Roles = (...roles: Role[]) => applyDecorators(SetMetadata(ROLES_KEY, roles), ApiKeyRoles(roles));

export type AuthenticatedRequest = Request & { principal: ApiKeyPrincipal };

/** The key a request presents: `Authorization: Bearer <key>`, else `X-Api-Key`. */
export function presentedKey(request: Request): string | undefined {
  const header = request.header('authorization');
  return header?.startsWith('Bearer ') ? header.slice(7).trim() : request.header('x-api-key');
}

/** 401 without a valid key (header `Authorization: Bearer <key>` or `X-Api-Key`), 403 for a role the route does not allow. */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly database: Database,
  ) {}

  /**
   * Nothing is cached here: every request costs one primary-key lookup (test/keys.test.ts prints its cost: 1.3 ms on a
   * loaded 2-core test machine), so that a key revoked by any process is refused by the very next request, here and
   * everywhere. (Only routes of published data take a key proven from memory, in src/http/authenticate-first.ts.)
   */
  private principalOf(key: string): Promise<ApiKeyPrincipal | undefined> {
    return authenticate(this.database.pool, key);
  }

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const roles = this.reflector.getAllAndOverride<Role[] | undefined>(ROLES_KEY, [context.getHandler(), context.getClass()]);
    if (!roles) return true;
    const request = context.switchToHttp().getRequest<AuthenticatedRequest>();
    const key = presentedKey(request);
    // Usually proven already, before the body was read (src/http/authenticate-first.ts).
    const principal = (request as Partial<AuthenticatedRequest>).principal ?? (key ? await this.principalOf(key) : undefined);
    if (!principal) throw new UnauthorizedException('a valid API key is required (Authorization: Bearer <key>)');
    if (!roles.includes(principal.role)) throw new ForbiddenException(`the ${principal.role} role may not do this; allowed: ${roles.join(', ')}`);
    request.principal = principal;
    return true;
  }
}
