import type {
  AppendRequest,
  AppendResult,
  EventStore,
  EventStoreKind,
  EventToAppend,
  ExpectedRevision,
  ReadAllOptions,
  ReadStreamOptions,
  RecordedEvent,
  SubscribeOptions,
  Subscription,
} from '../event-store/event-store';
import type { EngineMetrics } from './engine-metrics';

/**
 * Any event store, with the latency of `append` and `appendMany` measured into `synq_event_store_append_duration_seconds`
 * (and the events written counted). Everything else passes straight through.
 */
export class MeasuredEventStore implements EventStore {
  constructor(
    private readonly inner: EventStore,
    private readonly metrics: EngineMetrics,
  ) {}

  get kind(): EventStoreKind {
    return this.inner.kind;
  }

  async append(stream: string, events: readonly EventToAppend[], options?: { expectedRevision?: ExpectedRevision }): Promise<AppendResult> {
    const done = this.metrics.startAppend('append');
    try {
      const result = await this.inner.append(stream, events, options);
      done('ok', result.written ? events.length : 0);
      return result;
    } catch (error) {
      done('error', 0);
      throw error;
    }
  }

  async appendMany(requests: readonly AppendRequest[]): Promise<(AppendResult | Error)[]> {
    const done = this.metrics.startAppend('append_many');
    try {
      const results = await this.inner.appendMany(requests);
      let written = 0;
      results.forEach((result, i) => {
        if (!(result instanceof Error) && result.written) written += requests[i].events.length;
      });
      done('ok', written);
      return results;
    } catch (error) {
      done('error', 0);
      throw error;
    }
  }

  readStream(stream: string, options?: ReadStreamOptions): AsyncIterable<RecordedEvent> {
    return this.inner.readStream(stream, options);
  }

  readAll(options?: ReadAllOptions): AsyncIterable<RecordedEvent> {
    return this.inner.readAll(options);
  }

  subscribeToAll(options?: SubscribeOptions): Subscription {
    return this.inner.subscribeToAll(options);
  }

  lastPosition(): Promise<bigint> {
    return this.inner.lastPosition();
  }

  countAfter(position: bigint): Promise<bigint> {
    return this.inner.countAfter(position);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
