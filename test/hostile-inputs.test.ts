import { canonicalReportBytes, type MetricReport } from '../domain/metric-report';
import { base58Encode, toInstant } from '../domain/values';
import { generateReportingKeypair, publicKeyOf, signEd25519 } from '../src/commands/ed25519';
import { startTestApi, type TestApi } from './support/api';
import { expectMoneyInvariants } from './support/money-invariants';

/**
 * Issue 16, item 3: every input gets a 4xx, never a 500. The hostile tests' bad inputs, route by route: NUL
 * characters, lone surrogates and control characters in each id and text (body and path), parameters that are not
 * whole numbers, unknown resources, u64 + 1 amounts and report counters, reports from the future, bodies that are not
 * a JSON object. Each answers a 4xx problem+json whose `problems` name the field, and writes nothing.
 */

const wallet = (seed: number) => base58Encode(Uint8Array.from({ length: 32 }, (_, i) => (seed * 13 + i * 5 + 3) % 256));
const TWO_64 = (1n << 64n).toString();
const NUL = '\u0000';
const HIGH = '\uD800'; // a high surrogate with no low one after it
const LOW = '\uDC00'; // a low surrogate with no high one before it

type Key = 'operator' | 'ingest' | 'auditor' | 'developer';

interface Case {
  name: string;
  method: string;
  path: string;
  key?: Key;
  /** A value is sent as JSON; `raw` as is, with its content type. */
  body?: unknown;
  raw?: { text: string; contentType: string };
  status: number;
  /** The field the problems must name. */
  field: string;
}

