import fc from 'fast-check';
import { Keypair } from '@solana/web3.js';
import { base58Encode, U64_MAX } from '../domain/values';
import { generateReportingKeypair, publicKeyOf } from '../src/commands/ed25519';
import { expectMoneyInvariants } from './support/money-invariants';
import { EPOCH_START, instant } from './support/network';
import { bodySchemaOf, writeRoutes, type OpenApiDocument, type Schema } from './support/openapi-client';
import { readRoleMatrix } from './support/role-matrix';
import { startTestApi, type TestApi } from './support/api';
import { awaitJob } from './support/jobs';

/**
 * Every write route of the OpenAPI document, with bodies made from its documented schema and then mutated (a field
 * dropped, of the wrong type, strings with NUL, lone surrogates and control characters, huge numbers, numbers as
 * strings past u64, extra fields, arrays for objects, whole bodies that are not objects): the engine answers a success
 * or a 4xx problem+json naming the problems, never a 5xx, and a refusal records nothing (the event count does not move).
 * `WRITE_ROUTE_RUNS` sets the runs per route (default 25, about 20 s in all; e.g. 1000 for a long run).
 */
const RUNS = Number(process.env.WRITE_ROUTE_RUNS ?? 25);

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

const publicKey = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((bytes) => base58Encode(bytes));
const signature = fc.uint8Array({ minLength: 64, maxLength: 64 }).map((bytes) => base58Encode(bytes));
/** Around the test's epochs (November 2026), whole seconds. */
const time = fc.integer({ min: EPOCH_START - 86_400, max: EPOCH_START + 7 * 86_400 }).map(instant);

/** A value the schema accepts (the subset of JSON Schema the document uses; unknown shapes: any JSON). */
function arbitraryOf(schema: Schema): fc.Arbitrary<Json> {
  if (Array.isArray(schema.enum)) return fc.constantFrom(...(schema.enum as Json[]));
  if (Array.isArray(schema.oneOf) && !schema.properties) return fc.oneof(...(schema.oneOf as Schema[]).map(arbitraryOf));
  switch (schema.type) {
    case 'string': {
      if (schema.format === 'solana-public-key') return publicKey;
      if (schema.format === 'solana-signature') return signature;
      if (schema.format === 'date-time') return time;
      if (schema.format === 'u64') {
        // Mostly amounts the books can hold many of (so that a body gets past the u64 totals to be judged), sometimes any u64.
        const lowest = (schema.not as { enum?: string[] } | undefined)?.enum?.includes('0') ? 1n : 0n;
        return fc
          .oneof({ weight: 4, arbitrary: fc.bigInt({ min: lowest, max: 1_000_000_000n }) }, { weight: 1, arbitrary: fc.bigInt({ min: lowest, max: U64_MAX }) })
          .map(String);
      }
      if (schema.format === 'byte') return fc.uint8Array({ maxLength: 300 }).map((bytes) => Buffer.from(bytes).toString('base64'));
      const not = (schema.not as { enum?: string[] } | undefined)?.enum ?? [];
      const min = Number(schema.minLength ?? 0);
      const max = Number(schema.maxLength ?? 100);
      const text =
        typeof schema.pattern === 'string' ? fc.stringMatching(new RegExp(schema.pattern)) : fc.string({ minLength: min, maxLength: Math.min(max, 80) });
      return text.filter((value) => value.length >= min && value.length <= max && value.trim().length > 0 && !not.includes(value));
    }
    case 'integer':
      return fc.integer({ min: Number(schema.minimum ?? -(2 ** 31)), max: Number(schema.maximum ?? 2 ** 31) });
    case 'array': {
      const items = arbitraryOf((schema.items ?? {}) as Schema);
      return fc.array(items, { minLength: Number(schema.minItems ?? 0), maxLength: Math.min(Number(schema.maxItems ?? 3), 3) });
    }
    case 'object': {
      const properties = (schema.properties ?? {}) as Record<string, Schema>;
      if (!schema.properties && schema.additionalProperties) {
        return fc.dictionary(fc.string({ minLength: 1, maxLength: 64 }), arbitraryOf(schema.additionalProperties as Schema), { maxKeys: 3 });
      }
      // "Exactly one of" (rewind): one branch's required keys, and none of the other branches'.
      const branches = ((schema.oneOf ?? []) as Schema[]).map((branch) => (branch.required ?? []) as string[]);
      const shapes =
        branches.length > 0
          ? branches.map((required) => ({ required, excluded: branches.flat().filter((k) => !required.includes(k)) }))
          : [{ required: (schema.required ?? []) as string[], excluded: [] as string[] }];
      return fc.oneof(
        ...shapes.map(({ required, excluded }) => {
          const kept = Object.fromEntries(
            Object.entries(properties)
              .filter(([key]) => !excluded.includes(key))
              .map(([key, inner]) => [key, arbitraryOf(inner)]),
          );
          return fc.record(kept, { requiredKeys: required.filter((key) => key in kept) }) as fc.Arbitrary<Json>;
        }),
      );
    }
    default:
      return fc.jsonValue() as fc.Arbitrary<Json>;
  }
}

