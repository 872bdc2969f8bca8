-- The event log: one append-only table, one append function and one watermark function (after Message DB's shape).
--
-- Global order. Positions come from a sequence, so concurrent appends commit side by side (and share WAL flushes).
-- A sequence alone would let a reader see position 11 committed while 10 is still in flight and skip 10 for ever.
-- So every append holds advisory key 7358112002 in SHARED mode until it commits, and a reader that wants to read
-- up to the head first calls events_watermark(): it takes the same key EXCLUSIVELY for an instant, which waits out
-- every append in flight, and returns the sequence's last value. Every position at or below that watermark is final
-- (committed, or burnt by a rolled-back append and never used), so reading "after P up to the watermark" neither skips
-- nor repeats. Rolled-back appends can leave holes in the numbering; readers do not wait for them.
-- Appends to one stream are serialised by a per-stream advisory lock, so revisions and positions rise together.

CREATE SEQUENCE events_global_position_seq AS bigint;

CREATE TABLE events (
  global_position bigint PRIMARY KEY,
  event_id uuid NOT NULL,
  stream_name text NOT NULL,
  stream_category text NOT NULL,
  stream_revision bigint NOT NULL,
  event_type text NOT NULL,
  -- json, not jsonb: stored and returned as written (cheaper both ways); compared as jsonb only on the idempotency path.
  data json NOT NULL,
  metadata json NOT NULL,
  recorded_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  CONSTRAINT events_event_id_unique UNIQUE (event_id),
  CONSTRAINT events_stream_revision_unique UNIQUE (stream_name, stream_revision),
  CONSTRAINT events_revision_not_negative CHECK (stream_revision >= 0)
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

-- Is p_events (in p_stream, with p_expected) a repeat of an earlier append?
-- No row: none of its ids is recorded. A row (written = false): an exact repeat at the expected place.
-- Raises SQ001 (same events, expected elsewhere) or SQ002 (an id recorded with other content or elsewhere).
CREATE FUNCTION append_repeat(p_stream text, p_expected text, p_events json)
RETURNS TABLE (written boolean, next_revision bigint, last_position bigint)
LANGUAGE plpgsql STABLE AS $$
DECLARE
  v_count integer := json_array_length(p_events);
  v_first_revision bigint;
  v_known integer;
  v_same integer;
  v_head bigint;
  v_conflict record;
BEGIN
  SELECT stream_revision INTO v_first_revision
    FROM events WHERE event_id = (p_events->0->>'id')::uuid AND stream_name = p_stream;
  SELECT count(*)::integer,
         count(*) FILTER (WHERE e.stream_name = p_stream
                            AND e.stream_revision = v_first_revision + i.ordinality - 1
                            AND e.event_type = i.value->>'type'
                            AND e.data::jsonb = (i.value->'data')::jsonb)::integer
    INTO v_known, v_same
    FROM json_array_elements(p_events) WITH ORDINALITY AS i(value, ordinality)
    JOIN events e ON e.event_id = (i.value->>'id')::uuid;
  IF v_known = 0 THEN
    RETURN;
  END IF;

  IF v_known = v_count AND v_same = v_count THEN
    IF p_expected IN ('any', 'stream_exists')
       OR (p_expected = 'no_stream' AND v_first_revision = 0)
       OR (p_expected ~ '^\d+$' AND v_first_revision = p_expected::bigint + 1) THEN
      RETURN QUERY SELECT false, v_first_revision + v_count - 1, e.global_position
        FROM events e WHERE e.stream_name = p_stream AND e.stream_revision = v_first_revision + v_count - 1;
      RETURN;
    END IF;
    -- Same events, but the caller expects them somewhere else: a revision mismatch, as in EventStoreDB.
    SELECT max(stream_revision) INTO v_head FROM events WHERE stream_name = p_stream;
    RAISE EXCEPTION 'wrong expected revision on %', p_stream USING ERRCODE = 'SQ001',
      DETAIL = json_build_object('stream', p_stream, 'expected', p_expected, 'actual', coalesce(v_head::text, 'no_stream'))::text;
  END IF;

  SELECT (i.value->>'id') AS id, e.stream_name, e.stream_revision,
         (e.event_type = i.value->>'type' AND e.data::jsonb = (i.value->'data')::jsonb) AS same_content
    INTO v_conflict
    FROM json_array_elements(p_events) AS i(value)
    JOIN events e ON e.event_id = (i.value->>'id')::uuid
   ORDER BY 4, e.global_position
   LIMIT 1;
  RAISE EXCEPTION 'event id conflict on %', p_stream USING ERRCODE = 'SQ002',
    DETAIL = json_build_object('stream', p_stream, 'eventId', v_conflict.id,
      'reason', CASE
        WHEN NOT v_conflict.same_content THEN format('is already recorded with other content (%s revision %s)', v_conflict.stream_name, v_conflict.stream_revision)
        WHEN v_conflict.stream_name <> p_stream THEN format('is already recorded in stream %s', v_conflict.stream_name)
        ELSE 'is already recorded, but this append does not repeat that earlier append exactly'
      END)::text;
END $$;

-- Appends p_events (a JSON array of {id, type, data, metadata}) to p_stream.
-- p_expected: 'any', 'no_stream', 'stream_exists' or the exact last revision as decimal text.
-- Errors (nothing written): SQ001 wrong expected revision, SQ002 event id conflict, SQ003 bad expectation; DETAIL
-- carries JSON for the client. A unique violation on events_event_id_unique means an id was recorded meanwhile: the
-- client then asks append_repeat() what it was. written = false: an exact repeat, nothing written.
CREATE FUNCTION append_to_stream(p_stream text, p_expected text, p_events json)
RETURNS TABLE (written boolean, next_revision bigint, last_position bigint)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  v_head bigint;
  v_count integer := json_array_length(p_events);
  v_first bigint;
  v_last bigint;
  v_repeat record;
BEGIN
  IF p_expected IS NULL OR (p_expected NOT IN ('any', 'no_stream', 'stream_exists') AND p_expected !~ '^\d+$') THEN
    RAISE EXCEPTION 'expected revision must be any, no_stream, stream_exists or a revision >= 0, got %', p_expected
      USING ERRCODE = 'SQ003';
  END IF;

  -- Shared: appends run side by side; events_watermark() waits for them. Always this key first, then the stream's.
  PERFORM pg_advisory_xact_lock_shared(7358112002);
  PERFORM pg_advisory_xact_lock(735811, hashtext(p_stream));

  SELECT max(stream_revision) INTO v_head FROM events WHERE stream_name = p_stream;

  IF (p_expected = 'no_stream' AND v_head IS NOT NULL)
     OR (p_expected = 'stream_exists' AND v_head IS NULL)
     OR (p_expected ~ '^\d+$' AND v_head IS DISTINCT FROM p_expected::bigint) THEN
    -- A retry of an append that did go through looks like a mismatch: answer it as a repeat.
    SELECT * INTO v_repeat FROM append_repeat(p_stream, p_expected, p_events);
    IF FOUND THEN
      RETURN QUERY SELECT v_repeat.written, v_repeat.next_revision, v_repeat.last_position;
      RETURN;
    END IF;
    RAISE EXCEPTION 'wrong expected revision on %', p_stream USING ERRCODE = 'SQ001',
      DETAIL = json_build_object('stream', p_stream, 'expected', p_expected, 'actual', coalesce(v_head::text, 'no_stream'))::text;
  END IF;

  -- One contiguous block of positions per append, so an append's events also sit together on disk and a read in
  -- position order does not hop between the pages of concurrent appends. Every allocation happens under this session
  -- lock, held for two sequence calls (microseconds) and released on every path out.
  BEGIN
    PERFORM pg_advisory_lock(735812, 0);
    v_first := nextval('events_global_position_seq');
    v_last := v_first + v_count - 1;
    IF v_count > 1 THEN
      PERFORM setval('events_global_position_seq', v_last);
    END IF;
    PERFORM pg_advisory_unlock(735812, 0);
  EXCEPTION WHEN OTHERS OR query_canceled THEN
    -- A session lock outlives an aborted (sub)transaction: give it back before passing the error on.
    PERFORM pg_advisory_unlock(735812, 0);
    RAISE;
  END;

  INSERT INTO events (global_position, event_id, stream_name, stream_category, stream_revision, event_type, data, metadata)
  SELECT v_first + e.n - 1,
         e.id,
         p_stream,
         split_part(p_stream, '-', 1),
         coalesce(v_head, -1) + e.n,
         e.type,
         e.data,
         e.metadata
    -- One pass over the payload: json_to_recordset parses each element once (->> per field would re-parse it).
    FROM ROWS FROM (json_to_recordset(p_events) AS (id uuid, type text, data json, metadata json))
         WITH ORDINALITY AS e(id, type, data, metadata, n);

  RETURN QUERY SELECT true, coalesce(v_head, -1) + v_count, v_last;
END $$;

-- The highest position at or below which every append has finished (see the top of this file), or NULL when an
-- append stayed in flight longer than p_timeout_ms (the caller keeps its previous watermark and tries again later:
-- waiting longer would hold up new appends queued behind this request).
CREATE FUNCTION events_watermark(p_timeout_ms integer DEFAULT 200)
RETURNS bigint LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  PERFORM set_config('lock_timeout', p_timeout_ms || 'ms', true);
  PERFORM pg_advisory_xact_lock(7358112002);
  RETURN (SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM events_global_position_seq);
EXCEPTION WHEN lock_not_available THEN
  RETURN NULL;
END $$;

-- Pages of the log in position order, after p_after and at most up to p_up_to (a watermark), optionally of one
-- category. The planner settings pin the plan to walking the index in order: on a young table with no statistics the
-- planner may otherwise fetch the whole range and sort it for every page.
CREATE FUNCTION read_events(p_after bigint, p_up_to bigint, p_limit integer, p_category text DEFAULT NULL)
RETURNS SETOF events LANGUAGE plpgsql STABLE
SET enable_sort = off SET enable_bitmapscan = off SET enable_seqscan = off
AS $$
BEGIN
  IF p_category IS NULL THEN
    RETURN QUERY SELECT * FROM events
      WHERE global_position > p_after AND global_position <= p_up_to
      ORDER BY global_position LIMIT p_limit;
  ELSE
    RETURN QUERY SELECT * FROM events
      WHERE stream_category = p_category AND global_position > p_after AND global_position <= p_up_to
      ORDER BY global_position LIMIT p_limit;
  END IF;
END $$;
