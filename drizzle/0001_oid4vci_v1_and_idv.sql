CREATE TABLE `audit_log` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`application_id` text,
	`actor` text NOT NULL,
	`action` text NOT NULL,
	`detail` text,
	`at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `audit_log_application` ON `audit_log` (`application_id`,`at`);--> statement-breakpoint
CREATE TABLE `idv_events` (
	`id` text PRIMARY KEY NOT NULL,
	`provider` text NOT NULL,
	`application_id` text,
	`vendor_reference` text,
	`type` text NOT NULL,
	`occurred_at` integer NOT NULL,
	`received_at` integer NOT NULL,
	`disposition` text,
	`state_after` text
);
--> statement-breakpoint
CREATE INDEX `idv_events_application` ON `idv_events` (`application_id`);--> statement-breakpoint
CREATE TABLE `idv_pii` (
	`application_id` text PRIMARY KEY NOT NULL,
	`key_id` text NOT NULL,
	`ciphertext` text,
	`created_at` integer NOT NULL,
	`purge_after` integer,
	`erased_at` integer,
	`erased_reason` text
);
--> statement-breakpoint
CREATE INDEX `idv_pii_purge_after` ON `idv_pii` (`purge_after`);--> statement-breakpoint
CREATE TABLE `idv_sessions` (
	`application_id` text PRIMARY KEY NOT NULL,
	`provider` text NOT NULL,
	`state` text NOT NULL,
	`vendor_reference` text,
	`idempotency_key` text NOT NULL,
	`webview_url` text,
	`last_event_at` integer NOT NULL,
	`outcome` text,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `idv_sessions_vendor_reference` ON `idv_sessions` (`provider`,`vendor_reference`);--> statement-breakpoint
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
CREATE TABLE `outbox_events` (
	`id` text PRIMARY KEY NOT NULL,
	`type` text NOT NULL,
	`body` text NOT NULL,
	`created_at` integer NOT NULL,
	`attempts` integer NOT NULL,
	`next_attempt_at` integer NOT NULL,
	`lease_until` integer,
	`delivered_at` integer,
	`failed_at` integer,
	`last_error` text
);
--> statement-breakpoint
CREATE INDEX `outbox_due` ON `outbox_events` (`delivered_at`,`failed_at`,`next_attempt_at`);--> statement-breakpoint
CREATE TABLE `webhook_deliveries` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`event_id` text NOT NULL,
	`attempt` integer NOT NULL,
	`status_code` integer,
	`error` text,
	`duration_ms` integer NOT NULL,
	`at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `webhook_deliveries_event` ON `webhook_deliveries` (`event_id`);--> statement-breakpoint
ALTER TABLE `transactions` ADD `profile` text DEFAULT 'draft13' NOT NULL;