import { readFileSync, writeFileSync } from 'node:fs';
import { canonicalReportBytes, parseMetricReport } from '../domain/metric-report';
import { CommandRejected } from '../domain/rejection';
import { generateReportingKeypair, publicKeyOf, signEd25519 } from '../src/commands/ed25519';

/**
 * For synqers:
 *   npm run sign-report -- --new-key FILE          writes a reporting keypair (Solana's 64-byte JSON form, mode 0600)
 *   npm run sign-report -- --key FILE < report.json prints the report with its signature
 * The report JSON is what POST /metric-reports takes, without "signature".
 */
function main(argv: string[]): void {
  const [flag, file] = argv;
  if (flag === '--new-key' && file) {
    const keypair = generateReportingKeypair();
    writeFileSync(file, JSON.stringify([...keypair]), { mode: 0o600, flag: 'wx' });
    process.stdout.write(`reporting key ${publicKeyOf(keypair)} written to ${file}\n`);
    return;
  }
  if (flag !== '--key' || !file) throw new Error('usage: sign-report --new-key FILE | sign-report --key FILE < report.json');
  const keypair = Uint8Array.from(JSON.parse(readFileSync(file, 'utf8')) as number[]);
  if (keypair.length !== 64) throw new Error(`${file} must hold a 64-byte keypair as a JSON array`);
  const input = JSON.parse(readFileSync(0, 'utf8')) as Record<string, unknown>;
  const report = parseMetricReport({ ...input, signature: 'unsigned' });
  const { signature: _unsigned, ...content } = report;
  process.stdout.write(`${JSON.stringify({ ...content, signature: signEd25519(canonicalReportBytes(content), keypair) })}\n`);
}

try {
  main(process.argv.slice(2));
} catch (error) {
  const message = error instanceof CommandRejected ? `refused: ${error.message}` : (error as Error).message;
  process.stderr.write(`${message}\n`);
  process.exit(2);
}