describe('hostile inputs over HTTP', () => {
  let api: TestApi;
  const keypair = generateReportingKeypair();
  const now = Math.floor(Date.now() / 1000);

  beforeAll(async () => {
    api = await startTestApi();
    const op = api.keys.operator;
    const ok = async (method: string, path: string, body: unknown) => {
      const answer = await api.call(method, path, op, body);
      if (answer.status >= 300) throw new Error(`${method} ${path}: ${answer.status} ${JSON.stringify(answer.body)}`);
    };
    await ok('POST', '/treasury/fundings', { amount: '1000000000000', reference: 'seed' });
    await ok('POST', '/synqers', { synqerId: 's1', payoutWallet: wallet(1), reportingKey: publicKeyOf(keypair), region: 'eu-west' });
    await ok('POST', '/developers', { developerId: 'dev1', wallet: wallet(2) });
    // An epoch from an hour ago to a year and a half from now: a report from the future lies inside it.
    await ok('POST', '/epochs', { epoch: 1, start: toInstant(now - 3600), end: toInstant(now + 550 * 86_400), rewardPool: '1000000' });
  });
  afterAll(async () => {
    await expectMoneyInvariants(api);
    await api.close();
  });

  const send = async (c: Pick<Case, 'method' | 'path' | 'key' | 'body' | 'raw'>) => {
    const key = api.keys[c.key ?? 'operator'];
    if (!c.raw) return api.call(c.method, c.path, key, c.body);
    const response = await fetch(`${api.engine.url}${c.path}`, {
      method: c.method,
      headers: { authorization: `Bearer ${key}`, 'content-type': c.raw.contentType },
      body: c.raw.text,
    });
    const text = await response.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // kept as text: the assertion below shows it
    }
    return { status: response.status, body: body as { problems?: { field: string }[] }, contentType: response.headers.get('content-type') ?? '' };
  };

  const synqer = { synqerId: 's2', payoutWallet: wallet(3), reportingKey: wallet(4), region: 'eu' };
  const cases: Case[] = [
    // Ids and texts in bodies: NUL, lone surrogates, control characters.
    { name: 'POST /synqers synqerId with NUL', method: 'POST', path: '/synqers', body: { ...synqer, synqerId: `s${NUL}` }, status: 422, field: 'synqerId' },
    {
      name: 'POST /synqers synqerId lone surrogate',
      method: 'POST',
      path: '/synqers',
      body: { ...synqer, synqerId: `s${HIGH}` },
      status: 422,
      field: 'synqerId',
    },
    { name: 'POST /synqers region with NUL', method: 'POST', path: '/synqers', body: { ...synqer, region: `eu${NUL}` }, status: 422, field: 'region' },
    { name: 'POST /synqers region lone surrogate', method: 'POST', path: '/synqers', body: { ...synqer, region: `eu${LOW}` }, status: 422, field: 'region' },
    { name: 'POST /synqers region with ESC', method: 'POST', path: '/synqers', body: { ...synqer, region: 'eu\u001b[31m' }, status: 422, field: 'region' },
    { name: 'POST /synqers region with a C1 control', method: 'POST', path: '/synqers', body: { ...synqer, region: 'eu\u0085' }, status: 422, field: 'region' },
    { name: 'POST /synqers region with a newline', method: 'POST', path: '/synqers', body: { ...synqer, region: 'eu\nwest' }, status: 422, field: 'region' },
    {
      name: 'POST /synqers label value with NUL',
      method: 'POST',
      path: '/synqers',
      body: { ...synqer, labels: { tier: `a${NUL}` } },
      status: 422,
      field: 'labels',
    },
    {
      name: 'POST /synqers label key lone surrogate',
      method: 'POST',
      path: '/synqers',
      body: { ...synqer, labels: { [`t${HIGH}`]: 'a' } },
      status: 422,
      field: 'labels',
    },
    {
      name: 'POST /synqers/s1/suspend reason with NUL',
      method: 'POST',
      path: '/synqers/s1/suspend',
      body: { reason: `fraud${NUL}` },
      status: 422,
      field: 'reason',
    },
    {
      name: 'POST /synqers/s1/suspend reason lone surrogate',
      method: 'POST',
      path: '/synqers/s1/suspend',
      body: { reason: `fraud ${HIGH}` },
      status: 422,
      field: 'reason',
    },
    {
      name: 'POST /synqers/s1/suspend reason with BEL',
      method: 'POST',
      path: '/synqers/s1/suspend',
      body: { reason: 'fraud\u0007' },
      status: 422,
      field: 'reason',
    },
    {
      name: 'POST /synqers/s1/reinstate reason lone surrogate',
      method: 'POST',
      path: '/synqers/s1/reinstate',
      body: { reason: LOW },
      status: 422,
      field: 'reason',
    },
    {
      name: 'POST stake slash reason with NUL',
      method: 'POST',
      path: '/synqers/s1/stake/slashes',
      body: { slashId: 'x1', amount: '1', reason: NUL },
      status: 422,
      field: 'reason',
    },
    {
      name: 'POST stake deposit depositId with NUL',
      method: 'POST',
      path: '/synqers/s1/stake/deposits',
      body: { depositId: NUL, amount: '1' },
      status: 422,
      field: 'depositId',
    },
    {
      name: 'POST /treasury/fundings reference with NUL',
      method: 'POST',
      path: '/treasury/fundings',
      body: { amount: '1', reference: `r${NUL}` },
      status: 422,
      field: 'reference',
    },
    {
      name: 'POST /treasury/fundings reference lone surrogate',
      method: 'POST',
      path: '/treasury/fundings',
      body: { amount: '1', reference: `r${LOW}` },
      status: 422,
      field: 'reference',
    },
    {
      name: 'POST /treasury/fundings reference with a control',
      method: 'POST',
      path: '/treasury/fundings',
      body: { amount: '1', reference: 'r\u0010' },
      status: 422,
      field: 'reference',
    },
    {
      name: 'POST /developers developerId with NUL',
      method: 'POST',
      path: '/developers',
      body: { developerId: `d${NUL}`, wallet: wallet(5) },
      status: 422,
      field: 'developerId',
    },
    {
      name: 'POST purchase paymentReference with NUL',
      method: 'POST',
      path: '/developers/dev1/purchases',
      body: { purchaseId: 'p1', amount: '1', paymentReference: `stripe${NUL}` },
      status: 422,
      field: 'paymentReference',
    },
    {
      name: 'POST usage sessionReference lone surrogate',
      method: 'POST',
      path: '/developers/dev1/usage',
      body: { usageId: 'u1', credits: '1', sessionReference: HIGH },
      status: 422,
      field: 'sessionReference',
    },
    {
      name: 'POST /settlement/mode reason with NUL',
      method: 'POST',
      path: '/settlement/mode',
      body: { mode: 'web2', reason: NUL },
      status: 422,
      field: 'reason',
    },
    { name: 'POST /settlement/resume reason lone surrogate', method: 'POST', path: '/settlement/resume', body: { reason: HIGH }, status: 422, field: 'reason' },

    // Ids in paths.
    { name: 'GET /synqers/%00', method: 'GET', path: '/synqers/%00', status: 422, field: 'id' },
    { name: 'GET /synqers/<lone surrogate, CESU-8>', method: 'GET', path: '/synqers/%ED%A0%80', status: 400, field: 'path' },
    { name: 'GET /synqers/%00/stake', method: 'GET', path: '/synqers/%00/stake', status: 422, field: 'id' },
    { name: 'GET /synqers/%00/epochs', method: 'GET', path: '/synqers/%00/epochs', status: 422, field: 'id' },
    { name: 'PUT /synqers/%00/payout-wallet', method: 'PUT', path: '/synqers/%00/payout-wallet', body: { payoutWallet: wallet(6) }, status: 422, field: 'id' },
    { name: 'POST /synqers/%00/suspend', method: 'POST', path: '/synqers/%00/suspend', body: { reason: 'r' }, status: 422, field: 'id' },
    {
      name: 'POST /synqers/%00/stake/deposits',
      method: 'POST',
      path: '/synqers/%00/stake/deposits',
      body: { depositId: 'd1', amount: '1' },
      status: 422,
      field: 'id',
    },
    { name: 'GET /verification/runs/%00', method: 'GET', path: '/verification/runs/%00', status: 422, field: 'id' },
    { name: 'GET /developers/%00', method: 'GET', path: '/developers/%00', status: 422, field: 'id' },
    {
      name: 'POST /developers/%00/purchases',
      method: 'POST',
      path: '/developers/%00/purchases',
      body: { purchaseId: 'p', amount: '1', paymentReference: 'r' },
      status: 422,
      field: 'id',
    },
    { name: 'GET /epochs/1/distribution/%00', method: 'GET', path: '/epochs/1/distribution/%00', status: 422, field: 'wallet' },
    { name: 'GET /epochs/1/claims/%00', method: 'GET', path: '/epochs/1/claims/%00', status: 422, field: 'wallet' },
    { name: 'POST /projections/%00/rebuild', method: 'POST', path: '/projections/%00/rebuild', status: 422, field: 'name' },
    { name: 'GET /epochs/1/claims/<bad UTF-8>', method: 'GET', path: '/epochs/1/claims/abc%ED%A0%80def', status: 400, field: 'path' },

    // Path and query parameters that are not whole numbers in range.
    { name: 'GET /epochs/abc', method: 'GET', path: '/epochs/abc', status: 422, field: 'epoch' },
    { name: 'GET /epochs/1.5', method: 'GET', path: '/epochs/1.5', status: 422, field: 'epoch' },
    { name: 'GET /epochs/-1', method: 'GET', path: '/epochs/-1', status: 422, field: 'epoch' },
    { name: 'GET /epochs/<2^64>', method: 'GET', path: `/epochs/${TWO_64}`, status: 422, field: 'epoch' },
    { name: 'GET /epochs/%00', method: 'GET', path: '/epochs/%00', status: 422, field: 'epoch' },
    { name: 'POST /epochs/abc/close', method: 'POST', path: '/epochs/abc/close', status: 422, field: 'epoch' },
    { name: 'GET /epochs/abc/rewards', method: 'GET', path: '/epochs/abc/rewards', status: 422, field: 'epoch' },
    { name: 'GET /epochs/abc/settlement', method: 'GET', path: '/epochs/abc/settlement', status: 422, field: 'epoch' },
    { name: 'POST /epochs/abc/settlement', method: 'POST', path: '/epochs/abc/settlement', status: 422, field: 'epoch' },
    { name: 'GET /epochs/abc/statistics', method: 'GET', path: '/epochs/abc/statistics', status: 422, field: 'epoch' },
    { name: 'GET /epochs/abc/claims', method: 'GET', path: '/epochs/abc/claims', status: 422, field: 'epoch' },
    { name: 'GET /epochs/abc/unclaimed', method: 'GET', path: '/epochs/abc/unclaimed', status: 422, field: 'epoch' },
    { name: 'GET /audit/epochs/abc', method: 'GET', path: '/audit/epochs/abc', status: 422, field: 'epoch' },
    { name: 'GET /epochs/1/rewards?limit=%00', method: 'GET', path: '/epochs/1/rewards?limit=%00', status: 422, field: 'limit' },
    { name: 'GET /verification/runs?limit=x', method: 'GET', path: '/verification/runs?limit=x', status: 422, field: 'limit' },

    // Unknown resources.
    { name: 'GET /synqers/nobody/stake', method: 'GET', path: '/synqers/nobody/stake', status: 404, field: 'synqerId' },
    { name: 'GET /synqers/nobody', method: 'GET', path: '/synqers/nobody', status: 404, field: 'synqerId' },
    { name: 'GET /developers/nobody', method: 'GET', path: '/developers/nobody', status: 404, field: 'developerId' },
    { name: 'GET /verification/runs/nothing', method: 'GET', path: '/verification/runs/nothing', status: 404, field: 'id' },
    { name: 'GET /epochs/999', method: 'GET', path: '/epochs/999', status: 404, field: 'epoch' },

    // Amounts above u64.
    {
      name: 'POST /treasury/fundings amount 2^64',
      method: 'POST',
      path: '/treasury/fundings',
      body: { amount: TWO_64, reference: 'big' },
      status: 422,
      field: 'amount',
    },
    {
      name: 'POST stake deposit amount 2^64',
      method: 'POST',
      path: '/synqers/s1/stake/deposits',
      body: { depositId: 'd2', amount: TWO_64 },
      status: 422,
      field: 'amount',
    },

    // Bodies that are not a JSON object.
    {
      name: 'POST /synqers not JSON',
      method: 'POST',
      path: '/synqers',
      raw: { text: '{"synqerId": ', contentType: 'application/json' },
      status: 400,
      field: 'body',
    },
    { name: 'POST /synqers a JSON array', method: 'POST', path: '/synqers', body: [synqer], status: 422, field: 'body' },
    {
      name: 'POST /treasury/fundings a JSON string',
      method: 'POST',
      path: '/treasury/fundings',
      raw: { text: '"x"', contentType: 'application/json' },
      status: 400,
      field: 'body',
    },
    {
      name: 'POST /synqers as text/plain',
      method: 'POST',
      path: '/synqers',
      raw: { text: JSON.stringify(synqer), contentType: 'text/plain' },
      status: 415,
      field: 'content-type',
    },
    {
      name: 'POST /synqers nested 100,000 deep',
      method: 'POST',
      path: '/synqers',
      raw: { text: `{"synqerId":"s3","labels":${'['.repeat(100_000)}${']'.repeat(100_000)}}`, contentType: 'application/json' },
      status: 422,
      field: 'labels',
    },
  ];

  it.each(cases)('$name: $status naming $field, nothing written', async (c) => {
    const before = await api.engine.eventStore.lastPosition();
    const answer = await send(c);
    expect({ status: answer.status, contentType: answer.contentType }).toEqual({
      status: c.status,
      contentType: expect.stringContaining('application/problem+json'),
    });
    expect(answer.body).toMatchObject({ status: c.status, problems: expect.arrayContaining([expect.objectContaining({ field: c.field })]) });
    expect(await api.engine.eventStore.lastPosition()).toBe(before);
  });

  describe('metric reports: counters above u64 and periods from the future are refused', () => {
    const report = (overrides: Partial<MetricReport> & { reportId: string; periodStart: string; periodEnd: string }): MetricReport => {
      const content = { synqerId: 's1', epoch: 1, bytes: '1000', sessions: 1, uptimeSeconds: 60, qosBps: 9000, ...overrides };
      const { signature: _unused, ...unsigned } = { ...content, signature: '' };
      return { ...content, signature: signEd25519(canonicalReportBytes(unsigned), keypair) } as MetricReport;
    };
    const refused = async (item: unknown, field: string) => {
      const before = await api.engine.eventStore.lastPosition();
      const answer = await api.call('POST', '/metric-reports', api.keys.ingest, { reports: [item] });
      expect(answer.status).toBe(200);
      expect(answer.body.results[0]).toMatchObject({ status: 'refused', problems: expect.arrayContaining([expect.objectContaining({ field })]) });
      expect(await api.engine.eventStore.lastPosition()).toBe(before);
    };

    it('refuses bytes, sessions and uptime above u64, and ids with NUL or lone surrogates', async () => {
      const period = { periodStart: toInstant(now - 1800), periodEnd: toInstant(now - 1200) };
      await refused({ ...report({ reportId: 'r-big-bytes', ...period }), bytes: TWO_64 }, 'bytes');
      // 2^64 + 1 as a JSON number (JSON.parse reads it as 18446744073709552000).
      const bigCounter = (field: string) =>
        JSON.parse(JSON.stringify(report({ reportId: `r-big-${field}`, ...period })).replace(/}$/, `,"${field}":18446744073709551617}`));
      await refused(bigCounter('sessions'), 'sessions');
      await refused(bigCounter('uptimeSeconds'), 'uptimeSeconds');
      await refused({ ...report({ reportId: 'r-nul', ...period }), reportId: `r${NUL}` }, 'reportId');
      await refused({ ...report({ reportId: 'r-sur', ...period }), synqerId: `s1${HIGH}` }, 'synqerId');
    });

    it('refuses a period ending after now plus the clock-skew allowance, and takes one inside it', async () => {
      await refused(
        report({ reportId: 'r-next-year', periodStart: toInstant(now + 365 * 86_400), periodEnd: toInstant(now + 365 * 86_400 + 600) }),
        'periodEnd',
      );
      // Ten minutes ahead: beyond the 5 minutes allowed for clock skew.
      await refused(report({ reportId: 'r-ahead', periodStart: toInstant(now), periodEnd: toInstant(now + 600) }), 'periodEnd');
      // A minute ahead (a synqer's clock running fast): accepted, as is a period already over.
      const accepted = await api.call('POST', '/metric-reports', api.keys.ingest, {
        reports: [
          report({ reportId: 'r-past', periodStart: toInstant(now - 1200), periodEnd: toInstant(now - 600) }),
          report({ reportId: 'r-skewed', periodStart: toInstant(now - 300), periodEnd: toInstant(now + 60) }),
        ],
      });
      expect(accepted.body).toMatchObject({ accepted: 2, refused: 0 });
    });
  });
});
