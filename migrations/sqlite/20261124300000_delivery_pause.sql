-- Organisers can hold a page's outgoing email (for example while a target reconsiders).
alter table pages add column delivery_paused integer not null default 0 check (delivery_paused in (0, 1));
