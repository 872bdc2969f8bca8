import { Body, Controller, Get, HttpCode, Inject, Module, Param, Post, Req } from '@nestjs/common';
import { reject } from '../../domain/rejection';
import { Database } from '../database/database';
import { EVENT_STORE, type EventStore } from '../event-store/event-store';
import { ApiCommand, ApiRead, Schema } from '../openapi/openapi';
import { IdParam } from '../requests/parameters';
import { Roles, type AuthenticatedRequest } from '../auth/api-key.guard';
import { createApiKey, KEY_ID_PATTERN, listApiKeys, revokeApiKey, ROLES, type KeyBooks, type Role } from '../auth/api-keys';

/**
 * The operator's API for API keys, the same use cases as `synq keys create|list|revoke` (src/auth/api-keys.ts). A
 * listing never shows a secret; a new key's secret is in the creation's answer only.
 */
@Controller('keys')
@Roles('operator')
export class KeysController {
  private readonly books: KeyBooks;

  constructor(database: Database, @Inject(EVENT_STORE) store: EventStore) {
    this.books = { pool: database.pool, store };
  }

  @Get()
  @ApiRead({ summary: 'Every API key: id, role, developer, created, last used, revoked; never a secret', answers: '{ keys: [...] }, oldest first' })
  async list() {
    return { keys: await listApiKeys(this.books.pool) };
  }

  /** `{ role, developerId? }`: answers 201 with the key, shown this once. */
  @Post()
  @ApiCommand({
    summary: 'Create an API key: the answer holds it, the only time it is shown',
    body: Schema.object({ role: Schema.oneOf(ROLES, 'What the key may do'), developerId: Schema.id('With role developer only: the developer it acts for') }, [
      'role',
    ]),
    status: 201,
    answers: 'The key as listed, and `key`: the key itself',
  })
  async create(@Body() body: { role?: unknown; developerId?: unknown } | undefined, @Req() request: AuthenticatedRequest) {
    const role = body?.role;
    if (typeof role !== 'string' || !(ROLES as readonly string[]).includes(role)) reject('invalid', 'role', `must be one of ${ROLES.join(', ')}`);
    const developerId = body?.developerId;
    if (developerId !== undefined && typeof developerId !== 'string') reject('invalid', 'developerId', 'must be a developer id');
    const { keyId, key } = await createApiKey(this.books, role as Role, developerId, actorOf(request));
    const [listing] = await listApiKeys(this.books.pool, keyId);
    return { ...listing, key };
  }

  /** `{ reason? }`: the key is refused from the next request on, by every engine process; revoking again changes nothing. */
  @Post(':id/revoke')
  @HttpCode(200)
  @ApiCommand({
    summary: 'Revoke an API key: refused by every engine process from the next request on (again: nothing changes)',
    body: Schema.object({ reason: Schema.text(200) }, []),
    status: 200,
    answers: 'The key as listed, revokedAt set',
    errors: [404],
  })
  async revoke(@Param('id', IdParam) id: string, @Body() body: { reason?: unknown } | undefined, @Req() request: AuthenticatedRequest) {
    if (!KEY_ID_PATTERN.test(id)) reject('not_found', 'keyId', `no API key has the id ${id}`);
    return revokeApiKey(this.books, id, body?.reason as string | undefined, actorOf(request));
  }
}

const actorOf = (request: AuthenticatedRequest) => `api-key:${request.principal.keyId}`;

@Module({ controllers: [KeysController] })
export class KeysModule {}
