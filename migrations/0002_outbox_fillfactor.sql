-- Every outbox row is updated twice after its insert: the claim (publish_sequence,
-- publish_shard, claimed_by, claimed_at: no indexed column) and the mark (sent_at). With
-- full pages the claim's new version lands on another page and adds an entry to each of
-- the table's indexes; with half of each page left free it is a HOT update on the same
-- page, with no index entries and a WAL record of only the changed bytes. Measured with
-- `node bench/claim-variants.ts 200000 2` (1 KiB rows, 4 shards, medians of 2 rounds):
-- claim + mark 20,337 rows/s with full pages, 33,820 with this.
-- New pages only: rows already stored keep their page until they are purged.
ALTER TABLE "outbox" SET (fillfactor = 50);
