-- The relay's shard layouts (see packages/db/src/schema.ts, relayLayout). At most one layout
-- is active and at most one pending: exclusion constraints checked at commit, so a layout can
-- be retired and its successor activated by one statement.
CREATE TABLE "relay_layout" (
	"generation" integer PRIMARY KEY NOT NULL,
	"shards" integer NOT NULL,
	"state" text NOT NULL,
	"requested_by" text NOT NULL,
	"requested_at" timestamp with time zone DEFAULT now() NOT NULL,
	"activated_at" timestamp with time zone,
	"retired_at" timestamp with time zone,
	CONSTRAINT "relay_layout_shards_ck" CHECK ("relay_layout"."shards" between 1 and 1024),
	CONSTRAINT "relay_layout_state_ck" CHECK ("relay_layout"."state" in ('pending', 'active', 'retired'))
);
--> statement-breakpoint
CREATE TABLE "relay_layout_closed" (
	"generation" integer NOT NULL,
	"shard" integer NOT NULL,
	"closed_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "relay_layout_closed_generation_shard_pk" PRIMARY KEY("generation","shard")
);
--> statement-breakpoint
ALTER TABLE "relay_layout_closed" ADD CONSTRAINT "relay_layout_closed_generation_relay_layout_generation_fk" FOREIGN KEY ("generation") REFERENCES "public"."relay_layout"("generation") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "relay_layout" ADD CONSTRAINT "relay_layout_one_active" EXCLUDE USING btree ("state" WITH =) WHERE ("state" = 'active') DEFERRABLE INITIALLY DEFERRED;--> statement-breakpoint
ALTER TABLE "relay_layout" ADD CONSTRAINT "relay_layout_one_pending" EXCLUDE USING btree ("state" WITH =) WHERE ("state" = 'pending') DEFERRABLE INITIALLY DEFERRED;
