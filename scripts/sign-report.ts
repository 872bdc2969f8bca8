import { readFileSync, writeFileSync } from 'node:fs';
import { canonicalReportBytes, parseMetricReport } from '../domain/metric-report';
import { CommandRejected } from '../domain/rejection';
import { noMoreWords, readCommandLine, UsageError } from '../src/cli/arguments';
import { generateReportingKeypair, publicKeyOf, signEd25519 } from '../src/commands/ed25519';

/**
 * For synqers (src/cli/commands.ts):
 *   synq sign-report --new-key FILE          writes a reporting keypair (Solana's 64-byte JSON form, mode 0600)
 *   synq sign-report --key FILE < report.json prints the report with its signature
 * The report JSON is what POST /metric-reports takes, without "signature".
 */
function main(argv: string[]): void {
  const commandLine = readCommandLine('sign-report', argv);
  noMoreWords(commandLine.words, 0);
  const newKey = commandLine.value('--new-key');
  const file = commandLine.value('--key');
  if ((newKey === undefined) === (file === undefined)) throw new UsageError('give one of --new-key FILE and --key FILE');
  if (newKey !== undefined) {
    const keypair = generateReportingKeypair();
    writeFileSync(newKey, JSON.stringify([...keypair]), { mode: 0o600, flag: 'wx' });
    process.stdout.write(`reporting key ${publicKeyOf(keypair)} written to ${newKey}\n`);
    return;
  }
  const keypair = Uint8Array.from(JSON.parse(readFileSync(file!, 'utf8')) as number[]);
  if (keypair.length !== 64) throw new Error(`${file} must hold a 64-byte keypair as a JSON array`);
  const input = JSON.parse(readFileSync(0, 'utf8')) as Record<string, unknown>;
  const report = parseMetricReport({ ...input, signature: 'unsigned' });
  const { signature: _unsigned, ...content } = report;
  process.stdout.write(`${JSON.stringify({ ...content, signature: signEd25519(canonicalReportBytes(content), keypair) })}\n`);
}

try {
  main(process.argv.slice(2));
} catch (error) {
  const message =
    error instanceof CommandRejected
      ? `refused: ${error.message}`
      : error instanceof UsageError
        ? `sign-report: ${error.message}; see synq sign-report --help`
        : (error as Error).message;
  process.stderr.write(`${message.replace(/\s*\n\s*/g, ' ')}\n`);
  // A refused report, like a missing or malformed key file, is a mistake in what was given: 2.
  process.exit(2);
}
