import { ROUTE_ARGS_METADATA, METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants';
import { RequestMethod } from '@nestjs/common';
import { RouteParamtypes } from '@nestjs/common/enums/route-paramtypes.enum';
import { ModulesContainer } from '@nestjs/core';
import { Keypair } from '@solana/web3.js';
import { randomBytes } from 'node:crypto';
import { canonicalReportBytes } from '../domain/metric-report';
import { base58Encode } from '../domain/values';
import { generateReportingKeypair, publicKeyOf, signEd25519 } from '../src/commands/ed25519';
import { expectMoneyInvariants } from './support/money-invariants';
import { EPOCH_START, instant } from './support/network';
import { bodySchemaOf, generateClient, writeRoutes, type GeneratedClient, type OpenApiDocument } from './support/openapi-client';
import { startTestApi, type TestApi } from './support/api';
import { awaitJob } from './support/jobs';

/** "METHOD /path/{param}" of every handler that reads a request body (`@Body()`). */
function handlersWithBody(api: TestApi): Set<string> {
  const routes = new Set<string>();
  const controllers = [...api.engine.app.get(ModulesContainer).values()].flatMap((module) => [...module.controllers.values()].map((w) => w.metatype as object));
  for (const controller of controllers) {
    const base = String(Reflect.getMetadata(PATH_METADATA, controller) ?? '');
    const prototype = (controller as { prototype: Record<string, object> }).prototype;
    for (const name of Object.getOwnPropertyNames(prototype)) {
      const path = name === 'constructor' ? undefined : Reflect.getMetadata(PATH_METADATA, prototype[name]);
      if (path === undefined) continue;
      const args = (Reflect.getMetadata(ROUTE_ARGS_METADATA, controller, name) ?? {}) as Record<string, unknown>;
      if (!Object.keys(args).some((key) => Number(key.split(':')[0]) === RouteParamtypes.BODY)) continue;
      const method = RequestMethod[Reflect.getMetadata(METHOD_METADATA, prototype[name]) as number];
      routes.add(`${method} ${`/${[base, String(path)].filter((p) => p && p !== '/').join('/')}`.replace(/\/+/g, '/').replace(/:(\w+)/g, '{$1}')}`);
    }
  }
  return routes;
}

describe('a client generated from /docs-json', () => {
  let api: TestApi;
  let document: OpenApiDocument;
  let client: GeneratedClient;
  beforeAll(async () => {
    api = await startTestApi();
    document = (await api.call('GET', '/docs-json', undefined)).body as OpenApiDocument;
    client = generateClient(document, api.engine.url);
  });
  afterAll(async () => {
    await expectMoneyInvariants(api);
    await api.close();
  });

  it('finds every write route documented: its request body when it reads one, its success and its problem+json errors', () => {
    const withBody = handlersWithBody(api);
    expect(withBody.size).toBeGreaterThan(20);
    const gaps: string[] = [];
    for (const { method, path, operation } of writeRoutes(document)) {
      const route = `${method.toUpperCase()} ${path}`;
      const schema = bodySchemaOf(document, operation);
      if (withBody.has(route)) {
        if (!schema) gaps.push(`${route}: no request body schema`);
        else if (!schema.properties && !schema.oneOf) gaps.push(`${route}: the body schema names no properties`);
      } else if (schema) gaps.push(`${route}: documents a body it does not read`);
      const statuses = Object.keys(operation.responses).map(Number);
      if (!statuses.some((status) => status >= 200 && status < 300)) gaps.push(`${route}: no success answer`);
      if (path === '/chain/rpc') continue; // JSON-RPC: every error is a JSON-RPC answer
      for (const status of [400, ...(schema ? [422] : []), ...(operation.security ? [401, 403] : [])]) {
        const error = operation.responses[String(status)];
        if (!error?.content?.['application/problem+json']) gaps.push(`${route}: no problem+json ${status}`);
      }
    }
    expect(gaps).toEqual([]);
  });

  it('calls every write route with a body the document validates, and gets answers the document lists', async () => {
    const { operator, ingest } = api.keys;
    const call = (method: string, path: string, options: Parameters<GeneratedClient['call']>[2]) => client.call(method, path, { key: operator, ...options });
    const wallet = () => Keypair.generate().publicKey.toBase58();
    const signature = () => base58Encode(randomBytes(64));
    const reporting = generateReportingKeypair();
    const synqer = { id: 's1' };
    const developer = { id: 'dev1' };

    const expectStatus = async (answer: Promise<{ status: number; body: unknown }>, ...statuses: number[]) => {
      const { status, body } = await answer;
      if (!statuses.includes(status)) throw new Error(`answered ${status} (expected ${statuses.join(' or ')}): ${JSON.stringify(body).slice(0, 400)}`);
    };

    await expectStatus(call('post', '/chain/init', { body: {} }), 201);
    await expectStatus(call('post', '/treasury/fundings', { body: { amount: '1000000000000', reference: 'funding 1' } }), 201);
    await expectStatus(
      call('post', '/policy', {
        body: {
          weightBytesBps: 7000,
          weightSessionsBps: 3000,
          minUptimeBps: 5000,
          minQosBps: 6000,
          stakeBoostMaxBps: 2000,
          stakeTarget: '10000000000',
          creditsPerToken: '1000',
          unstakeCooldownEpochs: 0,
          maxPoolPerEpoch: '100000000000000',
          claimWindowSeconds: 86_400,
          minimumPayout: '0',
          unclaimedRewards: 'carry',
          sponsoredClaimMinimum: '1000000',
        },
      }),
      201,
    );
    await expectStatus(
      call('post', '/synqers', {
        body: { synqerId: synqer.id, payoutWallet: wallet(), reportingKey: publicKeyOf(reporting), region: 'eu-west', labels: { tier: 'a' } },
      }),
      201,
    );
    await expectStatus(call('put', '/synqers/{id}/payout-wallet', { params: synqer, body: { payoutWallet: wallet() } }), 200);
    await expectStatus(call('post', '/synqers/{id}/suspend', { params: synqer, body: { reason: 'under review' } }), 201);
    await expectStatus(call('post', '/synqers/{id}/reinstate', { params: synqer, body: { reason: 'cleared' } }), 201);
    const rotated = generateReportingKeypair();
    await expectStatus(call('post', '/synqers/{id}/reporting-key', { params: synqer, body: { reportingKey: publicKeyOf(rotated), reason: 'rotated' } }), 200);
    await expectStatus(call('post', '/synqers/{id}/reporting-key', { params: synqer, body: { reportingKey: publicKeyOf(reporting) } }), 409);
    await expectStatus(call('post', '/synqers/{id}/stake/deposits', { params: synqer, body: { depositId: 'd1', amount: '5000000' } }), 201);
    await expectStatus(call('post', '/synqers/{id}/stake/deposits/onchain', { params: synqer, body: { signature: signature() } }), 404, 409, 422);
    await expectStatus(call('post', '/synqers/{id}/stake/unstake-requests', { params: synqer, body: { requestId: 'u1', amount: '1000000' } }), 201);
    await expectStatus(call('post', '/synqers/{id}/stake/withdrawals', { params: synqer, body: { requestId: 'u1' } }), 201, 409);
    await expectStatus(
      call('post', '/synqers/{id}/stake/slashes', { params: synqer, body: { slashId: 'x1', amount: '1000000', reason: 'replayed reports' } }),
      201,
    );
    await expectStatus(call('post', '/developers', { body: { developerId: developer.id, wallet: wallet() } }), 201);
    await expectStatus(
      call('post', '/developers/{id}/purchases', { params: developer, body: { purchaseId: 'p1', amount: '3000000', paymentReference: 'invoice 1' } }),
      201,
    );
    await expectStatus(call('post', '/developers/{id}/burns', { params: developer, body: { burnId: 'b1', amount: '1000000' } }), 201);
    await expectStatus(call('post', '/developers/{id}/burns/onchain', { params: developer, body: { signature: signature() } }), 404, 409, 422);
    await expectStatus(
      call('post', '/developers/{id}/usage', { params: developer, body: { usageId: 'g1', credits: '10', sessionReference: 'session 1' } }),
      201,
    );
    await expectStatus(call('post', '/settlement/mode', { body: { mode: 'web2', reason: 'start off the chain' } }), 200);
    await expectStatus(call('post', '/settlement/resume', { body: { reason: 'not paused' } }), 409);

    await expectStatus(
      call('post', '/epochs', { body: { epoch: 1, start: instant(EPOCH_START), end: instant(EPOCH_START + 3600), rewardPool: '1000000000' } }),
      201,
    );
    const content = {
      reportId: 'r1',
      synqerId: synqer.id,
      epoch: 1,
      periodStart: instant(EPOCH_START),
      periodEnd: instant(EPOCH_START + 600),
      bytes: '1048576',
      sessions: 12,
      uptimeSeconds: 600,
      qosBps: 9500,
    };
    const reports = await client.call('post', '/metric-reports', {
      key: ingest,
      body: { reports: [{ ...content, signature: signEd25519(canonicalReportBytes(content), rotated) }] },
    });
    expect(reports.body).toMatchObject({ accepted: 1, refused: 0 });
    // Long work answers 202 with a job; each is awaited before the next starts (the settlement needs the close).
    for (const [path, params] of [
      ['/epochs/{epoch}/close', { epoch: 1 }],
      ['/epochs/{epoch}/settlement', { epoch: 1 }],
      ['/verification/runs', {}],
    ] as const) {
      const started = call('post', path, { params, ...(path === '/verification/runs' ? { body: {} } : {}) });
      await expectStatus(started, 202);
      expect(await awaitJob(api, started)).toMatchObject({ status: 200 });
    }
    const full = call('post', '/verification/runs', { body: { full: true } });
    await expectStatus(full, 202);
    expect(await awaitJob(api, full)).toMatchObject({ status: 200 });
    await expectStatus(call('post', '/chain/transfers/execute', {}), 200);
    await expectStatus(call('post', '/epochs/{epoch}/clawback', { params: { epoch: 1 } }), 404, 409);
    await expectStatus(
      call('post', '/epochs/{epoch}/claims/{wallet}/sponsored', { params: { epoch: 1, wallet: wallet() }, body: { transaction: 'AAAA' } }),
      404,
      409,
      422,
    );
    await expectStatus(call('post', '/chain/clock', { body: { advanceSeconds: 60 } }), 200);
    await expectStatus(call('post', '/projections/{name}/rewind', { params: { name: 'settlement' }, body: { toEpoch: 1 } }), 202);
    await expectStatus(call('post', '/projections/{name}/resume', { params: { name: 'settlement' } }), 202);
    await expectStatus(call('post', '/projections/{name}/rebuild', { params: { name: 'developers' } }), 202);
    await expectStatus(call('post', '/chain/rpc', { body: { jsonrpc: '2.0', id: 1, method: 'getSlot' } }), 200);
    const created = await call('post', '/keys', { body: { role: 'developer', developerId: developer.id } });
    await expectStatus(Promise.resolve(created), 201);
    await expectStatus(call('post', '/keys/{id}/revoke', { params: { id: (created.body as { keyId: string }).keyId }, body: { reason: 'test over' } }), 200);

    // Every write route of the document was called: a new one must be added here, with a body its schema accepts.
    const writes = writeRoutes(document).map(({ method, path }) => `${method.toUpperCase()} ${path}`);
    expect(writes.filter((route) => !client.called.has(route)).sort()).toEqual([]);
  });

  it('refuses, by its schema, the bodies the engine refuses', async () => {
    // The document and the engine agree on a wrong body: the schema says invalid, the engine answers 422.
    const cases: [string, string, Record<string, string | number>, unknown][] = [
      ['post', '/synqers', {}, { synqerId: 'bad id', payoutWallet: 'x', reportingKey: 'y', region: '' }],
      ['post', '/treasury/fundings', {}, { amount: 100, reference: 'f' }],
      ['post', '/epochs', {}, { epoch: 0, start: 'yesterday', end: '2026-11-24T10:00:00Z', rewardPool: '-1' }],
      ['post', '/settlement/mode', {}, { mode: 'web4', reason: 'x' }],
      ['post', '/developers/{id}/burns', { id: 'dev1' }, { burnId: 'b2', amount: '18446744073709551616' }],
      ['post', '/chain/clock', {}, { advanceSeconds: 0 }],
    ];
    for (const [method, path, params, body] of cases) {
      expect(client.validate(method, path, body)).not.toEqual([]);
      const url = path.replace(/\{(\w+)\}/g, (_, name: string) => String(params[name]));
      const answer = await api.call(method.toUpperCase(), url, api.keys.operator, body);
      expect({ path, status: answer.status, contentType: answer.contentType }).toEqual({
        path,
        status: 422,
        contentType: expect.stringContaining('application/problem+json'),
      });
    }
  });
});
