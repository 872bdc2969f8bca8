import { Inject, Injectable, Optional, type OnModuleDestroy } from '@nestjs/common';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { base58Decode } from '../../domain/values';
import { APP_CONFIG, type AppConfig } from '../config/config';
import { strictKey, strictSignature, verifyEd25519 } from './ed25519';

export interface SignatureCheck {
  message: Uint8Array;
  /** base58 */
  signature: string;
  /** base58 ed25519 public key */
  publicKey: string;
}

/** One message to a worker: checks packed into four buffers, so that posting it moves bytes, not objects. */
interface PackedChecks {
  id: number;
  /** All messages back to back; message i is bytes [ends[i-1], ends[i]). */
  messages: Uint8Array<ArrayBuffer>;
  ends: Uint32Array<ArrayBuffer>;
  /** 64 bytes per check. */
  signatures: Uint8Array<ArrayBuffer>;
  /** 32 bytes per check. */
  publicKeys: Uint8Array<ArrayBuffer>;
}

interface Decoded {
  index: number;
  message: Uint8Array;
  signature: Uint8Array;
  publicKey: Uint8Array;
}

interface Job {
  packed: PackedChecks;
  resolve: (results: Uint8Array) => void;
  reject: (error: Error) => void;
}

interface PoolWorker {
  worker: Worker;
  /** Jobs posted and not answered yet, by id. */
  posted: Map<number, Job>;
}

/**
 * Checks per message to a worker: large enough that posting costs next to nothing beside the checks (about 30 ms of
 * verification), small enough that a batch spreads over every worker and a busy one does not hold the rest back.
 */
const CHECKS_PER_MESSAGE = 200;
/** Messages a worker may hold at once: the next is already there when it finishes one. */
const MESSAGES_PER_WORKER = 2;
/** On the event loop (no workers), other work gets a turn after this many checks. */
const CHECKS_PER_TURN = 64;

/** One worker thread per core: the verifications are most of a report's cost, and the cores are shared with the rest anyway. */
export const defaultVerifyWorkers = (): number => Math.max(1, availableParallelism());

