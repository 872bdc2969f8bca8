import { readFileSync } from 'node:fs';
import type { ProjectionSql } from '../projection';

/**
 * Where an epoch close's time goes, in parts, for bench/epoch: whoever wants the parts sets a listener; without one,
 * timing costs two clock reads a part. Per part: wall seconds, this process's CPU seconds (user + system) and, when
 * the database server runs on this machine, its backend's CPU seconds (from /proc; -1 where it cannot be read). On a
 * shared machine the CPU seconds say what a part costs, the wall seconds what it took.
 */
export interface ClosePart {
  part: string;
  seconds: number;
  cpuSeconds: number;
  databaseCpuSeconds: number;
}

let listener: ((epoch: number, parts: ClosePart[]) => void) | undefined;

/** Calls `observe` with each close's parts once it is done (undefined: no more). */
export function observeCloseParts(observe: ((epoch: number, parts: ClosePart[]) => void) | undefined): void {
  listener = observe;
}

export class CloseStopwatch {
  private readonly parts: ClosePart[] = [];
  private wall = process.hrtime.bigint();
  private cpu = cpuNow();
  private databaseCpu: number;

  private constructor(private readonly backendPid: number | undefined) {
    this.databaseCpu = this.backendCpu();
  }

  /** Started on `sql`'s connection; its server process is looked up only when someone listens. */
  static async start(sql: ProjectionSql): Promise<CloseStopwatch> {
    if (listener === undefined) return new CloseStopwatch(undefined);
    const { rows } = await sql.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    return new CloseStopwatch(rows[0]?.pid);
  }

  /** Ends the part running since the last lap (or the start), named `part`; the same name again adds to it. */
  lap(part: string): void {
    const wall = process.hrtime.bigint();
    const cpu = cpuNow();
    const databaseCpu = this.backendCpu();
    const seconds = Number(wall - this.wall) / 1e9;
    const cpuSeconds = cpu - this.cpu;
    const databaseCpuSeconds = databaseCpu < 0 || this.databaseCpu < 0 ? -1 : databaseCpu - this.databaseCpu;
    const known = this.parts.find((p) => p.part === part);
    if (known) {
      known.seconds += seconds;
      known.cpuSeconds += cpuSeconds;
      known.databaseCpuSeconds = known.databaseCpuSeconds < 0 || databaseCpuSeconds < 0 ? -1 : known.databaseCpuSeconds + databaseCpuSeconds;
    } else this.parts.push({ part, seconds, cpuSeconds, databaseCpuSeconds });
    this.wall = wall;
    this.cpu = cpu;
    this.databaseCpu = databaseCpu;
  }

  done(epoch: number): void {
    listener?.(epoch, this.parts);
  }

  /** utime + stime of the backend, fields 14 and 15 of /proc/<pid>/stat, in clock ticks of 1/100 s. */
  private backendCpu(): number {
    if (this.backendPid === undefined) return -1;
    try {
      const stat = readFileSync(`/proc/${this.backendPid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return (Number(fields[11]) + Number(fields[12])) / 100;
    } catch {
      return -1;
    }
  }
}

function cpuNow(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
}
