-- The write-once outbox's read side (packages/db/src/snapshot-plans.ts, RELAY_OUTBOX_DESIGN=snapshot).
-- Each outbox row carries the id of the transaction that inserted it; a shard's cursor is a
-- pair of transaction snapshots and a key inside the window between them. Rows inserted
-- before this migration have no transaction id: the claim design drains them.
ALTER TABLE "outbox" ADD COLUMN "txid" xid8;--> statement-breakpoint
ALTER TABLE "outbox" ALTER COLUMN "txid" SET DEFAULT pg_current_xact_id();--> statement-breakpoint
CREATE INDEX "outbox_txid_idx" ON "outbox" USING btree ("txid","shard_key","id") WHERE "txid" IS NOT NULL;--> statement-breakpoint
CREATE TABLE "relay_cursors" (
	"shard" integer PRIMARY KEY NOT NULL,
	"lo" pg_snapshot NOT NULL,
	"hi" pg_snapshot NOT NULL,
	"after_txid" xid8,
	"after_key" integer,
	"after_id" bigint,
	"inflight_txid" xid8,
	"inflight_key" integer,
	"inflight_id" bigint,
	"inflight_sequence" bigint,
	"exhausted" boolean DEFAULT true NOT NULL
);--> statement-breakpoint
CREATE TABLE "relay_exceptions" (
	"outbox_id" bigint PRIMARY KEY NOT NULL,
	"shard" integer NOT NULL,
	"aggregate_id" uuid NOT NULL,
	"state" text NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"last_error" text,
	"next_attempt_at" timestamp with time zone,
	"recorded_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "relay_exceptions_state_ck" CHECK ("relay_exceptions"."state" in ('failed', 'held', 'parked', 'sent', 'skipped'))
);--> statement-breakpoint
CREATE INDEX "relay_exceptions_open_idx" ON "relay_exceptions" USING btree ("aggregate_id") WHERE "state" in ('failed', 'held', 'parked');
