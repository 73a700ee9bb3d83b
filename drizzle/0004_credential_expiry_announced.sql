ALTER TABLE `credential_status` ADD `expiry_announced_at` integer;--> statement-breakpoint
CREATE INDEX `credential_status_expiry` ON `credential_status` (`expiry_announced_at`,`expires_at`);