/** One valid value of the schema, the same every run: what the known hostile bodies are made from. */
function exampleOf(schema: Schema): Json {
  if (Array.isArray(schema.enum)) return schema.enum[0] as Json;
  if (Array.isArray(schema.oneOf) && !schema.properties) return exampleOf(schema.oneOf[0] as Schema);
  switch (schema.type) {
    case 'string':
      if (schema.format === 'solana-public-key') return WALLET;
      if (schema.format === 'solana-signature') return base58Encode(new Uint8Array(64).fill(7));
      if (schema.format === 'date-time') return instant(EPOCH_START);
      if (schema.format === 'byte') return 'AAAA';
      if (schema.format === 'u64') return '1500000';
      return typeof schema.example === 'string' ? schema.example : 'text';
    case 'integer':
      return Number(schema.minimum ?? 0);
    case 'array':
      return Array.from({ length: Math.max(1, Number(schema.minItems ?? 1)) }, () => exampleOf((schema.items ?? {}) as Schema));
    case 'object': {
      const required = ((schema.oneOf as Schema[] | undefined)?.[0]?.required ?? schema.required ?? []) as string[];
      const properties = (schema.properties ?? {}) as Record<string, Schema>;
      return Object.fromEntries(required.map((key) => [key, exampleOf(properties[key] ?? {})]));
    }
    default:
      return { jsonrpc: '2.0', id: 1, method: 'getSlot' };
  }
}

/** Strings that break ids and texts: NUL, lone surrogates, control characters, a right-to-left override. */
const hostileString = fc.oneof(
  fc.constantFrom('\u0000', 'a\u0000b', '\ud800', 'x\udc00', '\udfff\ud800', '\u0007\u001b[31m', '\u202e', '\r\n', ' ', '\uffff', '\ufeffid'),
  fc.string({ unit: 'binary', maxLength: 20 }),
);
/** Numbers and numeric strings past what the engine holds. */
const hostileNumber = fc.constantFrom<Json>(
  1e308,
  -1e308,
  2 ** 64,
  2 ** 53 + 1,
  -1,
  1.5,
  0,
  '18446744073709551616',
  '99999999999999999999999999999999999999',
  '340282366920938463463374607431768211456',
  '1e30',
  '0x10',
  ' 1',
  '1.0',
  '-1',
  '00',
);
const wrongType = fc.constantFrom<Json>(null, true, false, 0, '', 'x', [], {}, [1, 2]);

type Mutation = { kind: string; apply: (value: Json) => Json };

