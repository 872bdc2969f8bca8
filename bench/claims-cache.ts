/**
 * bench/claims-cache: what one epoch's claims hold in memory, before and after issue 17 item 9, and what a proof
 * lookup costs in each. `npm run bench:claims-cache` (BENCH_LEAVES=1000000 by default; node runs with --expose-gc).
 *
 * A real distribution of BENCH_LEAVES random wallets is built by domain/merkle-distribution.ts, its levels joined into
 * one Buffer each (as the cache reads them from the stored chunks), and its leaves turned into the rows the settlement
 * projection's query gives (wallet base58, leaf index, amount as decimal text: fresh strings, as pg makes them). Then,
 * each measured alone as heap + external memory after a full GC (levels excluded: the same Buffers in both, stated
 * apart):
 *   - before: the cache as it was, a Map of wallet string → { index, amount string };
 *   - after: EpochClaims (src/epochs/claims-cache.ts), sorted 32-byte keys in one Buffer, amounts in a BigUint64Array.
 * Every answer of the two is compared for a sample of wallets (byte-identical, or the bench fails), and the median and
 * 99th percentile of a lookup (wallet in, claim with its proof out) are timed over the same sample.
 *
 * Prints Markdown and writes bench/results/claims-cache-latest.md.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import * as path from 'node:path';
import { buildDistribution, proofNodePositions } from '../domain/merkle-distribution';
import { base58Encode } from '../domain/values';
import { EpochClaims, type Claim } from '../src/epochs/claims-cache';
import { projectRoot } from '../src/project-root';

const LEAVES = Number(process.env.BENCH_LEAVES ?? 1_000_000);
const SAMPLE = Math.min(LEAVES, 200_000);
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc (npm run bench:claims-cache does)');
const log = (line: string) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`);
const now = () => Number(process.hrtime.bigint()) / 1e9;

type Row = { wallet: string; leaf_index: number; amount: string };

/** Heap and external memory after full collections. */
function used(): number {
  for (let i = 0; i < 3; i++) gc!();
  const memory = process.memoryUsage();
  return memory.heapUsed + memory.external;
}

/** The cache of before issue 17 item 9, as it held an epoch (its level Buffers aside). */
class MapClaims {
  readonly leaves = new Map<string, { index: number; amount: string }>();

  constructor(
    private readonly root: string,
    private readonly leafCount: number,
    rows: readonly Row[],
    private readonly levels: readonly Buffer[],
  ) {
    for (const row of rows) this.leaves.set(row.wallet, { index: row.leaf_index, amount: row.amount });
  }

  claim(wallet: string): Claim | null {
    const leaf = this.leaves.get(wallet);
    if (!leaf) return null;
    const proof = proofNodePositions(this.leafCount, leaf.index).map(({ level, index }) =>
      this.levels[level].subarray(index * 32, index * 32 + 32).toString('hex'),
    );
    return { index: leaf.index, amount: leaf.amount, root: this.root, proof };
  }
}

