import { SetMetadata, UnauthorizedException, ForbiddenException, Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request } from 'express';
import { Database } from '../database/database';
import { authenticate, type ApiKeyPrincipal, type Role } from './api-keys';

const ROLES_KEY = 'synq:roles';
/** The roles allowed on a route; routes without it are public (health, docs). */
export const Roles = (...roles: Role[]) => SetMetadata(ROLES_KEY, roles);

export type AuthenticatedRequest = Request & { principal: ApiKeyPrincipal };

/** 401 without a valid key (header `Authorization: Bearer <key>` or `X-Api-Key`), 403 for a role the route does not allow. */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly database: Database,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const roles = this.reflector.getAllAndOverride<Role[] | undefined>(ROLES_KEY, [context.getHandler(), context.getClass()]);
    if (!roles) return true;
    const request = context.switchToHttp().getRequest<AuthenticatedRequest>();
    const header = request.header('authorization');
    const key = header?.startsWith('Bearer ') ? header.slice(7).trim() : request.header('x-api-key');
    const principal = key ? await authenticate(this.database.pool, key) : undefined;
    if (!principal) throw new UnauthorizedException('a valid API key is required (Authorization: Bearer <key>)');
    if (!roles.includes(principal.role)) throw new ForbiddenException(`the ${principal.role} role may not do this; allowed: ${roles.join(', ')}`);
    request.principal = principal;
    return true;
  }
}
