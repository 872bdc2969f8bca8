/**
 * Progress of long work on the command line: a bar with the rate and ETA when stderr is a terminal, plain lines every
 * few seconds when it is not (logs, CI). Writes to stderr so that stdout stays the command's result.
 */
export interface Progress {
  /** `done` of `total` units so far (total may grow, e.g. a log still being appended to). */
  update(done: bigint | number, total?: bigint | number): void;
  finish(message?: string): void;
}

export function progress(label: string, unit: string, stream: NodeJS.WriteStream = process.stderr): Progress {
  const started = Date.now();
  const tty = stream.isTTY === true;
  let lastDraw = 0;
  let done = 0;
  let total = 0;
  const draw = (final: boolean) => {
    const seconds = (Date.now() - started) / 1000;
    const rate = seconds > 0 ? done / seconds : 0;
    const eta = rate > 0 && total > done ? (total - done) / rate : 0;
    const share = total > 0 ? Math.min(1, done / total) : 0;
    const figures = `${done.toLocaleString('en-US')}/${total.toLocaleString('en-US')} ${unit}, ${Math.round(rate).toLocaleString('en-US')} ${unit}/s, ETA ${eta.toFixed(0)} s`;
    if (tty) {
      const width = 30;
      const bar = '#'.repeat(Math.round(share * width)).padEnd(width, '.');
      stream.write(`\r${label} [${bar}] ${(share * 100).toFixed(0).padStart(3)}% ${figures}\u001b[K${final ? '\n' : ''}`);
    } else {
      stream.write(`${label}: ${(share * 100).toFixed(0)}% ${figures}\n`);
    }
  };
  return {
    update(value, of) {
      done = Number(value);
      if (of !== undefined) total = Number(of);
      const now = Date.now();
      if (now - lastDraw >= (tty ? 100 : 5_000)) {
        lastDraw = now;
        draw(false);
      }
    },
    finish(message) {
      if (total < done) total = done;
      draw(true);
      if (message) stream.write(`${message}\n`);
    },
  };
}
