-- API keys have a life cycle (issue 16): listed with when each was last used (written at most once a minute per key,
-- not on every request), revoked by `synq keys revoke` or POST /keys/{id}/revoke. Their creations and revocations are
-- also recorded as events (stream apikey-<id>); this table is what authentication reads, on every request.
ALTER TABLE api_keys ADD COLUMN last_used_at timestamptz;
