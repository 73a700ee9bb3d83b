CREATE TABLE `nonces` (
	`nonce` text PRIMARY KEY NOT NULL,
	`expires_at` integer NOT NULL,
	`consumed_at` integer
);
--> statement-breakpoint
CREATE INDEX `nonces_expires_at` ON `nonces` (`expires_at`);--> statement-breakpoint
CREATE TABLE `notifications` (
	`id` text PRIMARY KEY NOT NULL,
	`application_id` text NOT NULL,
	`access_token_jti` text NOT NULL,
	`credential_id` text NOT NULL,
	`created_at` integer NOT NULL,
	`event` text,
	`event_description` text,
	`event_at` integer
);
--> statement-breakpoint
CREATE INDEX `notifications_application` ON `notifications` (`application_id`);--> statement-breakpoint
ALTER TABLE `transactions` ADD `profile` text DEFAULT 'draft13' NOT NULL;