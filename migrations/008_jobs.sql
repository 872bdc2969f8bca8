-- Long work is a job, not a held request (issue 17 item 8): POST /epochs/{n}/settlement, /close and
-- /verification/runs answer 202 with a job that the operator, the command line and the dashboard poll. This table is
-- operational state, not the books: what the work records is in the events as before, and a job only says who runs it,
-- how far it has come and what it answered. src/jobs/job-store.ts holds every query on it.
CREATE TABLE jobs (
  id uuid PRIMARY KEY,
  -- settlement, close or verification.
  kind text NOT NULL,
  epoch integer,
  -- The piece of work ('settlement:5', 'close:5'): at most one job queued or running for it, whichever process asks.
  -- NULL for work that is never shared (a verification run is a run of its own at each request).
  work text,
  state text NOT NULL CHECK (state IN ('queued', 'running', 'succeeded', 'failed', 'interrupted')),
  progress jsonb,
  -- What the route answered before jobs, as its JSON text (json keeps the text, so the bytes, as written).
  result json,
  -- The problem+json the route would have answered (failed), or why it stopped (interrupted).
  error json,
  -- The process that runs it (kind:host:pid:tag), alive while its heartbeat is recent.
  owner text NOT NULL,
  heartbeat_at timestamptz NOT NULL DEFAULT now(),
  -- 1, then one more each time a POST resumes it after it was interrupted.
  runs integer NOT NULL DEFAULT 1,
  actor text NOT NULL,
  correlation_id text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE UNIQUE INDEX jobs_one_active_per_work ON jobs (work) WHERE state IN ('queued', 'running');
CREATE INDEX jobs_by_work ON jobs (work, created_at DESC) WHERE work IS NOT NULL;
CREATE INDEX jobs_recent ON jobs (created_at DESC);
CREATE INDEX jobs_active ON jobs (state) WHERE state IN ('queued', 'running');
