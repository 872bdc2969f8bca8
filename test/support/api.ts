import { Logger } from '@nestjs/common';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { DestinationStream } from 'pino';
import { createApiKey } from '../../src/auth/api-keys';
import type { AppConfig } from '../../src/config/config';
import { startEngine, type RunningEngine } from '../../src/engine';
import { createJsonLogger } from '../../src/observability/json-logger';
import { createTestDatabase, type TestDatabase } from './database';

Logger.overrideLogger(['error', 'warn']);

export interface TestApi {
  engine: RunningEngine;
  /** The test database, for command-line tools run against it. */
  databaseUrl: string;
  keys: { operator: string; ingest: string; auditor: string; developer: string };
  /** SYNQ_DATA_DIR of this engine (the treasury keypair). */
  dataDir: string;
  /** A JSON request; `key` undefined sends none. Bodies are whatever JSON the API answered, checked by each test. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  call(method: string, path: string, key: string | undefined, body?: unknown): Promise<{ status: number; body: any; contentType: string; headers: Headers }>;
  close(): Promise<void>;
}

/** The real engine on a fresh database, over real HTTP, with one key per role; `logs`: JSON logs (pino) written there. */
export async function startTestApi(options: { logs?: DestinationStream; config?: Partial<AppConfig> } = {}): Promise<TestApi> {
  const db: TestDatabase = await createTestDatabase({ migrated: false });
  // The treasury keypair of the embedded chain lives here.
  const dataDir = mkdtempSync(path.join(tmpdir(), 'synq-test-'));
  const engine = await startEngine(
    { databaseUrl: db.url, eventStoreConnectionString: undefined, port: 0, dataDir, ...options.config },
    new Logger('api-test'),
    {
      frameworkLogs: false,
      ...(options.logs ? { jsonLogger: createJsonLogger({ destination: options.logs }) } : {}),
    },
  );
  const keys = {
    operator: (await createApiKey(engine, 'operator')).key,
    ingest: (await createApiKey(engine, 'ingest')).key,
    auditor: (await createApiKey(engine, 'auditor')).key,
    developer: (await createApiKey(engine, 'developer', 'dev1')).key,
  };
  return {
    engine,
    databaseUrl: db.url,
    keys,
    dataDir,
    async call(method, path, key, body) {
      const response = await fetch(`${engine.url}${path}`, {
        method,
        headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
      });
      const text = await response.text();
      return {
        status: response.status,
        body: text ? JSON.parse(text) : undefined,
        contentType: response.headers.get('content-type') ?? '',
        headers: response.headers,
      };
    },
    async close() {
      await engine.stop();
      await db.drop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
