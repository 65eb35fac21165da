-- The tables a retailer would build for the earn transaction (bench/pg/pg_bench.sh): a member
-- row with balances (about 200 bytes, like our member record), a ledger row per entry and an
-- idempotency row per event (about 100 bytes each).
CREATE TABLE members (
  member_id      text PRIMARY KEY,
  phone          text,
  referral_code  text,
  tier           text NOT NULL DEFAULT 'green',
  available      bigint NOT NULL DEFAULT 0,
  pending        bigint NOT NULL DEFAULT 0,
  held           bigint NOT NULL DEFAULT 0,
  lifetime       bigint NOT NULL DEFAULT 0,
  purchase_count integer NOT NULL DEFAULT 0,
  next_seq       bigint NOT NULL DEFAULT 1,
  joined_at      timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE ledger (
  member_id     text NOT NULL,
  seq           bigint NOT NULL,
  kind          text NOT NULL,
  points        bigint NOT NULL,
  balance_after bigint NOT NULL,
  reference     text NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (member_id, seq)
);

CREATE TABLE idempotency (
  key         text PRIMARY KEY,
  member_id   text NOT NULL,
  fingerprint bigint NOT NULL,
  answer      text NOT NULL
);

CREATE SEQUENCE event_numbers CACHE 100;

INSERT INTO members (member_id, phone, referral_code)
SELECT 'm-' || i, '+86138' || lpad(i::text, 8, '0'), upper(substr(md5(i::text), 1, 8))
FROM generate_series(0, :members - 1) AS i;

VACUUM ANALYZE;
