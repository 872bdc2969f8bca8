/**
 * Why a command was refused. `kind` tells the API which status to answer with; `problems` name each field and reason.
 * - invalid: the command itself is malformed or out of range (422)
 * - not_found: it names something that does not exist (404)
 * - conflict: it contradicts what is already recorded (409)
 */
export type RejectionKind = 'invalid' | 'not_found' | 'conflict';

export interface Problem {
  field: string;
  reason: string;
}

export class CommandRejected extends Error {
  constructor(
    readonly kind: RejectionKind,
    readonly problems: Problem[],
  ) {
    super(problems.map((p) => `${p.field}: ${p.reason}`).join('; '));
    this.name = 'CommandRejected';
  }
}

export function reject(kind: RejectionKind, field: string, reason: string): never {
  throw new CommandRejected(kind, [{ field, reason }]);
}
