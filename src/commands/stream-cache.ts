/**
 * Folded stream states kept between commands, each with the revision it was folded at. A state is only a guess: the
 * append that follows a decision names that exact revision, so a stale entry (another process wrote) fails the append,
 * is dropped and folded again. Least recently used entries go first.
 */
export class FoldedStreamCache<S> {
  private readonly entries = new Map<string, { state: S; revision: bigint | 'no_stream' }>();

  constructor(private readonly capacity: number) {}

  get(stream: string) {
    const entry = this.entries.get(stream);
    if (entry) {
      this.entries.delete(stream);
      this.entries.set(stream, entry);
    }
    return entry;
  }

  set(stream: string, state: S, revision: bigint | 'no_stream'): void {
    this.entries.delete(stream);
    this.entries.set(stream, { state, revision });
    if (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value!);
  }

  delete(stream: string): void {
    this.entries.delete(stream);
  }
}

/** Runs tasks one at a time per key within this process, so concurrent commands on one stream queue instead of racing. */
export class KeyedQueue {
  private readonly tails = new Map<string, Promise<unknown>>();

  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    const result = previous.then(task, task);
    const tail = result.catch(() => undefined);
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return result;
  }
}
