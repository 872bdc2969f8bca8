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

/**
 * An operation whose id was seen before (`recorded`: its content then, field by field; undefined when the id is new).
 * The same content is a repeat (true: nothing new to decide); other content is refused as a conflict naming the first
 * field that differs and the value recorded for it.
 */
export function repeatsRecorded(what: string, recorded: Readonly<Record<string, string>> | undefined, content: Readonly<Record<string, string>>): boolean {
  if (recorded === undefined) return false;
  for (const field of new Set([...Object.keys(content), ...Object.keys(recorded)])) {
    if (recorded[field] !== content[field]) {
      reject('conflict', field, `${what} is already recorded with ${field} ${recorded[field] === undefined ? 'unset' : JSON.stringify(recorded[field])}`);
    }
  }
  return true;
}
