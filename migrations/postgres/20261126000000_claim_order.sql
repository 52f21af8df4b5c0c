-- The delivery worker claims due messages in (next_attempt_at, id) order: with the id in the
-- index, walking it gives that order with no sort, however long the queue.
drop index outbox_due;
create index outbox_due on outbox (status, next_attempt_at, id);
