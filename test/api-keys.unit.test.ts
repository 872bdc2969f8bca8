import { apiKeyDecider, type ApiKeyEvent } from '../domain/api-key';
import { synqerDecider, type SynqerEvent } from '../domain/synqer';
import { generateReportingKeypair, publicKeyOf } from '../src/commands/ed25519';
import { DeciderSpecification } from './support/decider-specification';

/** The API key and reporting key deciders (issue 16), given / when / then. */

describe('API key decider', () => {
  const spec = DeciderSpecification.for(apiKeyDecider);
  const at = '2026-12-01T10:00:00.000Z';
  const created: ApiKeyEvent = { type: 'ApiKeyCreated', data: { keyId: 'abc123def456', role: 'auditor', developerId: null, createdAt: at } };
  const revoked: ApiKeyEvent = { type: 'ApiKeyRevoked', data: { keyId: 'abc123def456', reason: 'leaked', revokedAt: at } };

  it('creates once; the same again is a no-op, another role a conflict', () => {
    spec
      .given([])
      .when({ type: 'CreateApiKey', data: { keyId: 'abc123def456', role: 'auditor', at } })
      .then([created]);
    spec
      .given([created])
      .when({ type: 'CreateApiKey', data: { keyId: 'abc123def456', role: 'auditor', at } })
      .then([]);
    spec
      .given([created])
      .when({ type: 'CreateApiKey', data: { keyId: 'abc123def456', role: 'operator', at } })
      .thenRejects('conflict', { field: 'role' });
  });

  it('checks the role and the developer', () => {
    spec
      .given([])
      .when({ type: 'CreateApiKey', data: { keyId: 'abc123def456', role: 'root', at } })
      .thenRejects('invalid', { field: 'role' });
    spec
      .given([])
      .when({ type: 'CreateApiKey', data: { keyId: 'abc123def456', role: 'developer', at } })
      .thenRejects('invalid', { field: 'developerId' });
    spec
      .given([])
      .when({ type: 'CreateApiKey', data: { keyId: 'abc123def456', role: 'auditor', developerId: 'dev1', at } })
      .thenRejects('invalid', { field: 'developerId' });
  });

  it('revokes once, for good; a key the table knows but whose creation was never recorded is revoked all the same', () => {
    spec
      .given([created])
      .when({ type: 'RevokeApiKey', data: { keyId: 'abc123def456', reason: 'leaked', at, known: true } })
      .then([revoked]);
    spec
      .given([created, revoked])
      .when({ type: 'RevokeApiKey', data: { keyId: 'abc123def456', at, known: true } })
      .then([]);
    spec
      .given([])
      .when({ type: 'RevokeApiKey', data: { keyId: 'abc123def456', reason: 'leaked', at, known: true } })
      .then([revoked]);
    spec
      .given([])
      .when({ type: 'RevokeApiKey', data: { keyId: 'abc123def456', at, known: false } })
      .thenRejects('not_found', { field: 'keyId' });
  });
});

describe('reporting key rotation (synqer decider)', () => {
  const spec = DeciderSpecification.for(synqerDecider);
  const [first, second] = [publicKeyOf(generateReportingKeypair()), publicKeyOf(generateReportingKeypair())];
  const registered: SynqerEvent = {
    type: 'SynqerRegistered',
    data: { synqerId: 'alpha', payoutWallet: publicKeyOf(generateReportingKeypair()), reportingKey: first, region: 'eu', labels: {} },
  };
  const rotated: SynqerEvent = { type: 'ReportingKeyRotated', data: { synqerId: 'alpha', reportingKey: second, previousKey: first, reason: 'rotated' } };

  it('rotates to a sound new key; the key in force again is a no-op; a retired key is a conflict; an unknown synqer is not found', () => {
    const state = spec
      .given([registered])
      .when({ type: 'RotateReportingKey', data: { reportingKey: second } })
      .then([rotated]);
    expect(state).toMatchObject({ reportingKey: second, reportingKeys: [first, second] });
    spec
      .given([registered, rotated])
      .when({ type: 'RotateReportingKey', data: { reportingKey: second } })
      .then([]);
    spec
      .given([registered, rotated])
      .when({ type: 'RotateReportingKey', data: { reportingKey: first } })
      .thenRejects('conflict', { field: 'reportingKey' });
    spec
      .given([])
      .when({ type: 'RotateReportingKey', data: { reportingKey: second } })
      .thenRejects('not_found', { field: 'synqerId' });
    spec
      .given([registered])
      .when({ type: 'RotateReportingKey', data: { reportingKey: '11111111111111111111111111111111' } })
      .thenRejects('invalid', { field: 'reportingKey' });
  });

  it('registering again as first registered is still a no-op after a rotation', () => {
    const { synqerId, payoutWallet, region } = registered.data as { synqerId: string; payoutWallet: string; region: string };
    spec
      .given([registered, rotated])
      .when({ type: 'RegisterSynqer', data: { synqerId, payoutWallet, reportingKey: first, region } })
      .then([]);
  });
});
