-- A run looked for rows left in hand (claimed, fate unknown) at every start, and that look
-- is a scan of the whole unsent backlog: on a backlog of 1,000,000 rows, with a run every
-- 10 s per shard, the scans took most of Postgres's time. A shard's rows can be in hand only
-- while last_sequence > settled_sequence, which a run sets equal when it ends cleanly.
-- Shards that exist now may have rows in hand (a relay stopped mid-batch, or one of an
-- earlier version, which does not settle): they start unsettled and are looked at once.
ALTER TABLE "relay_shards" ADD COLUMN "settled_sequence" bigint DEFAULT -1 NOT NULL;--> statement-breakpoint
ALTER TABLE "relay_shards" ALTER COLUMN "settled_sequence" SET DEFAULT 0;
