CREATE TABLE "audit_events" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "audit_events_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"event_id" uuid NOT NULL,
	"topic" text NOT NULL,
	"event_type" text NOT NULL,
	"partner_id" uuid,
	"envelope" jsonb NOT NULL,
	"message_id" text NOT NULL,
	"producer_name" text NOT NULL,
	"properties" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"event_time" timestamp with time zone NOT NULL,
	"publish_time" timestamp with time zone NOT NULL,
	"received_at" timestamp with time zone NOT NULL,
	"redelivery_count" integer DEFAULT 0 NOT NULL
);
--> statement-breakpoint
CREATE TABLE "inbox" (
	"consumer" text NOT NULL,
	"message_key" text NOT NULL,
	"topic" text NOT NULL,
	"event_type" text,
	"message_id" text NOT NULL,
	"status" text NOT NULL,
	"envelope" jsonb,
	"error" text,
	"attempts" integer DEFAULT 1 NOT NULL,
	"received_at" timestamp with time zone DEFAULT now() NOT NULL,
	"processed_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "inbox_consumer_message_key_pk" PRIMARY KEY("consumer","message_key"),
	CONSTRAINT "inbox_status_ck" CHECK ("inbox"."status" in ('processed', 'unhandled', 'dead_lettered'))
);
--> statement-breakpoint
CREATE TABLE "partner_alliance_events" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "partner_alliance_events_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"partner_id" uuid NOT NULL,
	"event_id" text NOT NULL,
	"event_type" text NOT NULL,
	"alianza_id" text,
	"data" jsonb NOT NULL,
	"occurred_at" timestamp with time zone NOT NULL,
	"message_id" text NOT NULL,
	"schema_version" text,
	"received_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX "audit_events_event_topic_uq" ON "audit_events" USING btree ("event_id","topic");--> statement-breakpoint
CREATE INDEX "audit_events_partner_idx" ON "audit_events" USING btree ("partner_id","event_time");--> statement-breakpoint
CREATE INDEX "audit_events_type_idx" ON "audit_events" USING btree ("event_type","event_time");--> statement-breakpoint
CREATE INDEX "audit_events_time_idx" ON "audit_events" USING btree ("event_time");--> statement-breakpoint
CREATE INDEX "inbox_status_idx" ON "inbox" USING btree ("status","processed_at");--> statement-breakpoint
CREATE UNIQUE INDEX "partner_alliance_events_event_uq" ON "partner_alliance_events" USING btree ("event_id");--> statement-breakpoint
CREATE INDEX "partner_alliance_events_partner_idx" ON "partner_alliance_events" USING btree ("partner_id","id");--> statement-breakpoint
-- Hand-added (drizzle-kit does not model triggers): audit_events is append-only.
CREATE FUNCTION "audit_events_append_only"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION 'audit_events is append-only: % is not allowed', TG_OP USING ERRCODE = 'insufficient_privilege';
END $$;--> statement-breakpoint
CREATE TRIGGER "audit_events_append_only" BEFORE UPDATE OR DELETE ON "audit_events" FOR EACH STATEMENT EXECUTE FUNCTION "audit_events_append_only"();
