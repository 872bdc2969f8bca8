import { spawn } from 'node:child_process';

export interface ChildOutcome {
  outcome: 'finished' | 'killed' | 'failed';
  stdout: string;
}

/**
 * Runs a built test child (`dist/test/support/*-child.js`) and, when `killAfterMs` is given, SIGKILLs it that long after
 * it prints `ready`, unless it finishes first. `done(stdout)` tells a child that finished its work; one that neither
 * finished nor was killed is `failed`, its stderr written out.
 */
export function runKillableChild(file: string, env: Record<string, string>, done: (stdout: string) => boolean, killAfterMs?: number): Promise<ChildOutcome> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [file], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let timer: NodeJS.Timeout | undefined;
    child.stdout.on('data', (chunk) => {
      out += chunk;
      if (killAfterMs !== undefined && timer === undefined && out.includes('ready')) timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    });
    child.stderr.on('data', (chunk) => (err += chunk));
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (done(out)) resolve({ outcome: 'finished', stdout: out });
      else if (signal === 'SIGKILL') resolve({ outcome: 'killed', stdout: out });
      else {
        process.stderr.write(`${file} exited ${code}: ${err}\n`);
        resolve({ outcome: 'failed', stdout: out });
      }
    });
  });
}
