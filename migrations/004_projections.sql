-- Projections: read models kept by the projection runner (src/projections/projection-runner.ts).
-- Each projection's tables live in a schema of their own per generation, "projection_<name>_g<generation>": readers
-- use the live generation while a rebuild or a rewind fills the next one, which then replaces it in one transaction.
-- A projection's checkpoint is updated in the same transaction as its tables, so a crash neither skips nor repeats.
CREATE TABLE projection_state (
  name text PRIMARY KEY,
  -- The code version that built the live generation; a different version in the code rebuilds it.
  version integer NOT NULL,
  generation integer NOT NULL,
  -- Every event at or below this global position has been applied to the live generation.
  position bigint NOT NULL DEFAULT 0,
  status text NOT NULL CHECK (status IN ('running', 'paused', 'failed', 'rebuilding')),
  -- Where a failure stopped it: the event that could not be applied, and why.
  failed_position bigint,
  failed_event_id text,
  error text,
  -- An operator's request, carried out by whichever instance processes the projection:
  -- {"action":"rebuild"} | {"action":"rewind","toPosition":"P"} | {"action":"resume"}
  request jsonb,
  -- The generation being built, how far it has read, and where it stops (null: the head) and what it becomes then.
  building_generation integer,
  building_position bigint,
  building_until bigint,
  building_then text CHECK (building_then IN ('running', 'paused')),
  building_version integer,
  building_target bigint,
  -- The engine instance processing it (holding its advisory lock), and when it last reported.
  owner text,
  updated_at timestamptz NOT NULL DEFAULT now()
);
