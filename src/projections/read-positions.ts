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
 * Read your writes, bounded: waits until the projection has applied everything the log holds now (so what a command
 * recorded before this request is in the answer), at most `waitMs`. A projection paused by a rewind, or failed, is not
 * waited for: it answers as it stands, and its position says so. Returns the log position waited for.
 */
export async function awaitProjection(store: EventStore, runner: ProjectionRunner, name: string, waitMs = READ_WAIT_MS): Promise<bigint> {
  const log = await store.lastPosition();
  await runner.waitFor({ position: log, names: [name], timeoutMs: waitMs }).catch(() => undefined);
  return log;
}

/** `X-Projection-Position` and `X-Log-Position` on the answer. */
export function sendReadPositions(response: { setHeader(name: string, value: string): void }, positions: ReadPositions): void {
  response.setHeader('X-Projection-Position', positions.projection.toString());
  response.setHeader('X-Log-Position', positions.log.toString());
}
