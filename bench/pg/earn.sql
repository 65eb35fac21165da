-- pgbench script: one earn transaction, as our engine commits a purchase: the member's
-- balance and counters, one ledger row with the balance after, one idempotency row keyed by
-- a unique event id; all or nothing. (pgbench reads ":name" even inside quotes, so no literal
-- here has a colon followed by a letter.) Members are chosen uniformly (PostgreSQL's best case:
-- no hot-row lock queues). :members is set by pg_bench.sh.
\set member random(0, :members - 1)
\set points random(10, 500)
BEGIN;
UPDATE members
   SET available = available + (:points)::bigint, lifetime = lifetime + (:points)::bigint,
       purchase_count = purchase_count + 1, next_seq = next_seq + 1, updated_at = now()
 WHERE member_id = 'm-' || (:member)::text
RETURNING available AS balance_after, next_seq - 1 AS seq \gset
INSERT INTO ledger (member_id, seq, kind, points, balance_after, reference)
VALUES ('m-' || (:member)::text, (:seq)::bigint, 'earn', (:points)::bigint,
        (:balance_after)::bigint,
        'pos-' || (:client_id)::text || '-' || nextval('event_numbers'));
INSERT INTO idempotency (key, member_id, fingerprint, answer)
VALUES ('purchase:' || 'pos-' || (:client_id)::text || '-' || currval('event_numbers'),
        'm-' || (:member)::text, (:points)::bigint * 2654435761,
        '{"points_earned":' || (:points)::text || ',"balance":' || (:balance_after)::text || '}');
END;
