import { base58Encode } from '../domain/values';
import { createApiKey } from '../src/auth/api-keys';
import { generateReportingKeypair, publicKeyOf } from '../src/commands/ed25519';
import { startTestApi, type TestApi } from './support/api';
import { expectMoneyInvariants } from './support/money-invariants';

const wallet = (seed: number) => base58Encode(Uint8Array.from({ length: 32 }, (_, i) => (seed * 13 + i * 5 + 3) % 256));

describe('developers, stakes and policy over the REST API', () => {
  let api: TestApi;
  const op = () => api.keys.operator;

  beforeAll(async () => {
    api = await startTestApi();
    await api.call('POST', '/developers', op(), { developerId: 'dev1', wallet: wallet(1) });
    await api.call('POST', '/treasury/fundings', op(), { amount: '100000000000', reference: 'seed' });
  });
  afterAll(async () => {
    await expectMoneyInvariants(api);
    await api.close();
  });

  describe('developers and data credits', () => {
    it('credits purchases, burns at the rate in force, consumes credits, idempotently by id', async () => {
      const purchase = { purchaseId: 'p1', amount: '5000000', paymentReference: 'stripe:ch_1' };
      expect((await api.call('POST', '/developers/dev1/purchases', op(), purchase)).body).toMatchObject({ tokenBalance: '5000000', credits: '0' });
      expect((await api.call('POST', '/developers/dev1/purchases', op(), purchase)).body.tokenBalance).toBe('5000000');
      expect((await api.call('POST', '/developers/dev1/purchases', op(), { ...purchase, amount: '1' })).status).toBe(409);

      // Genesis policy: 1,000 credits per token (1,000,000 base units).
      const burn = await api.call('POST', '/developers/dev1/burns', api.keys.developer, { burnId: 'b1', amount: '2000000' });
      expect(burn.body).toMatchObject({ tokenBalance: '3000000', credits: '2000' });
      expect((await api.call('POST', '/developers/dev1/burns', api.keys.developer, { burnId: 'b1', amount: '2000000' })).body.credits).toBe('2000');

      const usage = { usageId: 'u1', credits: '1500', sessionReference: 'session-9' };
      expect((await api.call('POST', '/developers/dev1/usage', api.keys.ingest, usage)).body).toMatchObject({ credits: '500' });
      expect((await api.call('POST', '/developers/dev1/usage', api.keys.ingest, usage)).body.credits).toBe('500');
    });

    it('refuses over-spends instead of clipping them, and burns that would give part of a credit', async () => {
      const overBurn = await api.call('POST', '/developers/dev1/burns', api.keys.developer, { burnId: 'b2', amount: '9000000' });
      expect(overBurn.status).toBe(409);
      expect(overBurn.body.problems).toEqual([{ field: 'amount', reason: 'exceeds the token balance (3000000 base units)' }]);
      const overUse = await api.call('POST', '/developers/dev1/usage', op(), { usageId: 'u2', credits: '501', sessionReference: 's' });
      expect(overUse.body.problems).toEqual([{ field: 'credits', reason: 'exceeds the credit balance (500)' }]);
      const fraction = await api.call('POST', '/developers/dev1/burns', op(), { burnId: 'b3', amount: '1500' });
      expect(fraction.status).toBe(422);
      expect(fraction.body.problems[0].reason).toContain('a multiple of 1000 base units');
      expect((await api.call('GET', '/developers/dev1', api.keys.auditor)).body).toEqual({
        developerId: 'dev1',
        wallet: wallet(1),
        tokenBalance: '3000000',
        credits: '500',
      });
    });

    it('keeps a developer key to its own account', async () => {
      await api.call('POST', '/developers', op(), { developerId: 'dev2', wallet: wallet(2) });
      expect((await api.call('GET', '/developers/dev2', api.keys.developer)).status).toBe(403);
      expect((await api.call('POST', '/developers/dev2/burns', api.keys.developer, { burnId: 'x', amount: '1000' })).status).toBe(403);
      expect((await api.call('POST', '/developers/dev1/purchases', api.keys.developer, { purchaseId: 'p9', amount: '1', paymentReference: 'r' })).status).toBe(
        403,
      );
      const otherKey = (await createApiKey(api.engine, 'developer', 'dev2')).key;
      expect((await api.call('GET', '/developers/dev2', otherKey)).status).toBe(200);
    });
  });

  describe('stakes', () => {
    beforeAll(async () => {
      await api.call('POST', '/synqers', op(), {
        synqerId: 'staker',
        payoutWallet: wallet(3),
        reportingKey: publicKeyOf(generateReportingKeypair()),
        region: 'ap-south',
      });
    });

    const openEpoch = (epoch: number) =>
      api.call('POST', '/epochs', op(), {
        epoch,
        start: new Date(Date.UTC(2026, 10, epoch * 7)).toISOString().replace('.000Z', 'Z'),
        end: new Date(Date.UTC(2026, 10, epoch * 7 + 7)).toISOString().replace('.000Z', 'Z'),
        rewardPool: '1000000',
      });

    it('locks unstaked stake for the cooldown, withdraws it once, never more than is active', async () => {
      expect((await api.call('POST', '/synqers/staker/stake/deposits', op(), { depositId: 'd1', amount: '7000000' })).body.active).toBe('7000000');
      expect((await api.call('POST', '/synqers/staker/stake/deposits', op(), { depositId: 'd1', amount: '7000000' })).body.active).toBe('7000000');
      const tooMuch = await api.call('POST', '/synqers/staker/stake/unstake-requests', op(), { requestId: 'u1', amount: '8000000' });
      expect(tooMuch.body.problems).toEqual([{ field: 'amount', reason: 'exceeds the active stake (7000000 base units)' }]);

      const requested = await api.call('POST', '/synqers/staker/stake/unstake-requests', op(), { requestId: 'u1', amount: '3000000' });
      expect(requested.body).toMatchObject({ active: '4000000', held: '7000000', unstaking: [{ requestId: 'u1', amount: '3000000', unlockEpoch: 2 }] });
      const locked = await api.call('POST', '/synqers/staker/stake/withdrawals', op(), { requestId: 'u1' });
      expect(locked.status).toBe(409);
      expect(locked.body.problems[0].reason).toBe('stake is locked until epoch 2 opens (the last opened is 0)');

      await openEpoch(1);
      await openEpoch(2);
      const withdrawn = await api.call('POST', '/synqers/staker/stake/withdrawals', op(), { requestId: 'u1' });
      expect(withdrawn.body).toMatchObject({ active: '4000000', held: '4000000', unstaking: [{ requestId: 'u1', withdrawn: true }] });
      // A retry is not a conflict: it answers what the withdrawal answered (and resumes its transfer, if it ordered one).
      const twice = await api.call('POST', '/synqers/staker/stake/withdrawals', op(), { requestId: 'u1' });
      expect(twice).toMatchObject({ status: 201, body: withdrawn.body });
    });

    it('caps a slash at the stake held, takes unstaking stake after active, and records the cap', async () => {
      await api.call('POST', '/synqers/staker/stake/unstake-requests', op(), { requestId: 'u2', amount: '1000000' });
      const slashed = await api.call('POST', '/synqers/staker/stake/slashes', op(), { slashId: 's1', amount: '999000000', reason: 'double signing' });
      expect(slashed.body).toMatchObject({ active: '0', held: '0', slashed: '4000000' });
      const events = [];
      for await (const event of api.engine.eventStore.readStream('stake-staker', { direction: 'backwards', maxCount: 1 })) events.push(event.data);
      expect(events[0]).toMatchObject({ requested: '999000000', amount: '4000000', fromActive: '3000000' });
      const nothingLeft = await api.call('POST', '/synqers/staker/stake/withdrawals', op(), { requestId: 'u2' });
      expect(nothingLeft.status).toBe(409);
    });
  });

  describe('policy', () => {
    it('adopts versions that take effect from the next epoch, and validates them', async () => {
      const before = (await api.call('GET', '/policy', api.keys.auditor)).body;
      const parameters = { ...before.inForce, creditsPerToken: '2000', maxPoolPerEpoch: '5000000' };
      delete parameters.version;
      delete parameters.effectiveFromEpoch;
      const adopted = await api.call('POST', '/policy', op(), parameters);
      expect(adopted.status).toBe(201);
      expect(adopted.body.adopted.at(-1)).toMatchObject({ version: 1, effectiveFromEpoch: 3, creditsPerToken: '2000' });
      expect(adopted.body.inForce.version).toBe(0);

      const bad = await api.call('POST', '/policy', op(), { ...parameters, weightBytesBps: 9000 });
      expect(bad.status).toBe(422);
      expect(bad.body.problems).toEqual([{ field: 'weightSessionsBps', reason: 'weightBytesBps and weightSessionsBps must sum to 10000' }]);

      const overMax = await api.call('POST', '/epochs', op(), { epoch: 3, start: '2026-11-21T00:00:00Z', end: '2026-11-28T00:00:00Z', rewardPool: '6000000' });
      expect(overMax.body.problems[0].reason).toContain("exceeds the policy's maximum pool per epoch (5000000 base units, policy version 1)");
      expect(
        (await api.call('POST', '/epochs', op(), { epoch: 3, start: '2026-11-21T00:00:00Z', end: '2026-11-28T00:00:00Z', rewardPool: '5000000' })).status,
      ).toBe(201);
      expect((await api.call('GET', '/policy', api.keys.developer)).body.inForce).toMatchObject({ version: 1, creditsPerToken: '2000' });
    });
  });
});
