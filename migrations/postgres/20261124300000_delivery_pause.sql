-- Organisers can hold a page's outgoing email (for example while a target reconsiders).
alter table pages add column delivery_paused boolean not null default false;
