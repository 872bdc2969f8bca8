import type { Decider } from './decider';
import { reject, repeatsRecorded } from './rejection';
import { Checks } from './values';

/**
 * A synqer: a node operator that relays sessions and is paid for it. Stream `synqer-<id>`.
 * A payout wallet change takes effect from the next epoch, so an epoch's payouts never depend on when in it the
 * change was made.
 */

export type SynqerEvent =
  | { type: 'SynqerRegistered'; data: { synqerId: string; payoutWallet: string; reportingKey: string; region: string; labels: Record<string, string> } }
  | { type: 'PayoutWalletChanged'; data: { synqerId: string; payoutWallet: string; effectiveFromEpoch: number } }
  | { type: 'SynqerSuspended'; data: { synqerId: string; reason: string } }
  | { type: 'SynqerReinstated'; data: { synqerId: string; reason: string } }
  /**
   * The reporting key is replaced from this event's own position in the log on: a report recorded after it counts only
   * if the new key signed it, one recorded before it was judged by the key it replaces (domain/epoch-books.ts).
   */
  | { type: 'ReportingKeyRotated'; data: { synqerId: string; reportingKey: string; previousKey: string; reason: string } };

export interface SynqerState {
  synqerId: string;
  /** The key in force: reports are verified with it. */
  reportingKey: string;
  /** Every reporting key it has had, the registered one first (a key once retired is never taken again); absent: only `reportingKey`. */
  reportingKeys?: string[];
  region: string;
  labels: Record<string, string>;
  /** Wallets in the order they were set, each from an epoch on. */
  wallets: { payoutWallet: string; fromEpoch: number }[];
  status: 'active' | 'suspended';
}

export const synqerStream = (synqerId: string) => `synqer-${synqerId}`;

export function evolveSynqer(state: SynqerState | undefined, event: SynqerEvent): SynqerState | undefined {
  switch (event.type) {
    case 'SynqerRegistered':
      return {
        synqerId: event.data.synqerId,
        reportingKey: event.data.reportingKey,
        reportingKeys: [event.data.reportingKey],
        region: event.data.region,
        labels: event.data.labels,
        wallets: [{ payoutWallet: event.data.payoutWallet, fromEpoch: 0 }],
        status: 'active',
      };
    case 'PayoutWalletChanged':
      return state && { ...state, wallets: [...state.wallets, { payoutWallet: event.data.payoutWallet, fromEpoch: event.data.effectiveFromEpoch }] };
    case 'ReportingKeyRotated':
      return (
        state && { ...state, reportingKey: event.data.reportingKey, reportingKeys: [...(state.reportingKeys ?? [state.reportingKey]), event.data.reportingKey] }
      );
    case 'SynqerSuspended':
      return state && { ...state, status: 'suspended' };
    case 'SynqerReinstated':
      return state && { ...state, status: 'active' };
  }
}

/** The wallet that receives the payouts of `epoch`. */
export function payoutWalletFor(state: Pick<SynqerState, 'wallets'>, epoch: number): string {
  let wallet = state.wallets[0].payoutWallet;
  for (const entry of state.wallets) if (entry.fromEpoch <= epoch) wallet = entry.payoutWallet;
  return wallet;
}

export interface RegisterSynqer {
  synqerId: unknown;
  payoutWallet: unknown;
  reportingKey: unknown;
  region: unknown;
  labels?: unknown;
}

/** Registers a synqer; registering the same synqer again with the same details is a no-op. */
export function register(state: SynqerState | undefined, command: RegisterSynqer): SynqerEvent[] {
  const checks = new Checks();
  const data = {
    synqerId: checks.id('synqerId', command.synqerId),
    payoutWallet: checks.publicKey('payoutWallet', command.payoutWallet),
    reportingKey: checks.signingKey('reportingKey', command.reportingKey),
    region: checks.text('region', command.region, 64),
    labels: checks.labels('labels', command.labels),
  };
  checks.done();
  if (state) {
    const registered = {
      payoutWallet: state.wallets[0].payoutWallet,
      reportingKey: state.reportingKeys?.[0] ?? state.reportingKey,
      region: state.region,
      labels: JSON.stringify(state.labels),
    };
    const asked = { payoutWallet: data.payoutWallet, reportingKey: data.reportingKey, region: data.region, labels: JSON.stringify(data.labels) };
    if (repeatsRecorded(`synqer ${data.synqerId}`, registered, asked)) return [];
  }
  return [{ type: 'SynqerRegistered', data }];
}

