import type { Decider } from './decider';
import { reject } from './rejection';
import { Checks } from './values';

/**
 * How epochs are settled, and the circuit breaker. Stream `settlement-control`.
 * - web2: payouts are owed and marked paid in the books only (the Phase 1 back office).
 * - hybrid: the books decide, the chain executes: SPL transfers from the treasury, then verification.
 * - web3: the distribution root is anchored on chain and synqers claim with proofs.
 * A mode is chosen for the epochs not opened yet (it never changes an epoch already running), and falling back to
 * web2 is always allowed: the rollback path of the migration. A verification that finds a discrepancy pauses every
 * settlement on the chain until an operator acknowledges it, with a reason.
 */

export const SETTLEMENT_MODES = ['web2', 'hybrid', 'web3'] as const;
export type SettlementMode = (typeof SETTLEMENT_MODES)[number];

export type SettlementControlEvent =
  | { type: 'SettlementModeChosen'; data: { mode: SettlementMode; effectiveFromEpoch: number; reason: string } }
  | { type: 'SettlementPaused'; data: { verificationRunId: string; discrepancies: number; reason: string } }
  | { type: 'SettlementResumed'; data: { verificationRunId: string; reason: string } };

export interface SettlementControlState {
  /** In the order chosen; effectiveFromEpoch never decreases. */
  modes: { mode: SettlementMode; effectiveFromEpoch: number }[];
  paused?: { verificationRunId: string; discrepancies: number; reason: string };
}

export const SETTLEMENT_CONTROL_STREAM = 'settlement-control';
export const initialSettlementControl = (): SettlementControlState => ({ modes: [] });

export function evolveSettlementControl(state: SettlementControlState, event: SettlementControlEvent): SettlementControlState {
  switch (event.type) {
    case 'SettlementModeChosen':
      return {
        ...state,
        modes: [
          ...state.modes.filter((m) => m.effectiveFromEpoch < event.data.effectiveFromEpoch),
          { mode: event.data.mode, effectiveFromEpoch: event.data.effectiveFromEpoch },
        ],
      };
    case 'SettlementPaused':
      return { ...state, paused: { ...event.data } };
    case 'SettlementResumed':
      return { modes: state.modes };
  }
}

/** The mode an epoch is settled in: the last choice effective at or before it; web2 before any choice. */
export function modeOf(state: SettlementControlState, epoch: number): SettlementMode {
  let mode: SettlementMode = 'web2';
  for (const choice of state.modes) if (choice.effectiveFromEpoch <= epoch) mode = choice.mode;
  return mode;
}

/**
 * Chooses the mode for the epochs after `lastOpenedEpoch`. On-chain modes need the chain set up (`chainReady`).
 * Choosing again before the next epoch opens replaces the pending choice.
 */
export function chooseMode(
  state: SettlementControlState,
  command: { mode: unknown; reason: unknown },
  lastOpenedEpoch: number,
  chainReady: boolean,
): SettlementControlEvent[] {
  const checks = new Checks();
  const reason = checks.text('reason', command.reason, 500, { multiline: true });
  if (typeof command.mode !== 'string' || !(SETTLEMENT_MODES as readonly string[]).includes(command.mode)) {
    checks.add('mode', `must be one of ${SETTLEMENT_MODES.join(', ')}`);
  }
  checks.done();
  const mode = command.mode as SettlementMode;
  if (mode !== 'web2' && !chainReady) reject('conflict', 'mode', `${mode} settles on chain, and the chain is not set up: run \`npm run chain -- init\` first`);
  const effectiveFromEpoch = lastOpenedEpoch + 1;
  const pending = state.modes.at(-1);
  if (pending && pending.effectiveFromEpoch === effectiveFromEpoch && pending.mode === mode) return [];
  if (!pending && mode === 'web2') return [];
  return [{ type: 'SettlementModeChosen', data: { mode, effectiveFromEpoch, reason } }];
}

export function pauseSettlement(state: SettlementControlState, run: { verificationRunId: string; discrepancies: number }): SettlementControlEvent[] {
  if (state.paused) return [];
  return [{ type: 'SettlementPaused', data: { ...run, reason: `verification run ${run.verificationRunId} found ${run.discrepancies} discrepancies` } }];
}

export function resumeSettlement(state: SettlementControlState, command: { reason: unknown }): SettlementControlEvent[] {
  const checks = new Checks();
  const reason = checks.text('reason', command.reason, 500, { multiline: true });
  checks.done();
  if (!state.paused) reject('conflict', 'settlement', 'settlement is not paused');
  return [{ type: 'SettlementResumed', data: { verificationRunId: state.paused.verificationRunId, reason } }];
}

/** Refuses to move tokens while the breaker is open. */
export function requireNotPaused(state: SettlementControlState): void {
  if (state.paused) {
    reject('conflict', 'settlement', `settlement is paused: ${state.paused.reason}; an operator must acknowledge it (POST /settlement/resume with a reason)`);
  }
}

export type SettlementControlCommand =
  /** `lastOpenedEpoch` from the ledger; `chainReady`: the chain is set up. */
  | { type: 'ChooseMode'; data: { mode: unknown; reason: unknown; lastOpenedEpoch: number; chainReady: boolean } }
  | { type: 'PauseSettlement'; data: { verificationRunId: string; discrepancies: number } }
  | { type: 'ResumeSettlement'; data: { reason: unknown } };

/** Settlement modes and the circuit breaker, one stream for the whole network. */
export const settlementControlDecider: Decider<SettlementControlState, SettlementControlEvent, SettlementControlCommand> = {
  streamOf: () => SETTLEMENT_CONTROL_STREAM,
  initial: initialSettlementControl,
  evolve: evolveSettlementControl,
  decide(command, state) {
    switch (command.type) {
      case 'ChooseMode':
        return chooseMode(state, command.data, command.data.lastOpenedEpoch, command.data.chainReady);
      case 'PauseSettlement':
        return pauseSettlement(state, command.data);
      case 'ResumeSettlement':
        return resumeSettlement(state, command.data);
    }
  },
};
