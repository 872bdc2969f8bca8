import { Injectable, type OnModuleDestroy } from '@nestjs/common';
import { cpus } from 'node:os';
import { Worker } from 'node:worker_threads';
import { base58Decode } from '../../domain/values';
import { strictKey, strictSignature } from './ed25519';

export interface SignatureCheck {
  message: Uint8Array;
  /** base58 */
  signature: string;
  /** base58 ed25519 public key */
  publicKey: string;
}

/** One worker's share of a batch, packed into three buffers so that posting it copies bytes, not objects. */
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

// The worker only needs node:crypto: keys arrive as raw bytes, imported once per key and kept.
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

/** ed25519 verification spread over one worker thread per core, so a batch's signatures do not hold the event loop. */
@Injectable()
export class SignatureVerifier implements OnModuleDestroy {
  private readonly workers: Worker[];
  private readonly pending = new Map<number, (results: Uint8Array) => void>();
  private readonly decodedKeys = new Map<string, Uint8Array | undefined>();
  private nextId = 0;

  constructor() {
    this.workers = Array.from({ length: Math.max(1, cpus().length) }, () => {
      const worker = new Worker(WORKER_SOURCE, { eval: true });
      worker.unref();
      worker.on('message', ({ id, results }: { id: number; results: Uint8Array }) => {
        this.pending.get(id)?.(results);
        this.pending.delete(id);
      });
      return worker;
    });
  }

  /** One result per check, in order; malformed base58, or a signature or key a strict verifier refuses, is simply not valid. */
  async verifyMany(checks: readonly SignatureCheck[]): Promise<boolean[]> {
    const results: boolean[] = new Array(checks.length).fill(false);
    const decoded: { index: number; message: Uint8Array; signature: Uint8Array; publicKey: Uint8Array }[] = [];
    checks.forEach((check, index) => {
      const signature = base58Decode(check.signature);
      const publicKey = this.publicKeyBytes(check.publicKey);
      // Strict ed25519: canonical S, no small-order or non-canonical R (the key was checked when decoded).
      if (signature && strictSignature(signature) && publicKey) decoded.push({ index, message: check.message, signature, publicKey });
    });
    const size = Math.ceil(decoded.length / this.workers.length);
    await Promise.all(
      this.workers.map(async (worker, w) => {
        const chunk = decoded.slice(w * size, (w + 1) * size);
        if (chunk.length === 0) return;
        const packed = pack(this.nextId++, chunk);
        const answered = new Promise<Uint8Array>((resolve) => this.pending.set(packed.id, resolve));
        worker.postMessage(packed, [packed.messages.buffer, packed.ends.buffer, packed.signatures.buffer, packed.publicKeys.buffer]);
        (await answered).forEach((valid, i) => (results[chunk[i].index] = valid === 1));
      }),
    );
    return results;
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

  async onModuleDestroy(): Promise<void> {
    await Promise.all(this.workers.map((worker) => worker.terminate()));
  }
}

function pack(id: number, checks: { message: Uint8Array; signature: Uint8Array; publicKey: Uint8Array }[]): PackedChecks {
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
