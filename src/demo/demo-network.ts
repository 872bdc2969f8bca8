import { createHash } from 'node:crypto';
import { Keypair } from '@solana/web3.js';
import type { MetricReport } from '../../domain/metric-report';

/**
 * The demo's network, generated from a seed: the same seed gives the same synqers, keys, traffic, stakes and
 * developers, so the books (rewards, roots, amounts) come out the same on every run.
 */

export const REGIONS = ['eu-west', 'eu-central', 'us-east', 'us-west', 'ap-south', 'ap-northeast', 'sa-east'] as const;

export interface DemoSynqer {
  synqerId: string;
  region: string;
  wallet: Keypair;
  reportingKey: Uint8Array;
  /** Multiplier of its traffic: heavy-tailed (Pareto), so a few synqers relay most of the bytes. */
  capacity: number;
  profile: 'healthy' | 'poor_qos' | 'poor_uptime' | 'bad_signatures';
  /** Books stake deposited in the first epoch, base units (0: none). */
  stake: bigint;
}

export interface DemoDeveloper {
  developerId: string;
  wallet: Keypair;
  /** $SYNQ bought each epoch, base units. */
  purchase: bigint;
}

export interface DemoNetwork {
  seed: string;
  synqers: DemoSynqer[];
  developers: DemoDeveloper[];
  /** The synqer suspended during epoch 2, the one slashed in epoch 1, the one staking on chain in epoch 3. */
  suspended: string;
  slashed: string;
  stakerOnChain: string;
}

const SYNQ = 1_000_000n;

/** A small deterministic PRNG (sfc32) seeded from SHA-256 of the seed text and a purpose. */
export function random(seed: string, purpose: string): () => number {
  const h = createHash('sha256').update(`${seed}\n${purpose}`).digest();
  let a = h.readUInt32LE(0);
  let b = h.readUInt32LE(4);
  let c = h.readUInt32LE(8);
  let d = h.readUInt32LE(12);
  return () => {
    a >>>= 0;
    b >>>= 0;
    c >>>= 0;
    d >>>= 0;
    let t = (a + b) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    d = (d + 1) | 0;
    t = (t + d) | 0;
    c = (c + t) | 0;
    return (t >>> 0) / 4294967296;
  };
}

const keypair = (seed: string, purpose: string) => Keypair.fromSeed(createHash('sha256').update(`${seed}\n${purpose}`).digest());

export function demoNetwork(seed: string, synqerCount: number, developerCount: number): DemoNetwork {
  const rng = random(seed, 'network');
  const synqers: DemoSynqer[] = [];
  for (let i = 0; i < synqerCount; i++) {
    const synqerId = `synqer-${String(i + 1).padStart(3, '0')}`;
    const roll = rng();
    // Pareto with alpha 1.5: most near 1, a few ten or a hundred times larger.
    const capacity = Math.min(200, (1 - rng()) ** (-1 / 1.5));
    const profile: DemoSynqer['profile'] = i === 6 ? 'bad_signatures' : roll < 0.05 ? 'poor_qos' : roll < 0.1 ? 'poor_uptime' : 'healthy';
    const stakeRoll = rng();
    const stake = stakeRoll < 0.5 ? 0n : BigInt(Math.floor(1_000 + stakeRoll * 19_000)) * SYNQ;
    synqers.push({
      synqerId,
      region: REGIONS[Math.floor(rng() * REGIONS.length)],
      wallet: keypair(seed, `wallet:${synqerId}`),
      reportingKey: keypair(seed, `reporting:${synqerId}`).secretKey,
      capacity,
      profile,
      stake,
    });
  }
  const developers = Array.from({ length: developerCount }, (_, i) => ({
    developerId: `app-${String(i + 1).padStart(2, '0')}`,
    wallet: keypair(seed, `developer:${i}`),
    purchase: BigInt(100 + Math.floor(rng() * 4_900)) * SYNQ,
  }));
  const healthy = synqers.filter((s) => s.profile === 'healthy');
  const staked = healthy.filter((s) => s.stake > 0n);
  return {
    seed,
    synqers,
    developers,
    suspended: healthy[Math.min(5, healthy.length - 1)].synqerId,
    slashed: (staked[0] ?? healthy[0]).synqerId,
    stakerOnChain: healthy[0].synqerId,
  };
}

/** A report's signed content: everything but the signature. */
export type DemoReport = Omit<MetricReport, 'signature'>;

/** Six ten-minute periods of an hour-long epoch, per synqer, shaped by its capacity and profile. */
export function demoReports(network: DemoNetwork, epoch: number, epochStart: number): { synqer: DemoSynqer; content: DemoReport }[] {
  const rng = random(network.seed, `reports:${epoch}`);
  const instant = (seconds: number) => new Date(seconds * 1000).toISOString().replace('.000Z', 'Z');
  return network.synqers.flatMap((synqer) =>
    Array.from({ length: 6 }, (_, k) => {
      const bytes = Math.floor(synqer.capacity * (40_000_000 + rng() * 60_000_000));
      const uptime = synqer.profile === 'poor_uptime' ? 150 + Math.floor(rng() * 120) : 560 + Math.floor(rng() * 41);
      const qos = synqer.profile === 'poor_qos' ? 3_500 + Math.floor(rng() * 2_000) : 8_600 + Math.floor(rng() * 1_400);
      return {
        synqer,
        content: {
          reportId: `e${epoch}-${synqer.synqerId}-${k}`,
          synqerId: synqer.synqerId,
          epoch,
          periodStart: instant(epochStart + k * 600),
          periodEnd: instant(epochStart + (k + 1) * 600),
          bytes: String(bytes),
          sessions: 1 + Math.floor(bytes / 25_000_000) + Math.floor(rng() * 4),
          uptimeSeconds: Math.min(600, uptime),
          qosBps: qos,
        },
      };
    }),
  );
}
