import type { Decider, DomainEvent } from '../../domain/decider';
import { CommandRejected, type Problem, type RejectionKind } from '../../domain/rejection';

/**
 * Decider tests as given / when / then, after Emmett's `DeciderSpecification`:
 *
 *   const spec = DeciderSpecification.for(networkDecider);
 *   spec.given([funded]).when({ type: 'OpenEpoch', data: { ... } }).then([opened]);
 *   spec.given([funded, opened]).when({ type: 'OpenEpoch', data: { ... } }).thenRejects('conflict', { field: 'epoch' });
 *
 * `given` replays the events through the decider's `evolve` from its initial state (afresh for each `when`, since some
 * deciders evolve in place); `when` decides the command on that state.
 */
export const DeciderSpecification = {
  for<S, E extends DomainEvent, C, Id>(decider: Decider<S, E, C, Id>) {
    return {
      given: (events: readonly E[] = []) => ({
        when: (command: C) => new Then(decider, events, command),
      }),
    };
  },
};

class Then<S, E extends DomainEvent, C, Id> {
  constructor(
    private readonly decider: Decider<S, E, C, Id>,
    private readonly given: readonly E[],
    private readonly command: C,
  ) {}

  /**
   * The command records exactly `expected` (or, given a function, events it accepts). Answers the state after the
   * given events and these, for assertions on what they mean.
   */
  then(expected: readonly E[] | ((events: E[]) => void)): S {
    const state = this.givenState();
    const events = this.decider.decide(this.command, state);
    if (typeof expected === 'function') expected(events);
    else expect(events).toEqual(expected);
    return events.reduce((current, event) => this.decider.evolve(current, event), state);
  }

  /** The command is recorded already (or asks for nothing): no events. */
  thenNothingHappened(): S {
    return this.then([]);
  }

  /**
   * The command is refused with a `CommandRejected`: of `kind` when given; `problem` is a text the message contains
   * (as jest's `toThrow(text)`), a pattern it matches, fields of its first problem (`{ field, reason }`, compared as
   * `toMatchObject` does) or every problem, exactly. Answers the rejection.
   */
  thenRejects(kind?: RejectionKind, problem?: string | RegExp | Partial<Record<keyof Problem, unknown>> | Problem[]): CommandRejected {
    const state = this.givenState();
    let rejection: CommandRejected | undefined;
    let events: E[] | undefined;
    try {
      events = this.decider.decide(this.command, state);
    } catch (error) {
      if (!(error instanceof CommandRejected)) throw error;
      rejection = error;
    }
    if (!rejection) throw new Error(`expected the command to be refused; it recorded ${JSON.stringify(events?.map((event) => event.type))}`);
    if (kind !== undefined) expect(rejection.kind).toBe(kind);
    if (typeof problem === 'string') expect(rejection.message).toContain(problem);
    else if (problem instanceof RegExp) expect(rejection.message).toMatch(problem);
    else if (Array.isArray(problem)) expect(rejection.problems).toEqual(problem);
    else if (problem !== undefined) expect(rejection.problems[0]).toMatchObject(problem);
    return rejection;
  }

  private givenState(): S {
    return this.given.reduce((state, event) => this.decider.evolve(state, event), this.decider.initial());
  }
}
