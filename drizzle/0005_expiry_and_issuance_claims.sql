CREATE TABLE `issuance_claims` (
	`application_id` text PRIMARY KEY NOT NULL,
	`credential_id` text NOT NULL,
	`claimed_at` integer NOT NULL
);
--> statement-breakpoint
ALTER TABLE `credential_status` ADD `expiry_announced_at` integer;--> statement-breakpoint
CREATE INDEX `credential_status_expiry` ON `credential_status` (`expiry_announced_at`,`expires_at`);