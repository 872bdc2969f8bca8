import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Pool } from 'pg';

export const ROLES = ['operator', 'ingest', 'developer', 'auditor'] as const;
export type Role = (typeof ROLES)[number];

export interface ApiKeyPrincipal {
  keyId: string;
  role: Role;
  developerId: string | null;
}

const KEY_PATTERN = /^synq_([a-z0-9]{12})_([A-Za-z0-9_-]{43})$/;

/** Creates a key; the returned secret is the only copy (only its SHA-256 is stored). */
export async function createApiKey(pool: Pool, role: Role, developerId?: string): Promise<{ keyId: string; key: string }> {
  if (!ROLES.includes(role)) throw new Error(`role must be one of ${ROLES.join(', ')}`);
  if ((role === 'developer') !== (developerId !== undefined)) throw new Error('a developer key needs --developer ID, and only a developer key takes one');
  const keyId = randomBytes(9)
    .toString('base64url')
    .toLowerCase()
    .replace(/[^a-z0-9]/g, '0')
    .slice(0, 12);
  const secret = randomBytes(32).toString('base64url');
  await pool.query('INSERT INTO api_keys (key_id, role, developer_id, secret_sha256) VALUES ($1, $2, $3, $4)', [
    keyId,
    role,
    developerId ?? null,
    sha256(secret),
  ]);
  return { keyId, key: `synq_${keyId}_${secret}` };
}

/** The key's principal, or undefined for a malformed, unknown or revoked key. */
export async function authenticate(pool: Pool, key: string): Promise<ApiKeyPrincipal | undefined> {
  const match = KEY_PATTERN.exec(key);
  if (!match) return undefined;
  const { rows } = await pool.query<{ role: Role; developer_id: string | null; secret_sha256: Buffer }>(
    'SELECT role, developer_id, secret_sha256 FROM api_keys WHERE key_id = $1 AND revoked_at IS NULL',
    [match[1]],
  );
  const row = rows[0];
  if (!row || !timingSafeEqual(row.secret_sha256, sha256(match[2]))) return undefined;
  return { keyId: match[1], role: row.role, developerId: row.developer_id };
}

const sha256 = (text: string) => createHash('sha256').update(text).digest();
