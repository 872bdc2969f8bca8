-- API keys: the secret is shown once at creation and only its SHA-256 is kept.
CREATE TABLE api_keys (
  key_id text PRIMARY KEY,
  role text NOT NULL CHECK (role IN ('operator', 'ingest', 'developer', 'auditor')),
  -- A developer key acts for this one developer account only.
  developer_id text,
  secret_sha256 bytea NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  revoked_at timestamptz,
  CHECK ((role = 'developer') = (developer_id IS NOT NULL))
);
