-- The queue's Postgres statements, by name (loaded by postgres.py). Each is one round trip
-- in autocommit: a data-modifying CTE does the transition and its counter deltas together.
-- {epoch_now} is the database clock in epoch seconds (tables.PG_EPOCH_NOW): one clock for a
-- whole fleet of workers. Statements both backends share are in queue.py, in Core.

-- name: claim
-- Lease up to %(limit)s due domains of one batch (SKIP LOCKED: workers never wait for each
-- other) and move their counters from pending to processing.
WITH claimed AS (
    UPDATE batch_domains
    SET status = 'processing', worker_id = %(worker)s, attempts = attempts + 1,
        lease_expires_at = {epoch_now} + %(lease)s, started_at = {epoch_now}
    WHERE id IN (
        SELECT id FROM batch_domains
        WHERE batch_id = %(batch)s AND status = 'pending' AND next_attempt_at <= {epoch_now}
        ORDER BY next_attempt_at
        LIMIT %(limit)s
        FOR UPDATE SKIP LOCKED
    )
    RETURNING id, domain, attempts
), counted AS (
    INSERT INTO batch_counts AS c (batch_id, shard, status, error_code, n)
    SELECT %(batch)s, %(shard)s, s.status, '', s.n
    FROM (SELECT count(*) AS k FROM claimed) AS t
    CROSS JOIN LATERAL (VALUES ('pending', -t.k), ('processing', t.k)) AS s (status, n)
    WHERE t.k > 0
    ORDER BY s.status
    ON CONFLICT (batch_id, shard, status, error_code) DO UPDATE SET n = c.n + excluded.n
)
SELECT id, domain, attempts FROM claimed;

-- name: ack
-- Record many outcomes from one JSON document (results embedded as the worker encoded them):
-- each lands only on the attempt it belongs to (status, worker and attempt match), and the
-- counters move by exactly the rows that moved (a late ack moves none). {outcomes} is one of
-- the two fragments below: the outcomes as they are, or (an ack with a retry) with the
-- retries in cancelled batches made cancelled; postgres.py composes both statements once.
WITH v AS (
    {outcomes}
), moved AS (
    UPDATE batch_domains AS d
    SET status = v.s,
        result = CASE WHEN v.s = 'succeeded' THEN v.r ELSE d.result END,
        error_code = v.c,
        error_message = v.m,
        lease_expires_at = NULL,
        finished_at = CASE WHEN v.s = 'pending' THEN d.finished_at ELSE {epoch_now} END,
        worker_id = CASE WHEN v.s = 'pending' THEN NULL ELSE d.worker_id END,
        next_attempt_at = CASE
            WHEN v.s = 'pending' THEN {epoch_now} + v.d ELSE d.next_attempt_at END
    FROM v
    WHERE d.id = v.i AND d.status = 'processing' AND d.worker_id = %(worker)s
        AND d.attempts = v.a
    RETURNING d.batch_id, d.status, d.error_code
), deltas AS (
    SELECT batch_id, status,
        CASE WHEN status = 'failed' THEN coalesce(error_code, '') ELSE '' END AS code,
        count(*) AS n
    FROM moved GROUP BY 1, 2, 3
    UNION ALL
    SELECT batch_id, 'processing', '', -count(*) FROM moved GROUP BY 1
), counted AS (
    INSERT INTO batch_counts AS c (batch_id, shard, status, error_code, n)
    SELECT batch_id, %(shard)s, status, code, sum(n) FROM deltas
    GROUP BY batch_id, status, code
    HAVING sum(n) <> 0
    ORDER BY batch_id, status, code
    ON CONFLICT (batch_id, shard, status, error_code) DO UPDATE SET n = c.n + excluded.n
)
SELECT count(*) FROM moved;

-- name: outcomes
-- The ack's outcomes, as sent.
SELECT * FROM json_to_recordset(%(payload)s::json)
    AS v (i bigint, a int, s text, c text, m text, r json, d float8)

-- name: outcomes_with_retries
-- The same, where a retry (back to pending) whose batch was cancelled meanwhile ends
-- cancelled instead, with the message %(cancelled)s: nothing claims from an ended batch. Only
-- a retry looks its batch up (CASE evaluates the subquery for it alone), once per row (OFFSET
-- 0 keeps the subquery from being inlined into each use of ``halted`` and evaluated again).
-- An ack that began before the cancel committed cannot see it: the sweep ends that domain
-- (cancellation.py). Acks of successes alone use ``outcomes``: the extra subquery cost them
-- 0.1 ms of planning and execution per 200 domains (+4%), measured.
SELECT i, a, r, d,
    CASE WHEN halted THEN 'cancelled' ELSE s END AS s,
    CASE WHEN halted THEN 'cancelled' ELSE c END AS c,
    CASE WHEN halted THEN %(cancelled)s::text ELSE m END AS m
FROM (
    SELECT *, CASE WHEN s = 'pending' THEN (
        SELECT status = 'cancelled' FROM batches
        WHERE id = (SELECT batch_id FROM batch_domains WHERE id = j.i)
    ) ELSE false END AS halted
    FROM json_to_recordset(%(payload)s::json)
        AS j (i bigint, a int, s text, c text, m text, r json, d float8)
    OFFSET 0
) AS j

-- name: status
-- The batch row, the database clock and the summed counters in one statement: status is
-- polled (progress bars, SSE, dashboards) while workers load the machine, and every round
-- trip then waits for a CPU.
SELECT b.*, {epoch_now} AS now_,
       c.status AS c_status, c.error_code AS c_code, c.n AS c_n
FROM batches AS b
LEFT JOIN LATERAL (
    SELECT status, error_code, sum(n) AS n FROM batch_counts
    WHERE batch_id = b.id GROUP BY status, error_code
) AS c ON true
WHERE b.id = %(id)s AND (%(tenant)s::text IS NULL OR b.tenant_id = %(tenant)s::text);