function main(): void {
  const started = now();
  const payouts = Array.from({ length: LEAVES }, (_, i) => ({
    wallet: base58Encode(randomBytes(32)),
    amount: BigInt(1 + ((i * 7_919) % 10_000_019)) * 1_000n,
  }));
  const built = buildDistribution(payouts);
  const root = built.rootHex;
  const levels = built.levels.map((level) => Buffer.concat(level));
  const levelBytes = levels.reduce((sum, level) => sum + level.length, 0);
  // Fresh strings per row, as the pg driver gives them (not the ones the distribution holds).
  const rowsOf = (): Row[] =>
    built.leaves.map((leaf) => ({ wallet: Buffer.from(leaf.wallet).toString(), leaf_index: leaf.index, amount: leaf.amount.toString() }));
  const sample = Array.from({ length: SAMPLE }, (_, k) => built.leaves[Math.floor((k * LEAVES) / SAMPLE)].wallet);
  const strangers = Array.from({ length: 1000 }, () => base58Encode(randomBytes(32)));
  payouts.length = 0;
  log(`${LEAVES.toLocaleString('en-US')} leaves built in ${(now() - started).toFixed(1)} s; levels ${(levelBytes / 2 ** 20).toFixed(1)} MiB`);

  const measure = (make: (rows: Row[]) => { claim(wallet: string): Claim | null }) => {
    const baseline = used();
    // Built in a frame of its own: a stale interpreter register of this one would otherwise keep the rows alive.
    const { holder, buildSeconds } = (() => {
      const rows = rowsOf();
      const began = now();
      return { holder: make(rows), buildSeconds: now() - began };
    })();
    const bytes = used() - baseline;
    return { holder, bytes, buildSeconds };
  };
  const before = measure((rows) => new MapClaims(root, LEAVES, rows, levels));
  log(`before: ${(before.bytes / 2 ** 20).toFixed(1)} MiB besides the levels`);
  const beforeAnswers = sample.map((wallet) => JSON.stringify(before.holder.claim(wallet)));
  const beforeTimes = time(before.holder, sample);
  before.holder = { claim: () => null };
  const after = measure((rows) => EpochClaims.from(root, rows, levels));
  const compact = after.holder as EpochClaims;
  log(`after: ${(after.bytes / 2 ** 20).toFixed(1)} MiB besides the levels (counted against the bound: ${(compact.bytes / 2 ** 20).toFixed(1)} MiB with them)`);
  sample.forEach((wallet, i) => {
    const answer = JSON.stringify(compact.claim(wallet));
    if (answer !== beforeAnswers[i]) throw new Error(`the answers for ${wallet} differ: ${beforeAnswers[i]} before, ${answer} after`);
  });
  for (const wallet of strangers) if (compact.claim(wallet) !== null) throw new Error(`${wallet} has no leaf and was answered`);
  const afterTimes = time(compact, sample);

  const perMillion = (bytes: number) => `${(((bytes / LEAVES) * 1e6) / 2 ** 20).toFixed(0)} MiB`;
  const cpu = /model name\s*:\s*(.+)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? 'unknown CPU';
  const text = [
    `Run ${new Date().toISOString()} on ${cpu}, ${cpus().length} cores, ${Math.round(totalmem() / 2 ** 30)} GiB; Node ${process.version}; load average ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}.`,
    '',
    `One epoch of ${LEAVES.toLocaleString('en-US')} leaves; heap + external after full GC, the levels (${(levelBytes / LEAVES).toFixed(0)} bytes a leaf, the same Buffers in both) added to each total. Lookups: ${SAMPLE.toLocaleString('en-US')} wallets of the epoch, answers compared byte for byte (identical).`,
    '',
    '| cache | bytes a leaf (levels aside) | per million leaves, levels included | built from the rows in | lookup p50 | lookup p99 |',
    '| --- | ---: | ---: | ---: | ---: | ---: |',
    `| before: Map of wallet strings | ${(before.bytes / LEAVES).toFixed(0)} | ${perMillion(before.bytes + levelBytes)} | ${before.buildSeconds.toFixed(2)} s | ${beforeTimes.p50.toFixed(1)} µs | ${beforeTimes.p99.toFixed(1)} µs |`,
    `| after: EpochClaims (sorted keys, BigUint64Array) | ${(after.bytes / LEAVES).toFixed(0)} | ${perMillion(after.bytes + levelBytes)} | ${after.buildSeconds.toFixed(2)} s | ${afterTimes.p50.toFixed(1)} µs | ${afterTimes.p99.toFixed(1)} µs |`,
    '',
    `What EpochClaims counts against SYNQ_CLAIMS_CACHE_MB: ${(compact.bytes / LEAVES).toFixed(1)} bytes a leaf (${perMillion(compact.bytes)} per million); measured ${((after.bytes + levelBytes) / compact.bytes).toFixed(3)}x that.`,
  ].join('\n');
  const out = path.join(projectRoot(), 'bench', 'results');
  mkdirSync(out, { recursive: true });
  writeFileSync(path.join(out, 'claims-cache-latest.md'), `${text}\n`);
  process.stdout.write(`${text}\n`);
}

/** Median and 99th percentile of one lookup, in microseconds, over the sample (after a warm-up pass). */
function time(holder: { claim(wallet: string): Claim | null }, wallets: readonly string[]): { p50: number; p99: number } {
  for (const wallet of wallets.slice(0, 10_000)) holder.claim(wallet);
  const took = new Float64Array(wallets.length);
  for (let i = 0; i < wallets.length; i++) {
    const started = process.hrtime.bigint();
    holder.claim(wallets[i]);
    took[i] = Number(process.hrtime.bigint() - started) / 1000;
  }
  took.sort();
  return { p50: took[Math.floor(took.length / 2)], p99: took[Math.floor(took.length * 0.99)] };
}

main();
