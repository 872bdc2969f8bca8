-- The event log: one append-only table and one append function (after Message DB's shape).
--
-- Global order. Every append runs in one call of append_to_stream(), which takes one transaction-scoped advisory lock
-- before it reads the last global position and releases it only at commit. So positions are handed out in commit
-- order with no holes: a reader that has seen position P can never later see a new event below P, and a subscriber
-- checkpointing "after P" neither skips nor repeats. The price is that appends commit one at a time; the lock is held
-- for one server-side call and the commit, never across a client round trip (measured in bench/append).

CREATE TABLE events (
  global_position bigint PRIMARY KEY,
  event_id uuid NOT NULL,
  stream_name text NOT NULL,
  stream_category text NOT NULL,
  stream_revision bigint NOT NULL,
  event_type text NOT NULL,
  data jsonb NOT NULL,
  metadata jsonb NOT NULL,
  recorded_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT events_event_id_unique UNIQUE (event_id),
  CONSTRAINT events_stream_revision_unique UNIQUE (stream_name, stream_revision),
  CONSTRAINT events_revision_not_negative CHECK (stream_revision >= 0),
  CONSTRAINT events_position_positive CHECK (global_position > 0)
);

CREATE INDEX events_category_position ON events (stream_category, global_position);

-- Nothing is updated in place: corrections are new events.
CREATE FUNCTION events_are_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'events are immutable: % is not allowed', TG_OP USING ERRCODE = 'SQ000';
END $$;

CREATE TRIGGER events_no_update_or_delete BEFORE UPDATE OR DELETE ON events
  FOR EACH ROW EXECUTE FUNCTION events_are_immutable();
CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events
  FOR EACH STATEMENT EXECUTE FUNCTION events_are_immutable();

-- Appends p_events (a JSON array of {id, type, data, metadata}) to p_stream.
-- p_expected: 'any', 'no_stream', 'stream_exists' or the exact last revision as decimal text.
-- Errors (nothing written): SQ001 wrong expected revision, SQ002 event id conflict; DETAIL carries JSON for the client.
-- Returns written = false when every event is already recorded there with the same content (an idempotent retry).
CREATE FUNCTION append_to_stream(p_stream text, p_expected text, p_events jsonb)
RETURNS TABLE (written boolean, next_revision bigint, last_position bigint)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  v_count integer := jsonb_array_length(p_events);
  v_head bigint;
  v_position bigint;
  v_known integer;
  v_same integer;
  v_first_revision bigint;
  v_conflict record;
  v_recorded_at timestamptz;
BEGIN
  IF p_expected IS NULL OR (p_expected NOT IN ('any', 'no_stream', 'stream_exists') AND p_expected !~ '^\d+$') THEN
    RAISE EXCEPTION 'expected revision must be any, no_stream, stream_exists or a revision >= 0, got %', p_expected
      USING ERRCODE = 'SQ003';
  END IF;

  PERFORM pg_advisory_xact_lock(7358112002);
  -- Read the clock under the lock, so recorded times never go backwards along global positions.
  v_recorded_at := clock_timestamp();

  SELECT max(stream_revision) INTO v_head FROM events WHERE stream_name = p_stream;

  -- Idempotency: are any of these ids recorded already, and is this append an exact repeat of an earlier one?
  SELECT stream_revision INTO v_first_revision
    FROM events WHERE event_id = (p_events->0->>'id')::uuid AND stream_name = p_stream;
  SELECT count(*)::integer,
         count(*) FILTER (WHERE e.stream_name = p_stream
                            AND e.stream_revision = v_first_revision + i.ordinality - 1
                            AND e.event_type = i.value->>'type'
                            AND e.data = i.value->'data')::integer
    INTO v_known, v_same
    FROM jsonb_array_elements(p_events) WITH ORDINALITY AS i(value, ordinality)
    JOIN events e ON e.event_id = (i.value->>'id')::uuid;

  IF v_known > 0 THEN
    IF v_known = v_count AND v_same = v_count
       AND (p_expected IN ('any', 'stream_exists')
            OR (p_expected = 'no_stream' AND v_first_revision = 0)
            OR (p_expected ~ '^\d+$' AND v_first_revision = p_expected::bigint + 1)) THEN
      RETURN QUERY SELECT false, v_first_revision + v_count - 1,
        (SELECT e.global_position FROM events e WHERE e.stream_name = p_stream AND e.stream_revision = v_first_revision + v_count - 1);
      RETURN;
    END IF;
    SELECT (i.value->>'id') AS id, e.stream_name, e.stream_revision,
           (e.event_type = i.value->>'type' AND e.data = i.value->'data') AS same_content
      INTO v_conflict
      FROM jsonb_array_elements(p_events) AS i(value)
      JOIN events e ON e.event_id = (i.value->>'id')::uuid
     ORDER BY (e.event_type = i.value->>'type' AND e.data = i.value->'data'), e.global_position
     LIMIT 1;
    IF v_known = v_count AND v_same = v_count THEN
      -- Same events, but the caller expects them somewhere else: that is a revision mismatch, as in EventStoreDB.
      RAISE EXCEPTION 'wrong expected revision on %', p_stream USING ERRCODE = 'SQ001',
        DETAIL = jsonb_build_object('stream', p_stream, 'expected', p_expected, 'actual', coalesce(v_head::text, 'no_stream'))::text;
    END IF;
    RAISE EXCEPTION 'event id conflict on %', p_stream USING ERRCODE = 'SQ002',
      DETAIL = jsonb_build_object('stream', p_stream, 'eventId', v_conflict.id,
        'reason', CASE
          WHEN NOT v_conflict.same_content THEN format('is already recorded with other content (%s revision %s)', v_conflict.stream_name, v_conflict.stream_revision)
          WHEN v_conflict.stream_name <> p_stream THEN format('is already recorded in stream %s', v_conflict.stream_name)
          ELSE 'is already recorded, but this append does not repeat that earlier append exactly'
        END)::text;
  END IF;

  IF (p_expected = 'no_stream' AND v_head IS NOT NULL)
     OR (p_expected = 'stream_exists' AND v_head IS NULL)
     OR (p_expected ~ '^\d+$' AND v_head IS DISTINCT FROM p_expected::bigint) THEN
    RAISE EXCEPTION 'wrong expected revision on %', p_stream USING ERRCODE = 'SQ001',
      DETAIL = jsonb_build_object('stream', p_stream, 'expected', p_expected, 'actual', coalesce(v_head::text, 'no_stream'))::text;
  END IF;

  SELECT coalesce(max(global_position), 0) INTO v_position FROM events;

  INSERT INTO events (global_position, event_id, stream_name, stream_category, stream_revision, event_type, data, metadata, recorded_at)
  SELECT v_position + i.ordinality,
         (i.value->>'id')::uuid,
         p_stream,
         split_part(p_stream, '-', 1),
         coalesce(v_head, -1) + i.ordinality,
         i.value->>'type',
         i.value->'data',
         i.value->'metadata',
         v_recorded_at
    FROM jsonb_array_elements(p_events) WITH ORDINALITY AS i(value, ordinality);

  -- Wakes live subscribers at commit; the payload is only a hint, they read the table.
  PERFORM pg_notify('synq_events', (v_position + v_count)::text);

  RETURN QUERY SELECT true, coalesce(v_head, -1) + v_count, v_position + v_count;
END $$;