/** A change at one place of the body: the body itself, or a field (at any depth). */
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.constant<Mutation>({ kind: 'drop', apply: () => undefined as unknown as Json }),
  wrongType.map<Mutation>((value) => ({ kind: `type ${JSON.stringify(value)}`, apply: () => value })),
  hostileString.map<Mutation>((inserted) => ({
    kind: `string ${JSON.stringify(inserted)}`,
    apply: (value) => (typeof value === 'string' ? `${value.slice(0, 3)}${inserted}${value.slice(3)}` : inserted),
  })),
  hostileNumber.map<Mutation>((value) => ({ kind: `number ${JSON.stringify(value)}`, apply: () => value })),
  fc.constant<Mutation>({ kind: 'array for the value', apply: (value) => [value] }),
  fc
    .record({ key: fc.constantFrom('extra', '__proto__', 'constructor', 'toString', 'type', 'data'), value: fc.jsonValue() as fc.Arbitrary<Json> })
    .map<Mutation>(({ key, value }) => ({
      kind: `extra field ${key}`,
      apply: (target) => (target !== null && typeof target === 'object' && !Array.isArray(target) ? { ...target, [key]: value } : target),
    })),
);

/** Every place of a JSON value (paths of keys and indexes), the value itself first. */
function places(value: Json, path: (string | number)[] = []): (string | number)[][] {
  const inner =
    value !== null && typeof value === 'object'
      ? Array.isArray(value)
        ? value.flatMap((item, i) => places(item, [...path, i]))
        : Object.entries(value).flatMap(([key, item]) => places(item, [...path, key]))
      : [];
  return [path, ...inner];
}

function mutateAt(value: Json, path: (string | number)[], change: Mutation): Json {
  if (path.length === 0) return change.apply(value);
  const [head, ...rest] = path;
  if (Array.isArray(value)) {
    const copy = [...value];
    const next = mutateAt(copy[head as number], rest, change);
    if (next === undefined) copy.splice(head as number, 1);
    else copy[head as number] = next;
    return copy;
  }
  const object = value as { [key: string]: Json };
  const next = mutateAt(object[head as string], rest, change);
  const copy = Object.fromEntries(Object.entries(object).filter(([key]) => key !== head));
  if (next !== undefined) Object.defineProperty(copy, head as string, { value: next, enumerable: true, writable: true, configurable: true });
  return copy;
}

/** A body and the mutations made to it (none: a body the schema accepts). */
const mutated = (body: fc.Arbitrary<Json>) =>
  fc
    .tuple(
      body,
      fc.array(fc.tuple(fc.nat(), mutation), { minLength: 0, maxLength: 3 }),
      fc.constantFrom<Json | 'keep'>('keep', 'keep', 'keep', 'keep', 'keep', 'keep', null, 'text', 42, []),
    )
    .map(([valid, changes, whole]) => {
      let value = valid;
      const applied: string[] = [];
      for (const [at, change] of changes) {
        const all = places(value);
        const path = all[at % all.length];
        value = mutateAt(value, path, change) ?? {};
        applied.push(`${change.kind} at ${path.join('.') || '(body)'}`);
      }
      if (whole !== 'keep') {
        value = whole;
        applied.push(`the body is ${JSON.stringify(whole)}`);
      }
      return { body: value, applied };
    });

/**
 * The issue's own findings, tried first on every route whatever the random runs find: NUL and a lone surrogate in every
 * string of a valid body, a number past u64 in every field, and the body as null and as an array.
 */
function knownHostile(valid: Json): { body: Json; applied: string[] }[] {
  const examples: { body: Json; applied: string[] }[] = [];
  const at = (path: (string | number)[], change: Mutation) => ({
    body: mutateAt(valid, path, change) ?? {},
    applied: [`${change.kind} at ${path.join('.') || '(body)'}`],
  });
  for (const path of places(valid)) {
    const leaf = path.reduce<Json>((value, key) => (value as Record<string, Json>)[key], valid);
    if (typeof leaf === 'string')
      for (const inserted of ['\u0000', '\ud800'])
        examples.push(
          at(path, { kind: `string ${JSON.stringify(inserted)}`, apply: (value) => `${String(value).slice(0, 3)}${inserted}${String(value).slice(3)}` }),
        );
    if (path.length > 0) examples.push(at(path, { kind: 'number "18446744073709551616"', apply: () => '18446744073709551616' }));
  }
  examples.push({ body: null, applied: ['the body is null'] }, { body: [valid], applied: ['an array for the body'] });
  return examples;
}

