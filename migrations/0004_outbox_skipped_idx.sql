-- The operators' status (relevo outbox status, GET /v1/outbox/status, the operator page
-- every 5 s) counted rows per state over the whole outbox, the sent history retention keeps
-- included: 1.1 s a call with a million retained rows. It now counts unsent rows, skipped
-- rows and rows sent in the last hour, each through a partial index; this is the skipped
-- rows' one. Rows get an entry only when an operator skips them, so the relay's claims and
-- marks do not write to it. Building it reads the outbox once, blocking writes meanwhile.
CREATE INDEX "outbox_skipped_idx" ON "outbox" USING btree ("id") WHERE "outbox"."skipped_at" is not null;
