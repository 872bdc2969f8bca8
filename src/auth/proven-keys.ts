import { SetMetadata } from '@nestjs/common';
import { createHash, timingSafeEqual } from 'node:crypto';
import { Client, type ClientConfig, type Pool } from 'pg';
import { authenticate, LAST_USED_EVERY_MS, parseApiKey, touchLastUsed, type ApiKeyPrincipal } from './api-keys';

export const PUBLISHED_DATA_KEY = 'synq:published-data';

/**
 * A route whose answer is published data (a recorded distribution's proof: its root is on chain and its proofs are
 * served without a key at /epochs/{n}/claims/{wallet}). Its key may be proven from memory (ProvenKeys): a key revoked
 * a few milliseconds ago reading a public proof discloses nothing, while every other route still looks the key up on
 * each request, so that a revocation holds at once wherever it matters.
 */
export const PublishedData = () => SetMetadata(PUBLISHED_DATA_KEY, true);

/** The channel migrations/014 notifies on every revocation (or deletion) of a key, with the key id. */
const CHANNEL = 'synq_api_keys';

interface Proven {
  principal: ApiKeyPrincipal;
  secretSha256: Buffer;
  provenAt: number;
  touchedAt: number;
}

/**
 * Keys proven recently, kept in memory while this process LISTENs for revocations: a revocation's notification
 * (sent by PostgreSQL at its commit, migrations/014) drops the key here, and so does the loss of the listening
 * connection (everything is dropped, and nothing is kept until it listens again). A lookup that was in flight when a
 * revocation arrived is not kept (a generation count), so a stale answer can never be cached. Entries also expire
 * after `maxAgeMs`, and at most `maxEntries` are kept (the oldest go first).
 */
export class ProvenKeys {
  private readonly proven = new Map<string, Proven>();
  private generation = 0;
  private client: Client | undefined;
  private listening = false;
  private closed = false;
  private retry: NodeJS.Timeout | undefined;

  constructor(
    private readonly pool: Pool,
    private readonly connection: ClientConfig,
    private readonly maxAgeMs = 60_000,
    private readonly maxEntries = 10_000,
  ) {}

  /** Starts listening; resolves once it does (or could not: then every lookup goes to the database, and it retries). */
  async start(): Promise<void> {
    if (this.maxAgeMs <= 0) return;
    await this.listen().catch(() => this.retryLater());
  }

  private async listen(): Promise<void> {
    if (this.closed) return;
    const client = new Client(this.connection);
    const lost = () => {
      if (this.client !== client) return;
      this.forgetAll();
      this.client = undefined;
      client.end().catch(() => undefined);
      this.retryLater();
    };
    client.on('error', lost);
    client.on('end', lost);
    client.on('notification', (message) => {
      this.generation++;
      if (message.payload) this.proven.delete(message.payload);
    });
    this.client = client;
    try {
      await client.connect();
      await client.query(`LISTEN ${CHANNEL}`);
    } catch (error) {
      this.client = undefined;
      await client.end().catch(() => undefined);
      throw error;
    }
    if (this.closed) return void (await client.end().catch(() => undefined));
    this.listening = true;
  }

  private retryLater(): void {
    if (this.closed || this.retry) return;
    this.retry = setTimeout(() => {
      this.retry = undefined;
      this.listen().catch(() => this.retryLater());
    }, 1_000);
    this.retry.unref();
  }

  private forgetAll(): void {
    this.listening = false;
    this.generation++;
    this.proven.clear();
  }

  /** The key's principal, from memory when proven recently and this process is listening, else from the database. */
  async authenticate(key: string): Promise<ApiKeyPrincipal | undefined> {
    const parsed = parseApiKey(key);
    if (!parsed) return undefined;
    const now = Date.now();
    const secretSha256 = createHash('sha256').update(parsed.secret).digest();
    const hit = this.listening ? this.proven.get(parsed.keyId) : undefined;
    if (hit && now - hit.provenAt < this.maxAgeMs && timingSafeEqual(hit.secretSha256, secretSha256)) {
      if (now - hit.touchedAt >= LAST_USED_EVERY_MS) {
        hit.touchedAt = now;
        touchLastUsed(this.pool, parsed.keyId);
      }
      return hit.principal;
    }
    const generation = this.generation;
    const principal = await authenticate(this.pool, key);
    if (principal && this.listening && generation === this.generation) {
      this.proven.delete(parsed.keyId);
      if (this.proven.size >= this.maxEntries) this.proven.delete(this.proven.keys().next().value as string);
      this.proven.set(parsed.keyId, { principal, secretSha256, provenAt: now, touchedAt: now });
    }
    return principal;
  }

  /** How many keys are held (for tests and /metrics). */
  get size(): number {
    return this.proven.size;
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.retry) clearTimeout(this.retry);
    const client = this.client;
    this.client = undefined;
    this.forgetAll();
    await client?.end().catch(() => undefined);
  }
}
