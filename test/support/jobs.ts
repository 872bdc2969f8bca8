/**
 * Long work answers 202 with a job (src/jobs): `POST /epochs/{n}/settlement`, `/epochs/{n}/close` and
 * `/verification/runs`. `awaitJob` polls such a job to its end and answers what the route answered before jobs: a
 * succeeded job as 200 with its result, a failed (or interrupted) one as its problem's status with the problem. Any
 * other answer (a refusal answered at once: 404, 409, 422, 403) comes back as it came, so a test checks both alike.
 */

/** An answer as the tests' clients give it (test/support/api.ts `call`, the OpenAPI client). */
export interface Answer {
  status: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
}

export interface Job {
  id: string;
  kind: string;
  epoch?: number;
  state: 'queued' | 'running' | 'succeeded' | 'failed' | 'interrupted';
  progress?: { done: number; total: number; phase: string };
  result?: unknown;
  error?: { type: string; title: string; status: number; detail: string; problems?: { field: string; reason: string }[] };
  runs: number;
  createdAt: string;
  updatedAt: string;
  links: Record<string, string>;
}

/**
 * Polls the job `answer` carries (202) until it finishes, with `key` (default the operator's; an auditor's does too).
 * `onPoll` sees every state polled, for tests that watch the progress.
 */
export async function awaitJob<A extends Answer>(
  http: { engine: { url: string }; keys?: { operator: string } },
  answer: A | Promise<A>,
  options: { key?: string; onPoll?: (job: Job) => void; timeoutMs?: number } = {},
): Promise<A & { job?: Job }> {
  const first = await answer;
  if (first.status !== 202) return first;
  const key = options.key ?? http.keys?.operator;
  if (!key) throw new Error('awaitJob: no key to poll the job with');
  const id = (first.body as Job).id;
  const deadline = Date.now() + (options.timeoutMs ?? 600_000);
  for (;;) {
    const response = await fetch(`${http.engine.url}/jobs/${id}`, { headers: { authorization: `Bearer ${key}` } });
    const job = (await response.json()) as Job;
    if (response.status !== 200) throw new Error(`GET /jobs/${id}: ${response.status} ${JSON.stringify(job)}`);
    options.onPoll?.(job);
    if (job.state === 'succeeded') return { ...first, status: 200, body: job.result, job };
    if (job.state === 'failed' || job.state === 'interrupted') return { ...first, status: job.error!.status, body: job.error, job };
    if (Date.now() > deadline) throw new Error(`job ${id} (${job.kind}) still ${job.state} after ${options.timeoutMs ?? 600_000} ms`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