/** `lastOpenedEpoch`: the highest epoch opened so far (0 if none); the new wallet applies from the one after it. */
export function changePayoutWallet(state: SynqerState | undefined, command: { payoutWallet: unknown }, lastOpenedEpoch: number): SynqerEvent[] {
  const existing = requireSynqer(state);
  const checks = new Checks();
  const payoutWallet = checks.publicKey('payoutWallet', command.payoutWallet);
  checks.done();
  const effectiveFromEpoch = lastOpenedEpoch + 1;
  const pending = existing.wallets[existing.wallets.length - 1];
  if (pending.payoutWallet === payoutWallet && pending.fromEpoch >= effectiveFromEpoch - 1) return [];
  return [{ type: 'PayoutWalletChanged', data: { synqerId: existing.synqerId, payoutWallet, effectiveFromEpoch } }];
}

/**
 * Replaces the reporting key (a leaked key, a routine change): the new key must be a sound ed25519 key that this
 * synqer never had. Rotating to the key in force is a no-op (a retried request).
 */
export function rotateReportingKey(state: SynqerState | undefined, command: { reportingKey: unknown; reason?: unknown }): SynqerEvent[] {
  const existing = requireSynqer(state);
  const checks = new Checks();
  const reportingKey = checks.signingKey('reportingKey', command.reportingKey);
  const reason = command.reason === undefined ? 'rotated' : checks.text('reason', command.reason);
  checks.done();
  if (reportingKey === existing.reportingKey) return [];
  if ((existing.reportingKeys ?? [existing.reportingKey]).includes(reportingKey))
    reject('conflict', 'reportingKey', `was a reporting key of synqer ${existing.synqerId} before: a retired key is never taken again`);
  return [{ type: 'ReportingKeyRotated', data: { synqerId: existing.synqerId, reportingKey, previousKey: existing.reportingKey, reason } }];
}

export function suspend(state: SynqerState | undefined, command: { reason: unknown }): SynqerEvent[] {
  const existing = requireSynqer(state);
  const checks = new Checks();
  const reason = checks.text('reason', command.reason, 500, { multiline: true });
  checks.done();
  if (existing.status === 'suspended') reject('conflict', 'synqerId', `synqer ${existing.synqerId} is already suspended`);
  return [{ type: 'SynqerSuspended', data: { synqerId: existing.synqerId, reason } }];
}

export function reinstate(state: SynqerState | undefined, command: { reason: unknown }): SynqerEvent[] {
  const existing = requireSynqer(state);
  const checks = new Checks();
  const reason = checks.text('reason', command.reason, 500, { multiline: true });
  checks.done();
  if (existing.status === 'active') reject('conflict', 'synqerId', `synqer ${existing.synqerId} is not suspended`);
  return [{ type: 'SynqerReinstated', data: { synqerId: existing.synqerId, reason } }];
}

function requireSynqer(state: SynqerState | undefined): SynqerState {
  if (!state) reject('not_found', 'synqerId', 'no synqer is registered with this id');
  return state;
}

export type SynqerCommand =
  | { type: 'RegisterSynqer'; data: RegisterSynqer }
  /** `lastOpenedEpoch`: the highest epoch opened so far (0 if none). */
  | { type: 'ChangePayoutWallet'; data: { payoutWallet: unknown; lastOpenedEpoch: number } }
  | { type: 'RotateReportingKey'; data: { reportingKey: unknown; reason?: unknown } }
  | { type: 'SuspendSynqer'; data: { reason: unknown } }
  | { type: 'ReinstateSynqer'; data: { reason: unknown } };

/** A synqer, by its id: `synqer-<id>`. */
export const synqerDecider: Decider<SynqerState | undefined, SynqerEvent, SynqerCommand, string> = {
  streamOf: synqerStream,
  initial: () => undefined,
  evolve: evolveSynqer,
  decide(command, state) {
    switch (command.type) {
      case 'RegisterSynqer':
        return register(state, command.data);
      case 'ChangePayoutWallet':
        return changePayoutWallet(state, command.data, command.data.lastOpenedEpoch);
      case 'RotateReportingKey':
        return rotateReportingKey(state, command.data);
      case 'SuspendSynqer':
        return suspend(state, command.data);
      case 'ReinstateSynqer':
        return reinstate(state, command.data);
    }
  },
};