// The worker only needs node:crypto: the strict byte checks are made before posting, and keys arrive as raw bytes,
// imported once per key and kept.
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createPublicKey, verify } = require('node:crypto');
const PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
const keys = new Map();
parentPort.on('message', ({ id, messages, ends, signatures, publicKeys }) => {
  const results = new Uint8Array(ends.length);
  let start = 0;
  for (let i = 0; i < ends.length; i++) {
    const raw = publicKeys.subarray(i * 32, i * 32 + 32);
    const hex = Buffer.from(raw.buffer, raw.byteOffset, 32).toString('hex');
    let key = keys.get(hex);
    if (!key) {
      key = createPublicKey({ key: Buffer.concat([PREFIX, raw]), format: 'der', type: 'spki' });
      if (keys.size > 100000) keys.clear();
      keys.set(hex, key);
    }
    results[i] = verify(null, messages.subarray(start, ends[i]), key, signatures.subarray(i * 64, i * 64 + 64)) ? 1 : 0;
    start = ends[i];
  }
  parentPort.postMessage({ id, results }, [results.buffer]);
});`;

/**
 * Strict ed25519 verification of many signatures at once (a batch of metric reports), on a pool of worker threads
 * (SYNQ_VERIFY_WORKERS, one per core by default) so that the event loop decides and appends while they verify. A
 * batch is cut into messages of CHECKS_PER_MESSAGE checks queued for whichever worker is free first. With 0 workers the
 * checks run on the event loop, in turns.
 */
@Injectable()
export class SignatureVerifier implements OnModuleDestroy {
  private readonly pool: PoolWorker[];
  private readonly waiting: Job[] = [];
  private readonly decodedKeys = new Map<string, Uint8Array | undefined>();
  private nextId = 0;
  private stopped = false;

  constructor(@Optional() @Inject(APP_CONFIG) config?: Pick<AppConfig, 'verifyWorkers'>) {
    const size = config?.verifyWorkers ?? defaultVerifyWorkers();
    this.pool = Array.from({ length: size }, () => this.startWorker());
  }

  /** Worker threads verifying (0: the event loop does). */
  get workers(): number {
    return this.pool.length;
  }

  /** One result per check, in order; malformed base58, or a signature or key a strict verifier refuses, is simply not valid. */
  async verifyMany(checks: readonly SignatureCheck[]): Promise<boolean[]> {
    const results: boolean[] = new Array(checks.length).fill(false);
    if (this.pool.length === 0) {
      await this.verifyHere(checks, results);
      return results;
    }
    const decoded: Decoded[] = [];
    checks.forEach((check, index) => {
      const signature = base58Decode(check.signature);
      const publicKey = this.publicKeyBytes(check.publicKey);
      // Strict ed25519: canonical S, no small-order or non-canonical R (the key was checked when decoded).
      if (signature && strictSignature(signature) && publicKey) decoded.push({ index, message: check.message, signature, publicKey });
    });
    const answers: Promise<void>[] = [];
    for (let from = 0; from < decoded.length; from += CHECKS_PER_MESSAGE) {
      const chunk = decoded.slice(from, from + CHECKS_PER_MESSAGE);
      answers.push(this.post(pack(this.nextId++, chunk)).then((valid) => chunk.forEach((check, i) => (results[check.index] = valid[i] === 1))));
    }
    this.pump();
    await Promise.all(answers);
    return results;
  }

  async onModuleDestroy(): Promise<void> {
    this.stopped = true;
    for (const job of this.waiting.splice(0)) job.reject(new Error('signature verification stopped'));
    await Promise.all(this.pool.map(({ worker }) => worker.terminate()));
  }

  /** The same strict checks and verification, on this thread, letting other work in every CHECKS_PER_TURN checks. */
  private async verifyHere(checks: readonly SignatureCheck[], results: boolean[]): Promise<void> {
    for (let i = 0; i < checks.length; i++) {
      if (i > 0 && i % CHECKS_PER_TURN === 0) await new Promise((resolve) => setImmediate(resolve));
      const { message, signature, publicKey } = checks[i];
      results[i] = verifyEd25519(message, signature, publicKey);
    }
  }

  private post(packed: PackedChecks): Promise<Uint8Array> {
    if (this.stopped) return Promise.reject(new Error('signature verification stopped'));
    return new Promise((resolve, reject) => this.waiting.push({ packed, resolve, reject }));
  }

  /** Hands waiting messages to the workers that hold fewer than MESSAGES_PER_WORKER, the least busy first. */
  private pump(): void {
    while (this.waiting.length > 0) {
      let target: PoolWorker | undefined;
      for (const candidate of this.pool) if (!target || candidate.posted.size < target.posted.size) target = candidate;
      if (!target || target.posted.size >= MESSAGES_PER_WORKER) return;
      const job = this.waiting.shift()!;
      target.posted.set(job.packed.id, job);
      const { packed } = job;
      target.worker.postMessage(packed, [packed.messages.buffer, packed.ends.buffer, packed.signatures.buffer, packed.publicKeys.buffer]);
    }
  }

  private startWorker(): PoolWorker {
    const worker = new Worker(WORKER_SOURCE, { eval: true });
    // An idle pool does not keep the process alive.
    worker.unref();
    const member: PoolWorker = { worker, posted: new Map() };
    worker.on('message', ({ id, results }: { id: number; results: Uint8Array }) => {
      const job = member.posted.get(id);
      member.posted.delete(id);
      job?.resolve(results);
      this.pump();
    });
    // A worker that dies fails what it held (the batch answers 500 and may be sent again); a new one takes its place.
    const fail = (error: Error) => {
      for (const job of member.posted.values()) job.reject(error);
      member.posted.clear();
      const at = this.pool.indexOf(member);
      if (at >= 0 && !this.stopped) {
        this.pool[at] = this.startWorker();
        this.pump();
      }
    };
    worker.on('error', fail);
    worker.on('exit', (code) => {
      if (!this.stopped) fail(new Error(`a signature worker exited with code ${code}`));
    });
    return member;
  }

  /** Reporting keys repeat in every batch: each is decoded once. */
  private publicKeyBytes(publicKey: string): Uint8Array | undefined {
    if (this.decodedKeys.has(publicKey)) return this.decodedKeys.get(publicKey);
    const bytes = base58Decode(publicKey);
    const key = bytes && strictKey(bytes) ? bytes : undefined;
    if (this.decodedKeys.size >= 100_000) this.decodedKeys.clear();
    this.decodedKeys.set(publicKey, key);
    return key;
  }
}

function pack(id: number, checks: Decoded[]): PackedChecks {
  const ends = new Uint32Array(checks.length);
  let total = 0;
  checks.forEach(({ message }, i) => (ends[i] = total += message.length));
  const messages = new Uint8Array(total);
  const signatures = new Uint8Array(checks.length * 64);
  const publicKeys = new Uint8Array(checks.length * 32);
  checks.forEach(({ message, signature, publicKey }, i) => {
    messages.set(message, i === 0 ? 0 : ends[i - 1]);
    signatures.set(signature, i * 64);
    publicKeys.set(publicKey, i * 32);
  });
  return { id, messages, ends, signatures, publicKeys };
}
