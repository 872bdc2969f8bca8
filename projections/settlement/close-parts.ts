/**
 * Where an epoch close's time goes, in parts, for bench/epoch: whoever wants the parts sets a listener; without one,
 * timing costs two clock reads a part. Wall seconds and this process's CPU seconds (user + system): on a shared
 * machine the CPU seconds say what the part costs, the wall seconds what it took.
 */
export interface ClosePart {
  part: string;
  seconds: number;
  cpuSeconds: number;
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

  /** Ends the part running since the last lap (or the start), named `part`; the same name again adds to it. */
  lap(part: string): void {
    const wall = process.hrtime.bigint();
    const cpu = cpuNow();
    const seconds = Number(wall - this.wall) / 1e9;
    const cpuSeconds = cpu - this.cpu;
    const known = this.parts.find((p) => p.part === part);
    if (known) {
      known.seconds += seconds;
      known.cpuSeconds += cpuSeconds;
    } else this.parts.push({ part, seconds, cpuSeconds });
    this.wall = wall;
    this.cpu = cpu;
  }

  done(epoch: number): void {
    listener?.(epoch, this.parts);
  }
}

function cpuNow(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
}