/** The path with the parameters the test set up: synqer s1, developer dev1, epoch 1, the settlement projection. */
function setUpPath(template: string): string {
  return template.replace(/\{(\w+)\}/g, (_, name: string) =>
    name === 'epoch' || name === 'n' ? '1' : name === 'wallet' ? WALLET : name === 'name' ? 'settlement' : template.startsWith('/developers') ? 'dev1' : 's1',
  );
}

/** Values for the path's parameters: mostly what the test set up (so that the body is what is judged), sometimes not. */
function pathArbitrary(template: string): fc.Arbitrary<string> {
  const parameters = [...template.matchAll(/\{(\w+)\}/g)].map((match) => match[1]);
  const valueOf = (name: string): fc.Arbitrary<string> => {
    if (name === 'epoch' || name === 'n') return fc.oneof(fc.constantFrom('1', '1', '2'), fc.nat({ max: 1_000_000 }).map(String));
    if (name === 'wallet') return fc.oneof(fc.constant(WALLET), publicKey);
    if (name === 'name') return fc.constantFrom('settlement', 'developers', 'nope');
    return fc.constantFrom('s1', 's1', 'dev1', 'nobody');
  };
  return fc.tuple(...parameters.map(valueOf)).map((values) => {
    let i = 0;
    return template.replace(/\{(\w+)\}/g, () => encodeURIComponent(values[i++]));
  });
}

const WALLET = Keypair.generate().publicKey.toBase58();

