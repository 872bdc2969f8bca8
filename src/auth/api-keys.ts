import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type { Pool } from 'pg';
import { API_KEY_ROLES, apiKeyDecider, type ApiKeyRole } from '../../domain/api-key';
import { reject } from '../../domain/rejection';
import { decideAndAppend, type CommandMetadata } from '../commands/streams';
import type { EventStore } from '../event-store/event-store';

export const ROLES = API_KEY_ROLES;
export type Role = ApiKeyRole;

export interface ApiKeyPrincipal {
  keyId: string;
  role: Role;
  developerId: string | null;
}

/** A key as listed: never its secret (only its SHA-256 is stored anyway). */
export interface ApiKeyListing {
  keyId: string;
  role: Role;
  developerId: string | null;
  createdAt: string;
  /** Within a minute: the time is written at most once a minute per key, not on every request. */
  lastUsedAt: string | null;
  revokedAt: string | null;
}

/** Where keys live: the `api_keys` table (authentication reads it) and the event store (each key's life, `apikey-<id>`). */
export interface KeyBooks {
  pool: Pool;
  store: EventStore;
}

/** The books themselves, or a running engine (its database's pool and its event store). */
export type KeyBooksOf = KeyBooks | { database: { pool: Pool }; eventStore: EventStore };
const booksOf = (source: KeyBooksOf): KeyBooks => ('pool' in source ? source : { pool: source.database.pool, store: source.eventStore });

const KEY_PATTERN = /^synq_([a-z0-9]{12})_([A-Za-z0-9_-]{43})$/;
export const KEY_ID_PATTERN = /^[a-z0-9]{12}$/;
/** `last_used_at` is written at most this often per key. */
export const LAST_USED_EVERY_MS = 60_000;

/**
 * Creates a key; the returned secret is the only copy (only its SHA-256 is stored). `ApiKeyCreated` is appended first,
 * then the row is inserted (idempotently): a key is usable only once its creation is recorded, and a crash between the
 * two leaves a recorded creation of a key that never worked and whose secret nobody saw.
 */
export async function createApiKey(source: KeyBooksOf, role: Role, developerId?: string, actor = 'cli'): Promise<{ keyId: string; key: string }> {
  const books = booksOf(source);
  const keyId = randomBytes(9)
    .toString('base64url')
    .toLowerCase()
    .replace(/[^a-z0-9]/g, '0')
    .slice(0, 12);
  const secret = randomBytes(32).toString('base64url');
  const at = new Date().toISOString();
  await decideAndAppend(
    books.store,
    apiKeyDecider,
    keyId,
    (state) => apiKeyDecider.decide({ type: 'CreateApiKey', data: { keyId, role, developerId, at } }, state),
    metadataFor(actor),
  );
  await books.pool.query(
    'INSERT INTO api_keys (key_id, role, developer_id, secret_sha256, created_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (key_id) DO NOTHING',
    [keyId, role, developerId ?? null, sha256(secret), at],
  );
  return { keyId, key: `synq_${keyId}_${secret}` };
}

/**
 * Revokes a key, at once for every process: the row is marked first (authentication reads it on every request), then
 * `ApiKeyRevoked` is appended. Both steps are idempotent, so a crash between them is mended by revoking again (the
 * event is then recorded; the row keeps its first revocation time). Revoking a revoked key changes nothing.
 */
export async function revokeApiKey(source: KeyBooksOf, keyId: string, reason: string | undefined, actor = 'cli'): Promise<ApiKeyListing> {
  const books = booksOf(source);
  if (!KEY_ID_PATTERN.test(keyId)) reject('invalid', 'keyId', 'must be a key id: 12 lowercase letters or digits (as synq keys list shows)');
  const { rows } = await books.pool.query<{ revoked_at: Date }>(
    'UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE key_id = $1 RETURNING revoked_at',
    [keyId],
  );
  if (rows.length === 0) reject('not_found', 'keyId', `no API key has the id ${keyId}`);
  await decideAndAppend(
    books.store,
    apiKeyDecider,
    keyId,
    (state) => apiKeyDecider.decide({ type: 'RevokeApiKey', data: { keyId, reason, at: rows[0].revoked_at.toISOString(), known: true } }, state),
    metadataFor(actor),
  );
  return (await listApiKeys(books.pool, keyId))[0];
}

/** Every key (or the one named), oldest first; never a secret. */
export async function listApiKeys(pool: Pool, keyId?: string): Promise<ApiKeyListing[]> {
  const { rows } = await pool.query<{
    key_id: string;
    role: Role;
    developer_id: string | null;
    created_at: Date;
    last_used_at: Date | null;
    revoked_at: Date | null;
  }>(
    `SELECT key_id, role, developer_id, created_at, last_used_at, revoked_at FROM api_keys
      WHERE $1::text IS NULL OR key_id = $1 ORDER BY created_at, key_id`,
    [keyId ?? null],
  );
  return rows.map((row) => ({
    keyId: row.key_id,
    role: row.role,
    developerId: row.developer_id,
    createdAt: row.created_at.toISOString(),
    lastUsedAt: row.last_used_at?.toISOString() ?? null,
    revokedAt: row.revoked_at?.toISOString() ?? null,
  }));
}

/**
 * The key's principal, or undefined for a malformed, unknown or revoked key. One primary-key lookup per call, nothing
 * cached: a key revoked by any process is refused by the next request everywhere. `last_used_at` is brought up to
 * date in the background when it is more than a minute old (a write per key per minute, not per request).
 */
export async function authenticate(pool: Pool, key: string): Promise<ApiKeyPrincipal | undefined> {
  const match = KEY_PATTERN.exec(key);
  if (!match) return undefined;
  const { rows } = await pool.query<{ role: Role; developer_id: string | null; secret_sha256: Buffer; stale: boolean }>(
    `SELECT role, developer_id, secret_sha256,
            (last_used_at IS NULL OR last_used_at < now() - make_interval(secs => $2)) AS stale
       FROM api_keys WHERE key_id = $1 AND revoked_at IS NULL`,
    [match[1], LAST_USED_EVERY_MS / 1000],
  );
  const row = rows[0];
  if (!row || !timingSafeEqual(row.secret_sha256, sha256(match[2]))) return undefined;
  if (row.stale) touchLastUsed(pool, match[1]);
  return { keyId: match[1], role: row.role, developerId: row.developer_id };
}

/** A key's id and secret, or undefined when it is not of the shape `synq_<id>_<secret>`. */
export function parseApiKey(key: string): { keyId: string; secret: string } | undefined {
  const match = KEY_PATTERN.exec(key);
  return match ? { keyId: match[1], secret: match[2] } : undefined;
}

/** Keys whose `last_used_at` this process is writing: one write in flight per key. */
const touching = new Set<string>();

/** Brings `last_used_at` up to date in the background when it is more than a minute old. */
export function touchLastUsed(pool: Pool, keyId: string): void {
  if (touching.has(keyId)) return;
  touching.add(keyId);
  pool
    .query(
      `UPDATE api_keys SET last_used_at = now()
        WHERE key_id = $1 AND (last_used_at IS NULL OR last_used_at < now() - make_interval(secs => $2))`,
      [keyId, LAST_USED_EVERY_MS / 1000],
    )
    // Only a convenience for the listing: a failed write (the pool closing) is retried by a later request.
    .catch(() => undefined)
    .finally(() => touching.delete(keyId));
}

function metadataFor(actor: string): CommandMetadata {
  const id = randomUUID();
  return { actor, correlationId: id, commandId: id };
}

const sha256 = (text: string) => createHash('sha256').update(text).digest();
