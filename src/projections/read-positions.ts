import type { EventStore } from '../event-store/event-store';
import type { ProjectionRunner } from './projection-runner';

/** How long a read waits for a read model to take in what the log held when it was asked, before answering as it stands. */
export const READ_WAIT_MS = 2_000;

/**
 * Where an answer read from a read model stands: every event up to `projection` is in it, none after; the log held
 * events up to `log` when the read was asked. `projection` below `log` says the read model was behind (the answer may
 * lack what was recorded in between). Sent as headers, so the answer's JSON is the same as a replay's.
 */
export interface ReadPositions {
  projection: bigint;
  log: bigint;
}

/**
 * Read your writes, bounded: `read` (a read model's query, answering with the projection's position in the same
 * statement) as of everything the log holds now, so that what a command recorded before this request is in the
 * answer. Behind that, it waits for the projection at most `waitMs` and reads again. A projection paused by a rewind,
 * or failed, is not waited for: it answers as it stands, and its position says so.
 */
export async function readAtLeastTheLog<T extends { position: bigint }>(
  store: EventStore,
  runner: ProjectionRunner,
  name: string,
  read: () => Promise<T>,
  waitMs = READ_WAIT_MS,
): Promise<{ answer: T; positions: ReadPositions }> {
  const log = await store.lastPosition();
  let answer = await read();
  if (answer.position < log) {
    await runner.waitFor({ position: log, names: [name], timeoutMs: waitMs }).catch(() => undefined);
    answer = await read();
  }
  return { answer, positions: { projection: answer.position, log } };
}

/** `X-Projection-Position` and `X-Log-Position` on the answer. */
export function sendReadPositions(response: { setHeader(name: string, value: string): void }, positions: ReadPositions): void {
  response.setHeader('X-Projection-Position', positions.projection.toString());
  response.setHeader('X-Log-Position', positions.log.toString());
}
