import { Injectable, type OnModuleDestroy } from '@nestjs/common';
import { cpus } from 'node:os';
import { Worker } from 'node:worker_threads';
import { base58Decode } from '../../domain/values';

export interface SignatureCheck {
  message: Uint8Array;
  /** base58 */
  signature: string;
  /** base58 ed25519 public key */
  publicKey: string;
}

// The worker only needs node:crypto: keys arrive as raw bytes, imported once per key and kept.
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createPublicKey, verify } = require('node:crypto');
const PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
const keys = new Map();
parentPort.on('message', ({ id, checks }) => {
  const results = checks.map(({ message, signature, publicKey }) => {
    const hex = Buffer.from(publicKey).toString('hex');
    let key = keys.get(hex);
    if (!key) {
      key = createPublicKey({ key: Buffer.concat([PREFIX, publicKey]), format: 'der', type: 'spki' });
      if (keys.size > 100000) keys.clear();
      keys.set(hex, key);
    }
    return verify(null, message, key, signature);
  });
  parentPort.postMessage({ id, results });
});`;

/** ed25519 verification spread over one worker thread per core, so a batch's signatures do not hold the event loop. */
@Injectable()
export class SignatureVerifier implements OnModuleDestroy {
  private readonly workers: Worker[];
  private readonly pending = new Map<number, (results: boolean[]) => void>();
  private nextId = 0;

  constructor() {
    this.workers = Array.from({ length: Math.max(1, cpus().length) }, () => {
      const worker = new Worker(WORKER_SOURCE, { eval: true });
      worker.unref();
      worker.on('message', ({ id, results }: { id: number; results: boolean[] }) => {
        this.pending.get(id)?.(results);
        this.pending.delete(id);
      });
      return worker;
    });
  }

  /** One result per check, in order; malformed base58 is simply not valid. */
  async verifyMany(checks: readonly SignatureCheck[]): Promise<boolean[]> {
    const results: boolean[] = new Array(checks.length).fill(false);
    const decoded: { index: number; message: Uint8Array; signature: Uint8Array; publicKey: Uint8Array }[] = [];
    checks.forEach((check, index) => {
      const signature = base58Decode(check.signature);
      const publicKey = base58Decode(check.publicKey);
      if (signature?.length === 64 && publicKey?.length === 32) decoded.push({ index, message: check.message, signature, publicKey });
    });
    const size = Math.ceil(decoded.length / this.workers.length);
    await Promise.all(
      this.workers.map(async (worker, w) => {
        const chunk = decoded.slice(w * size, (w + 1) * size);
        if (chunk.length === 0) return;
        const id = this.nextId++;
        const answered = new Promise<boolean[]>((resolve) => this.pending.set(id, resolve));
        worker.postMessage({ id, checks: chunk.map(({ message, signature, publicKey }) => ({ message, signature, publicKey })) });
        (await answered).forEach((valid, i) => (results[chunk[i].index] = valid));
      }),
    );
    return results;
  }

  async onModuleDestroy(): Promise<void> {
    await Promise.all(this.workers.map((worker) => worker.terminate()));
  }
}
