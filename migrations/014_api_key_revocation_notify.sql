-- Every engine process may keep keys it has proven in memory for the routes that serve published data
-- (src/auth/proven-keys.ts); a revocation, by any process or by hand in this table, tells them all at its commit.
CREATE FUNCTION api_key_revoked_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('synq_api_keys', coalesce(NEW.key_id, OLD.key_id));
  RETURN NULL;
END $$;

CREATE TRIGGER api_key_revoked_notify AFTER UPDATE OF revoked_at OR DELETE ON api_keys
  FOR EACH ROW EXECUTE FUNCTION api_key_revoked_notify();
