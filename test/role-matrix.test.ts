import { expectMoneyInvariants } from './support/money-invariants';
import { startTestApi, type TestApi } from './support/api';
import { CALLERS, readRoleMatrix, type Caller } from './support/role-matrix';

/**
 * The role matrix of docs/api.md is the single source of who may call what: every route of the OpenAPI document is
 * called with no key and with a key of each role, and the engine's answer (401, 403, or anything else: allowed) must be
 * what the matrix says. A route of the document without a row fails, and so does a row without a route.
 */

/** A path of the document with its parameters filled: ids name the test's developer key (`dev1`), or `other`. */
function concrete(template: string, developerId = 'dev1'): string {
  return template.replace(/\{(\w+)\}/g, (_, name: string) => {
    if (name === 'epoch' || name === 'n') return '1';
    if (name === 'wallet') return '11111111111111111111111111111111';
    if (name === 'name') return 'no-such-projection';
    return developerId;
  });
}

/** The status only: some public routes answer text (/metrics). */
async function statusOf(api: TestApi, method: string, route: string, key: string | undefined, body: unknown): Promise<number> {
  const response = await fetch(`${api.engine.url}${route}`, {
    method,
    headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  await response.arrayBuffer();
  return response.status;
}

function outcome(status: number): 'unauthenticated' | 'forbidden' | 'allowed' {
  return status === 401 ? 'unauthenticated' : status === 403 ? 'forbidden' : 'allowed';
}

describe('the role matrix of docs/api.md', () => {
  let api: TestApi;
  beforeAll(async () => {
    api = await startTestApi();
  });
  afterAll(async () => {
    await expectMoneyInvariants(api);
    await api.close();
  });

  it('has one row for every route of /docs-json, and none for a route that does not exist', async () => {
    const document = (await api.call('GET', '/docs-json', undefined)).body as { paths: Record<string, Record<string, unknown>> };
    const documented = Object.entries(document.paths).flatMap(([route, methods]) => Object.keys(methods).map((method) => `${method.toUpperCase()} ${route}`));
    const matrix = readRoleMatrix();
    expect(documented.filter((route) => !matrix.has(route)).sort()).toEqual([]);
    expect([...matrix.keys()].filter((route) => !documented.includes(route)).sort()).toEqual([]);
  });

  it('is what the engine enforces, for no key and each role on every route', async () => {
    const keys: Record<Caller, string | undefined> = { 'no key': undefined, ...api.keys };
    const mismatches: string[] = [];
    const checked = new Set<string>();
    for (const [route, row] of readRoleMatrix()) {
      const [method, template] = route.split(' ');
      const body = method === 'GET' ? undefined : {};
      for (const caller of CALLERS) {
        const cell = row[caller];
        const expected = cell !== 'refused' ? 'allowed' : caller === 'no key' ? 'unauthenticated' : 'forbidden';
        const status = await statusOf(api, method, concrete(template), keys[caller], body);
        if (outcome(status) !== expected) mismatches.push(`${route} as ${caller}: ${status}, the matrix says ${expected}`);
        if (cell === 'own') {
          // Another developer's account: refused, whatever the route would answer.
          const other = await statusOf(api, method, concrete(template, 'other-developer'), keys[caller], body);
          if (other !== 403) mismatches.push(`${route} as developer for another developer: ${other}, the matrix says forbidden`);
        }
        checked.add(`${route} ${caller}`);
      }
    }
    expect(mismatches).toEqual([]);
    expect(checked.size).toBeGreaterThan(50 * CALLERS.length);
  });

  it('keeps the auditor read-only: every route it may call is a GET', () => {
    const writes = [...readRoleMatrix()].filter(([route, row]) => !route.startsWith('GET ') && row.auditor !== 'refused' && row['no key'] === 'refused');
    expect(writes.map(([route]) => route)).toEqual([]);
  });
});
