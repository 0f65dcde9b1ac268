-- A row the broker already had (a copy of a message whose receipt was lost) is marked sent
-- with no message id: the duplicate's receipt names no entry. Earlier versions stored that
-- receipt's placeholder (-1:-1:…) as if it were an id; it becomes the null it stands for.
UPDATE "outbox" SET "broker_message_id" = NULL WHERE "broker_message_id" LIKE '-1:-1:%';
