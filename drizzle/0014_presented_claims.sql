CREATE TABLE `presented_claims` (
	`application_id` text PRIMARY KEY NOT NULL,
	`key_id` text NOT NULL,
	`ciphertext` text,
	`created_at` integer NOT NULL,
	`purge_after` integer,
	`erased_at` integer,
	`erased_reason` text
);
--> statement-breakpoint
CREATE INDEX `presented_claims_purge_after` ON `presented_claims` (`purge_after`);