describe('every write route, with generated and mutated bodies', () => {
  let api: TestApi;
  let document: OpenApiDocument;
  beforeAll(async () => {
    api = await startTestApi();
    document = (await api.call('GET', '/docs-json', undefined)).body as OpenApiDocument;
    // A small world for the bodies to act on: a chain, a funded treasury, a synqer, a developer, an open epoch.
    const setup: [string, string, string, unknown][] = [
      ['POST', '/chain/init', api.keys.operator, {}],
      ['POST', '/treasury/fundings', api.keys.operator, { amount: '1000000000000', reference: 'funding' }],
      ['POST', '/synqers', api.keys.operator, { synqerId: 's1', payoutWallet: WALLET, reportingKey: publicKeyOf(generateReportingKeypair()), region: 'eu' }],
      ['POST', '/synqers/s1/stake/deposits', api.keys.operator, { depositId: 'd0', amount: '100000000' }],
      ['POST', '/developers', api.keys.operator, { developerId: 'dev1', wallet: Keypair.generate().publicKey.toBase58() }],
      ['POST', '/developers/dev1/purchases', api.keys.operator, { purchaseId: 'p0', amount: '100000000', paymentReference: 'invoice' }],
      ['POST', '/epochs', api.keys.operator, { epoch: 1, start: instant(EPOCH_START), end: instant(EPOCH_START + 3600), rewardPool: '1000000000' }],
    ];
    for (const [method, path, key, body] of setup) {
      const answer = await api.call(method, path, key, body);
      if (answer.status >= 300) throw new Error(`${method} ${path}: ${answer.status} ${JSON.stringify(answer.body)}`);
    }
  });
  afterAll(async () => {
    await expectMoneyInvariants(api);
    await api.close();
  });

  const eventCount = async () => BigInt((await api.engine.database.pool.query<{ count: string }>('SELECT count(*) FROM events')).rows[0].count);

  it('has write routes with bodies to try', () => {
    expect(routesWithBodies(document).length).toBeGreaterThan(20);
  });

  // One property per route, so that a failure names its route; the routes are read from the document at run time.
  it('answers a success or a 4xx problem+json, never a 5xx, and records nothing on a refusal', async () => {
    const matrix = readRoleMatrix();
    const failures: string[] = [];
    for (const { method, path, operation } of routesWithBodies(document)) {
      const route = `${method.toUpperCase()} ${path}`;
      const row = matrix.get(route);
      if (!row) throw new Error(`${route} is not in the role matrix of docs/api.md`);
      const key = row['no key'] === 'allowed' ? undefined : row.operator === 'allowed' ? api.keys.operator : api.keys.ingest;
      const body = arbitraryOf(bodySchemaOf(document, operation)!);
      const jsonRpc = path === '/chain/rpc';
      const valid = exampleOf(bodySchemaOf(document, operation)!);
      /** Throws what is wrong with the engine's answer to this body. */
      const judge = async (url: string, sent: Json) => {
        const before = await eventCount();
        const response = await fetch(`${api.engine.url}${url}`, {
          method: method.toUpperCase(),
          headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), 'content-type': 'application/json' },
          body: JSON.stringify(sent),
        });
        const text = await response.text();
        const status = response.status;
        const contentType = response.headers.get('content-type') ?? '';
        if (status >= 500) throw new Error(`${status}: ${text.slice(0, 200)}`);
        if (jsonRpc) {
          // Solana's JSON-RPC: errors are JSON-RPC answers (a body that is not JSON-RPC: 4xx); it records no event.
          if (!contentType.startsWith('application/json') && status !== 204) throw new Error(`JSON-RPC answered ${status} as ${contentType}`);
        } else if (status >= 400) {
          if (!contentType.startsWith('application/problem+json')) throw new Error(`${status} as ${contentType}: ${text.slice(0, 200)}`);
          const problems = (JSON.parse(text) as { problems?: unknown }).problems;
          if (!Array.isArray(problems) || problems.length === 0) throw new Error(`${status} without problems: ${text.slice(0, 200)}`);
        } else if (status < 200 || status >= 300) throw new Error(`answered ${status}`);
        // Long work accepted as a job (202) records its events later: wait for it, or they would count against the next body.
        if (status === 202 && response.headers.get('location')?.startsWith('/jobs/')) await awaitJob(api, { status, body: JSON.parse(text) as Json });
        if (status >= 400 || jsonRpc) {
          const after = await eventCount();
          if (after !== before) throw new Error(`${status} and ${after - before} events recorded: ${text.slice(0, 200)}`);
        }
      };
      // The known hostile bodies, each judged (a list of every one that fails, not only the first).
      for (const { body: sent, applied } of knownHostile(valid)) {
        const url = setUpPath(path);
        await judge(url, sent).catch((error: Error) =>
          failures.push(`${route} ${url}: ${error.message} | ${applied.join('; ')} | body ${JSON.stringify(sent)?.slice(0, 200)}`),
        );
      }
      const result = await fc.check(
        fc.asyncProperty(pathArbitrary(path), mutated(body), async (url, { body: sent }) => judge(url, sent)),
        {
          numRuns: RUNS,
          seed: process.env.WRITE_ROUTE_SEED ? Number(process.env.WRITE_ROUTE_SEED) : undefined,
          endOnFailure: !process.env.WRITE_ROUTE_SHRINK,
        },
      );
      if (result.failed) {
        const [url, example] = result.counterexample as [string, { body: Json; applied: string[] }];
        failures.push(
          `${route} ${url}: ${(result.errorInstance as Error)?.message} | ${example.applied.join('; ') || 'unmutated'} | body ${JSON.stringify(example.body)?.slice(0, 300)} (seed ${result.seed})`,
        );
      }
    }
    expect(failures).toEqual([]);
  });
});

function routesWithBodies(document: OpenApiDocument) {
  return writeRoutes(document).filter(({ operation }) => bodySchemaOf(document, operation) !== undefined);
}
