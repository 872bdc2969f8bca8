import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { Client } from 'pg';

/** What the benchmarks share: a fresh database per run, PostgreSQL's CPU, synthetic synqers written straight to the log. */

/** Drops and creates database `name` on the server, and returns its URL. */
export async function createBenchDatabase(serverUrl: string, name: string): Promise<string> {
  const admin = new Client({ connectionString: serverUrl });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/**
 * CPU seconds used so far by the embedded PostgreSQL in `dataDir`: its postmaster (with the children it has reaped)
 * and every process it runs now. Null when there is no embedded server there.
 */
export function postgresCpuSeconds(dataDir: string | undefined): number | null {
  if (!dataDir) return null;
  const pidFile = readdirSync(dataDir, { recursive: true, encoding: 'utf8' }).find((file) => file.endsWith('postmaster.pid'));
  if (!pidFile) return null;
  const postmaster = Number(readFileSync(path.join(dataDir, pidFile), 'utf8').split('\n')[0]);
  let ticks = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // Fields after the command name: state ppid ... utime (14th) stime cutime cstime (17th).
      if (Number(entry) === postmaster) ticks += Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14]);
      else if (Number(fields[1]) === postmaster) ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      // the process ended meanwhile
    }
  }
  return ticks / 100;
}

/**
 * `SynqerRegistered` for synqers s<from> .. as events written straight into the log (positions from the sequence):
 * parameters $1 the payout wallets (the reporting key is set to the wallet: the benches sign nothing), $2 the index
 * of the first, $3 the events' metadata JSON.
 */
export const SYNQER_REGISTRATIONS_SQL = `INSERT INTO events (global_position, event_id, stream_name, stream_category, stream_revision, event_type, data, metadata)
  SELECT nextval('events_global_position_seq'), gen_random_uuid(), 'synqer-s' || i, 'synqer', 0, 'SynqerRegistered',
         json_build_object('synqerId', 's' || i, 'payoutWallet', w, 'reportingKey', w, 'region', (ARRAY['eu-west','us-east','ap-south'])[i % 3 + 1], 'labels', '{}'::json),
         $3::json
    FROM (SELECT w, ($2::int + o - 1)::int AS i FROM unnest($1::text[]) WITH ORDINALITY AS t(w, o) ORDER BY o) s`;
