-- Appends to many streams in one call and one commit: each append is decided on its own (a wrong expected revision
-- or an id conflict fails that append only, in a subtransaction), and all that succeed commit together. Streams are
-- locked in name order, so two such calls over the same streams queue instead of deadlocking.
CREATE FUNCTION append_many(p_appends json)
RETURNS TABLE (ordinal integer, written boolean, next_revision bigint, last_position bigint, error_code text, error_detail text, error_constraint text)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  v_item record;
  v_result record;
  v_code text;
  v_detail text;
  v_constraint text;
BEGIN
  FOR v_item IN
    SELECT (a.ordinality - 1)::integer AS ordinal, a.value->>'stream' AS stream, a.value->>'expected' AS expected, a.value->'events' AS events
      FROM json_array_elements(p_appends) WITH ORDINALITY AS a(value, ordinality)
     ORDER BY a.value->>'stream', a.ordinality
  LOOP
    BEGIN
      SELECT * INTO v_result FROM append_to_stream(v_item.stream, v_item.expected, v_item.events);
      RETURN QUERY SELECT v_item.ordinal, v_result.written, v_result.next_revision, v_result.last_position, NULL::text, NULL::text, NULL::text;
    EXCEPTION WHEN SQLSTATE 'SQ001' OR SQLSTATE 'SQ002' OR SQLSTATE 'SQ003' OR unique_violation THEN
      GET STACKED DIAGNOSTICS v_code = RETURNED_SQLSTATE, v_detail = PG_EXCEPTION_DETAIL, v_constraint = CONSTRAINT_NAME;
      RETURN QUERY SELECT v_item.ordinal, NULL::boolean, NULL::bigint, NULL::bigint, v_code, v_detail, v_constraint;
    END;
  END LOOP;
END $$;
