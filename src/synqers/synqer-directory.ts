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
  /** Each synqer's reporting keys with the positions they came into force (registration, then each rotation). */
  private readonly keys = new Map<string, { key: string; from: bigint }[]>();
  private checkpoint = 0n;
  private readonly catchingUp = new KeyedQueue();

  constructor(@Inject(EVENT_STORE) private readonly store: EventStore) {}

  /** The synqer's reporting key in force at `position` (as of the last `current()`): the last one recorded before it. */
  keyAt(synqerId: string, position: bigint): string | undefined {
    let key: string | undefined;
    for (const entry of this.keys.get(synqerId) ?? []) if (entry.from < position) key = entry.key;
    return key;
  }

  /** The directory after every synqer event recorded so far. */
  current(): Promise<ReadonlyMap<string, synqer.SynqerState | undefined>> {
    return this.catchingUp.run('synqers', async () => {
      for await (const event of this.store.readAll({ after: this.checkpoint, category: 'synqer' })) {
        const synqerId = event.stream.slice('synqer-'.length);
        this.synqers.set(synqerId, synqer.evolveSynqer(this.synqers.get(synqerId), { type: event.type, data: event.data } as synqer.SynqerEvent));
        if (event.type === 'SynqerRegistered' || event.type === 'ReportingKeyRotated') {
          const keys = this.keys.get(synqerId) ?? [];
          keys.push({ key: (event.data as { reportingKey: string }).reportingKey, from: event.position });
          this.keys.set(synqerId, keys);
        }
        this.checkpoint = event.position;
      }
      return this.synqers;
    });
  }
}
