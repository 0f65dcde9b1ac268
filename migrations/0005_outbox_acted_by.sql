-- Who skipped a parked row, and who last put one back in line and when: the API records
-- api:<token name>, the CLI cli:<user> (or its --by). Nullable columns without a default:
-- adding them rewrites nothing, and rows from before keep null (shown as unknown).
ALTER TABLE "outbox" ADD COLUMN "skipped_by" text;--> statement-breakpoint
ALTER TABLE "outbox" ADD COLUMN "retried_by" text;--> statement-breakpoint
ALTER TABLE "outbox" ADD COLUMN "retried_at" timestamp with time zone;