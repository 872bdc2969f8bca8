import { Inject, Injectable } from '@nestjs/common';
import * as synqer from '../../domain/synqer';
import { EVENT_STORE, type EventStore } from '../event-store/event-store';
import { KeyedQueue } from '../commands/keyed-queue';

/**
 * Every synqer's state, kept current by reading the `synqer` category from where it last stopped: one query per use
 * instead of one per synqer. Reads go up to the store's watermark, so a change committed before the call is seen.
 */
@Injectable()
export class SynqerDirectory {
  private readonly synqers = new Map<string, synqer.SynqerState | undefined>();
  private checkpoint = 0n;
  private readonly catchingUp = new KeyedQueue();

  constructor(@Inject(EVENT_STORE) private readonly store: EventStore) {}

  /** The directory after every synqer event recorded so far. */
  current(): Promise<ReadonlyMap<string, synqer.SynqerState | undefined>> {
    return this.catchingUp.run('synqers', async () => {
      for await (const event of this.store.readAll({ after: this.checkpoint, category: 'synqer' })) {
        const synqerId = event.stream.slice('synqer-'.length);
        this.synqers.set(synqerId, synqer.evolveSynqer(this.synqers.get(synqerId), { type: event.type, data: event.data } as synqer.SynqerEvent));
        this.checkpoint = event.position;
      }
      return this.synqers;
    });
  }
}
