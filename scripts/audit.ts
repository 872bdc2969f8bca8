import { writeFileSync } from 'node:fs';
import { createAudit, EpochNeverClosedError, type AuditMismatch, type EpochAudit } from '../src/audit/audit';
import { noMoreWords, readCommandLine, UsageError, wholeNumber } from '../src/cli/arguments';
import { progress } from '../src/cli/progress';
import { openReadOnlyCliContext } from '../src/cli/read-only-context';
import { ConfigError } from '../src/config/config';

/**
 * `synq audit [--epoch N] [--out FILE]` (src/cli/commands.ts): replays the event log, recalculates every closed epoch's
 * rewards, digest and Merkle root in memory and compares them with the recorded events and the settlement projection.
 * One line per epoch on stdout, the progress of the replay on stderr. Exit codes: 0 everything matches (or is not
 * recorded yet), 1 a mismatch, 2 bad arguments or a failure to run.
 *
 * The audit is src/audit/audit.ts's, as GET /audit/epochs/{n}. With DATABASE_URL it connects with a plain pool whose
 * transactions are read-only (src/cli/read-only-context.ts: no migrations, no projection runner), so a
 * role with SELECT on the events table and its sequence, projection_state and the settlement schema is enough. Without
 * it, it starts the embedded PostgreSQL as the engine does (which applies pending migrations).
 */

async function main(argv: string[]): Promise<number> {
  const commandLine = readCommandLine('audit', argv);
  noMoreWords(commandLine.words, 0);
  const epochText = commandLine.value('--epoch');
  const args = { epoch: epochText === undefined ? undefined : wholeNumber('--epoch', epochText, 1, 1_000_000_000), out: commandLine.value('--out') };
  const context = await openReadOnlyCliContext();
  try {
    const bar = progress('audit: replaying the log', 'positions');
    const started = Date.now();
    let replayed = started;
    const report = await createAudit({ store: context.store, reader: context.reader }).run({
      epoch: args.epoch,
      onProgress: ({ position, until }) => {
        bar.update(position, until);
        replayed = Date.now();
      },
    });
    const replay = Math.max(replayed - started, 1) / 1000;
    bar.finish(
      `audit: ${report.eventsRead.toLocaleString('en-US')} events replayed up to position ${report.lastPosition} in ${replay.toFixed(1)} s ` +
        `(${Math.round(report.eventsRead / replay).toLocaleString('en-US')} events/s), compared in ${((Date.now() - replayed) / 1000).toFixed(1)} s`,
    );
    if (args.out !== undefined) writeFileSync(args.out, `${JSON.stringify(report, null, 2)}\n`);
    if (report.epochs.length === 0) process.stdout.write('no closed epoch to audit\n');
    for (const epoch of report.epochs) process.stdout.write(`${epochLine(epoch)}\n`);
    return report.ok ? 0 : 1;
  } finally {
    await context.close();
  }
}

const short = (hex: string) => `${hex.slice(0, 12)}…`;

function epochLine(epoch: EpochAudit): string {
  const figures = `digest ${short(epoch.digest)}, root ${short(epoch.root)}, ${epoch.synqers} synqers, paid ${epoch.paid}`;
  if (epoch.status === 'match') return `epoch ${epoch.epoch}: match (${figures})`;
  if (epoch.status === 'incomplete') return `epoch ${epoch.epoch}: incomplete, not a mismatch: ${epoch.notes.join('; ')} (${figures})`;
  const [first] = epoch.mismatches;
  const more = epoch.mismatches.length > 1 ? ` (+${epoch.mismatches.length - 1} more)` : '';
  return `epoch ${epoch.epoch}: MISMATCH ${mismatchText(first)}${more}`;
}

function mismatchText(m: AuditMismatch): string {
  const where = [
    m.source,
    m.event ?? m.table,
    m.synqerId !== undefined ? `synqerId=${m.synqerId}` : undefined,
    m.wallet !== undefined ? `wallet=${m.wallet}` : undefined,
  ];
  const rows = m.rows !== undefined && m.rows > 1 ? ` (${m.rows} rows differ)` : '';
  return `${where.filter((part) => part !== undefined).join(' ')} field=${m.field} expected=${m.expected ?? '(none)'} found=${m.found ?? '(none)'}${rows}`;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    const message =
      error instanceof ConfigError
        ? `configuration error: ${error.problems.join('; ')}`
        : error instanceof UsageError
          ? `audit: ${error.message}${error.seeHelp ? '; see synq audit --help' : ''}`
          : error instanceof EpochNeverClosedError
            ? error.message
            : `audit failed: ${error instanceof Error ? error.message : String(error)}`;
    process.stderr.write(`${message.replace(/\s*\n\s*/g, ' ')}\n`);
    process.exitCode = 2;
  },
);
