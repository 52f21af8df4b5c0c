-- Only messages held for a pending action have a `pending_action_id`: every other message
-- added a null entry to this index, written to the log with each batch (1.6 of about 25 pages
-- a batch wrote, measured). Each query by pending action still finds it (`=` and `in` imply
-- not null), as does the lookup when a pending action is deleted.
drop index outbox_pending_action;
create index outbox_pending_action on outbox (pending_action_id) where pending_action_id is not null;
