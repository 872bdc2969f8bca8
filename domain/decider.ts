/**
 * A stream type of the books, described once: which stream an instance lives on, its state before any event, how an
 * event changes the state, and how a command is decided on the state (its events, or a `CommandRejected`). Emmett's
 * Decider (`decide(command, state)`, `evolve(state, event)`, `initialState()`) with the stream's name added.
 *
 * Each stream type exports one record (`networkDecider` in network.ts, `stakeDecider` in stake.ts, ...) composed of
 * that file's functions; the command side loads and appends through it (src/commands/streams.ts), and the tests state
 * given events, when a command, then events or a rejection (test/support/decider-specification.ts).
 */

export interface DomainEvent {
  type: string;
  data: object;
}

export interface Decider<State, Event extends DomainEvent, Command, Id = void> {
  /** The stream an instance lives on; singleton streams take no id. */
  streamOf(id: Id): string;
  initial(): State;
  evolve(state: State, event: Event): State;
  /** The events that `command` records on `state`: none when it is recorded already; throws CommandRejected when refused. */
  decide(command: Command, state: State): Event[];
  /**
   * Set where `evolve` extends the state it is given and returns it (a stream of many events would fold in quadratic
   * time if each event copied the state): a state loaded from such a stream must never be shared.
   */
  readonly evolvesInPlace?: true;
}
