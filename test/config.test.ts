import * as path from 'node:path';
import { ConfigError, loadConfig, redactUrl } from '../src/config/config';

describe('configuration', () => {
  it('defaults to the embedded database in ./.synq on port 3000', () => {
    expect(loadConfig({}, '/srv/engine')).toEqual({
      databaseUrl: undefined,
      eventStoreConnectionString: undefined,
      port: 3000,
      dataDir: path.resolve('/srv/engine', '.synq'),
      solanaRpcUrl: undefined,
      solanaCommitment: 'confirmed',
      treasuryKeypairPath: undefined,
    });
  });

  it('reads every variable', () => {
    const config = loadConfig(
      {
        DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/test',
        EVENTSTORE_CONNECTION_STRING: 'esdb://127.0.0.1:2113?tls=false',
        PORT: '8080',
        SYNQ_DATA_DIR: '/var/lib/synq',
        SOLANA_RPC_URL: 'http://127.0.0.1:8899',
        SOLANA_COMMITMENT: 'finalized',
        SYNQ_TREASURY_KEYPAIR: 'keys/treasury.json',
        SYNQ_SPONSOR_KEYPAIR: 'keys/sponsor.json',
      },
      '/srv',
    );
    expect(config).toEqual({
      databaseUrl: 'postgres://postgres@127.0.0.1:5432/test',
      eventStoreConnectionString: 'esdb://127.0.0.1:2113?tls=false',
      port: 8080,
      dataDir: '/var/lib/synq',
      solanaRpcUrl: 'http://127.0.0.1:8899',
      solanaCommitment: 'finalized',
      treasuryKeypairPath: '/srv/keys/treasury.json',
      sponsorKeypairPath: '/srv/keys/sponsor.json',
    });
  });

  it('reports every bad value at once, naming the variable and the reason', () => {
    let error: unknown;
    try {
      loadConfig({
        DATABASE_URL: 'mysql://db/x',
        EVENTSTORE_CONNECTION_STRING: 'http://es',
        PORT: '70000',
        SOLANA_RPC_URL: 'devnet',
        SOLANA_COMMITMENT: 'max',
      });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems).toEqual([
      'DATABASE_URL: must use the postgres:// or postgresql:// scheme, got "mysql://"',
      'EVENTSTORE_CONNECTION_STRING: must be a connection string such as esdb://host:2113?tls=false',
      'PORT: must be a whole number from 0 to 65535, got "70000"',
      'SOLANA_RPC_URL: must be an http(s) URL such as http://127.0.0.1:8899',
      'SOLANA_COMMITMENT: must be processed, confirmed or finalized, got "max"',
    ]);
  });

  it('refuses a database URL without a database name and a non-numeric port', () => {
    expect(() => loadConfig({ DATABASE_URL: 'postgres://127.0.0.1:5432' })).toThrow('DATABASE_URL: must name a database');
    expect(() => loadConfig({ DATABASE_URL: 'not a url' })).toThrow('DATABASE_URL: must be a URL');
    expect(() => loadConfig({ PORT: '80a' })).toThrow('PORT: must be a whole number');
  });

  it('reads SYNQ_PUBLIC_RATE_LIMIT (requests a minute, 0: none) and refuses anything else', () => {
    expect(loadConfig({ SYNQ_PUBLIC_RATE_LIMIT: '120' }).publicRateLimit).toBe(120);
    expect(loadConfig({ SYNQ_PUBLIC_RATE_LIMIT: '0' }).publicRateLimit).toBe(0);
    expect(loadConfig({}).publicRateLimit).toBeUndefined();
    for (const bad of ['-1', '1.5', 'lots'])
      expect(() => loadConfig({ SYNQ_PUBLIC_RATE_LIMIT: bad })).toThrow(
        `SYNQ_PUBLIC_RATE_LIMIT: must be a whole number of requests a minute (0: no limit), got "${bad}"`,
      );
  });

  it('reads SYNQ_CLAIMS_CACHE_MB (megabytes of claims in memory, 0: none) and refuses anything else', () => {
    expect(loadConfig({ SYNQ_CLAIMS_CACHE_MB: '64' }).claimsCacheMegabytes).toBe(64);
    expect(loadConfig({ SYNQ_CLAIMS_CACHE_MB: '0' }).claimsCacheMegabytes).toBe(0);
    expect(loadConfig({}).claimsCacheMegabytes).toBeUndefined();
    for (const bad of ['-1', '2.5', 'big', '1048577'])
      expect(() => loadConfig({ SYNQ_CLAIMS_CACHE_MB: bad })).toThrow(
        `SYNQ_CLAIMS_CACHE_MB: must be a whole number of megabytes from 0 to 1048576, got "${bad}"`,
      );
  });

  it('reads SYNQ_VERIFY_WORKERS (0: on the event loop) and SYNQ_PROJECTIONS (on, off), and refuses anything else', () => {
    expect(loadConfig({ SYNQ_VERIFY_WORKERS: '0' }).verifyWorkers).toBe(0);
    expect(loadConfig({ SYNQ_VERIFY_WORKERS: '3' }).verifyWorkers).toBe(3);
    expect(loadConfig({}).verifyWorkers).toBeUndefined();
    for (const bad of ['-1', '1.5', 'all', '257'])
      expect(() => loadConfig({ SYNQ_VERIFY_WORKERS: bad })).toThrow(
        `SYNQ_VERIFY_WORKERS: must be a whole number of worker threads from 0 (on the event loop) to 256, got "${bad}"`,
      );
    expect(loadConfig({ SYNQ_PROJECTIONS: 'off' }).projections).toBe('off');
    expect(loadConfig({ SYNQ_PROJECTIONS: 'on' }).projections).toBe('on');
    expect(loadConfig({}).projections).toBeUndefined();
    expect(() => loadConfig({ SYNQ_PROJECTIONS: 'no' })).toThrow('SYNQ_PROJECTIONS: must be on or off, got "no"');
  });

  it('never shows a password', () => {
    expect(redactUrl('postgres://postgres:secret@127.0.0.1:5432/synq')).toBe('postgres://postgres:***@127.0.0.1:5432/synq');
  });
});
