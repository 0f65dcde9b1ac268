CREATE TABLE "idempotency_keys" (
	"key" text NOT NULL,
	"principal" text NOT NULL,
	"request_hash" text NOT NULL,
	"status" integer NOT NULL,
	"body" jsonb NOT NULL,
	"headers" jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "idempotency_keys_principal_key_pk" PRIMARY KEY("principal","key")
);
--> statement-breakpoint
CREATE TABLE "integrations" (
	"id" uuid PRIMARY KEY NOT NULL,
	"partner_id" uuid NOT NULL,
	"tipo" text NOT NULL,
	"nombre" text NOT NULL,
	"estado" text NOT NULL,
	"version" integer NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"revoked_at" timestamp with time zone,
	"motivo_revocacion" text,
	CONSTRAINT "integrations_estado_ck" CHECK ("integrations"."estado" in ('ACTIVA', 'REVOCADA'))
);
--> statement-breakpoint
CREATE TABLE "outbox" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "outbox_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"event_id" uuid NOT NULL,
	"aggregate_type" text NOT NULL,
	"aggregate_id" uuid NOT NULL,
	"aggregate_version" integer NOT NULL,
	"shard_key" integer NOT NULL,
	"event_type" text NOT NULL,
	"topic" text NOT NULL,
	"payload" jsonb NOT NULL,
	"schema_version" text NOT NULL,
	"schema_fingerprint" text NOT NULL,
	"headers" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"occurred_at" timestamp with time zone NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"last_error" text,
	"next_attempt_at" timestamp with time zone,
	"parked_at" timestamp with time zone,
	"skipped_at" timestamp with time zone,
	"skip_reason" text,
	"claimed_by" text,
	"claimed_at" timestamp with time zone,
	"publish_shard" smallint,
	"publish_sequence" bigint,
	"sent_at" timestamp with time zone,
	"broker_message_id" text
);
--> statement-breakpoint
CREATE TABLE "partners" (
	"id" uuid PRIMARY KEY NOT NULL,
	"nombre" text NOT NULL,
	"email" text NOT NULL,
	"estado" text NOT NULL,
	"estado_kyc" text NOT NULL,
	"version" integer NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"updated_at" timestamp with time zone NOT NULL,
	"deleted_at" timestamp with time zone,
	CONSTRAINT "partners_estado_ck" CHECK ("partners"."estado" in ('ACTIVO', 'INACTIVO', 'SUSPENDIDO')),
	CONSTRAINT "partners_estado_kyc_ck" CHECK ("partners"."estado_kyc" in ('PENDIENTE', 'VERIFICADO', 'RECHAZADO'))
);
--> statement-breakpoint
CREATE TABLE "relay_shards" (
	"shard" integer PRIMARY KEY NOT NULL,
	"last_sequence" bigint DEFAULT 0 NOT NULL
);
--> statement-breakpoint
ALTER TABLE "integrations" ADD CONSTRAINT "integrations_partner_id_partners_id_fk" FOREIGN KEY ("partner_id") REFERENCES "public"."partners"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "integrations_partner_idx" ON "integrations" USING btree ("partner_id","created_at");--> statement-breakpoint
CREATE UNIQUE INDEX "outbox_event_topic_uq" ON "outbox" USING btree ("event_id","topic");--> statement-breakpoint
CREATE INDEX "outbox_unsent_idx" ON "outbox" USING btree ("id") WHERE "outbox"."sent_at" is null and "outbox"."skipped_at" is null;--> statement-breakpoint
CREATE INDEX "outbox_unsent_aggregate_idx" ON "outbox" USING btree ("aggregate_id","id") WHERE "outbox"."sent_at" is null and "outbox"."skipped_at" is null;--> statement-breakpoint
CREATE INDEX "outbox_blocked_idx" ON "outbox" USING btree ("aggregate_id") WHERE "outbox"."sent_at" is null and "outbox"."skipped_at" is null and "outbox"."attempts" > 0;--> statement-breakpoint
CREATE INDEX "outbox_sent_at_idx" ON "outbox" USING btree ("sent_at") WHERE "outbox"."sent_at" is not null;--> statement-breakpoint
CREATE UNIQUE INDEX "partners_email_live_uq" ON "partners" USING btree (lower("email")) WHERE "partners"."deleted_at" is null;--> statement-breakpoint
CREATE INDEX "partners_estado_idx" ON "partners" USING btree ("estado","id");