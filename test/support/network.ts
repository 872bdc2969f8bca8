import { Keypair } from '@solana/web3.js';
import { canonicalReportBytes } from '../../domain/metric-report';
import { generateReportingKeypair, publicKeyOf, signEd25519 } from '../../src/commands/ed25519';
import type { TestApi } from './api';
import { awaitJob } from './jobs';

/** A small network driven through the REST API: synqers with real wallets, signed reports, epochs opened and closed. */
export interface TestSynqer {
  synqerId: string;
  wallet: Keypair;
  reportingKey: Uint8Array;
}

export const EPOCH_START = Date.parse('2026-11-01T00:00:00Z') / 1000;
export const instant = (seconds: number) => new Date(seconds * 1000).toISOString().replace('.000Z', 'Z');

export async function registerSynqers(api: TestApi, count: number, prefix = 's'): Promise<TestSynqer[]> {
  const synqers: TestSynqer[] = [];
  for (let i = 0; i < count; i++) {
    const synqer = { synqerId: `${prefix}${i}`, wallet: Keypair.generate(), reportingKey: generateReportingKeypair() };
    const registered = await api.call('POST', '/synqers', api.keys.operator, {
      synqerId: synqer.synqerId,
      payoutWallet: synqer.wallet.publicKey.toBase58(),
      reportingKey: publicKeyOf(synqer.reportingKey),
      region: 'eu-west',
    });
    if (registered.status !== 201) throw new Error(`registering ${synqer.synqerId}: ${JSON.stringify(registered.body)}`);
    synqers.push(synqer);
  }
  return synqers;
}

/** What one synqer reports in each of its six periods, where a test wants other figures than the defaults. */
export interface ReportFigures {
  bytes?: number;
  sessions?: number;
  /** Of the period's 600 s; default 600. */
  uptimeSeconds?: number;
  /** Default 9,500. */
  qosBps?: number;
}

/**
 * Opens epoch `epoch` (one hour), has every synqer report six signed periods, and closes it. Returns the close's answer.
 * `figures` overrides what a synqer reports (by default full uptime, QoS 9,500 bps, bytes and sessions growing with its index).
 */
export async function runAndCloseEpoch(
  api: TestApi,
  epoch: number,
  rewardPool: string,
  synqers: readonly TestSynqer[],
  options: { figures?: (synqer: TestSynqer, index: number) => ReportFigures } = {},
) {
  const start = EPOCH_START + (epoch - 1) * 3600;
  const opened = await api.call('POST', '/epochs', api.keys.operator, { epoch, start: instant(start), end: instant(start + 3600), rewardPool });
  if (opened.status !== 201) throw new Error(`opening epoch ${epoch}: ${JSON.stringify(opened.body)}`);
  const reports = synqers.flatMap((synqer, i) => {
    const figures = options.figures?.(synqer, i) ?? {};
    return Array.from({ length: 6 }, (_, k) => {
      const content = {
        reportId: `e${epoch}-${synqer.synqerId}-${k}`,
        synqerId: synqer.synqerId,
        epoch,
        periodStart: instant(start + k * 600),
        periodEnd: instant(start + k * 600 + 600),
        bytes: String((figures.bytes ?? 1_000_000 * (i + 1)) + k),
        sessions: figures.sessions ?? 3 + (i % 5),
        uptimeSeconds: figures.uptimeSeconds ?? 600,
        qosBps: figures.qosBps ?? 9_500,
      };
      return { ...content, signature: signEd25519(canonicalReportBytes(content), synqer.reportingKey) };
    });
  });
  for (let i = 0; i < reports.length; i += 5000) {
    const submitted = await api.call('POST', '/metric-reports', api.keys.ingest, { reports: reports.slice(i, i + 5000) });
    if (submitted.body?.refused !== 0) throw new Error(`reports refused: ${JSON.stringify(submitted.body).slice(0, 500)}`);
  }
  const closed = await awaitJob(api, api.call('POST', `/epochs/${epoch}/close`, api.keys.operator));
  if (closed.status !== 200) throw new Error(`closing epoch ${epoch}: ${JSON.stringify(closed.body)}`);
  return closed.body as { settlement: { paid: string; distribution: { root: string; leafCount: number } } };
}
