import type { Decider } from './decider';
import { reject, repeatsRecorded } from './rejection';
import { Checks } from './values';

/**
 * An API key's life, as events (never its secret): created with a role (and the developer a developer key acts for),
 * then possibly revoked, for good. Stream `apikey-<keyId>`. The `api_keys` table is what authentication reads; these
 * events are the record of who created and revoked which key, and when.
 */

export const API_KEY_ROLES = ['operator', 'ingest', 'developer', 'auditor'] as const;
export type ApiKeyRole = (typeof API_KEY_ROLES)[number];

export type ApiKeyEvent =
  | { type: 'ApiKeyCreated'; data: { keyId: string; role: ApiKeyRole; developerId: string | null; createdAt: string } }
  | { type: 'ApiKeyRevoked'; data: { keyId: string; reason: string; revokedAt: string } };

export interface ApiKeyState {
  keyId: string;
  /** Undefined for a key created before key events were recorded (revoked all the same). */
  role?: ApiKeyRole;
  developerId?: string | null;
  createdAt?: string;
  revokedAt?: string;
}

export const apiKeyStream = (keyId: string) => `apikey-${keyId}`;
const KEY_ID = /^[a-z0-9]{12}$/;

export function evolveApiKey(state: ApiKeyState | undefined, event: ApiKeyEvent): ApiKeyState | undefined {
  switch (event.type) {
    case 'ApiKeyCreated':
      return { keyId: event.data.keyId, role: event.data.role, developerId: event.data.developerId, createdAt: event.data.createdAt };
    case 'ApiKeyRevoked':
      return { ...(state ?? { keyId: event.data.keyId }), revokedAt: event.data.revokedAt };
  }
}

/** `at`: when, as the caller's clock says (ISO); the keyId is made by the caller (random). */
export function createKey(state: ApiKeyState | undefined, command: { keyId: string; role: unknown; developerId?: unknown; at: string }): ApiKeyEvent[] {
  const checks = new Checks();
  if (!KEY_ID.test(command.keyId)) checks.add('keyId', 'must be 12 lowercase letters or digits');
  const role = API_KEY_ROLES.includes(command.role as ApiKeyRole) ? (command.role as ApiKeyRole) : undefined;
  if (!role) checks.add('role', `must be one of ${API_KEY_ROLES.join(', ')}`);
  const developerId = command.developerId === undefined || command.developerId === null ? null : checks.id('developerId', command.developerId);
  if (role === 'developer' && developerId === null) checks.add('developerId', 'a developer key needs the developer it acts for');
  if (role !== undefined && role !== 'developer' && developerId !== null) checks.add('developerId', `goes with the developer role only, not ${role}`);
  checks.done();
  if (state) {
    repeatsRecorded(
      `API key ${command.keyId}`,
      { role: String(state.role), developerId: String(state.developerId) },
      { role: String(role), developerId: String(developerId) },
    );
    return [];
  }
  return [{ type: 'ApiKeyCreated', data: { keyId: command.keyId, role: role!, developerId, createdAt: command.at } }];
}

/** Revoking a revoked key is a no-op; `known`: the key exists (the table says so) even if its creation was never recorded. */
export function revokeKey(state: ApiKeyState | undefined, command: { keyId: string; reason?: unknown; at: string; known: boolean }): ApiKeyEvent[] {
  const checks = new Checks();
  const reason = command.reason === undefined ? 'revoked' : checks.text('reason', command.reason, 200);
  checks.done();
  if (!state && !command.known) reject('not_found', 'keyId', `no API key has the id ${command.keyId}`);
  if (state?.revokedAt !== undefined) return [];
  return [{ type: 'ApiKeyRevoked', data: { keyId: command.keyId, reason, revokedAt: command.at } }];
}

export type ApiKeyCommand =
  | { type: 'CreateApiKey'; data: { keyId: string; role: unknown; developerId?: unknown; at: string } }
  | { type: 'RevokeApiKey'; data: { keyId: string; reason?: unknown; at: string; known: boolean } };

/** One API key, by its id: `apikey-<keyId>`. */
export const apiKeyDecider: Decider<ApiKeyState | undefined, ApiKeyEvent, ApiKeyCommand, string> = {
  streamOf: apiKeyStream,
  initial: () => undefined,
  evolve: evolveApiKey,
  decide(command, state) {
    switch (command.type) {
      case 'CreateApiKey':
        return createKey(state, command.data);
      case 'RevokeApiKey':
        return revokeKey(state, command.data);
    }
  },
};
