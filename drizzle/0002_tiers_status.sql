CREATE TABLE `application_prefill` (
	`application_id` text PRIMARY KEY NOT NULL,
	`tier_id` text NOT NULL,
	`verified_evidence` text NOT NULL,
	`missing_checks` text NOT NULL,
	`supersedes` text NOT NULL,
	`country_of_residence` text,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `credential_status` (
	`credential_id` text PRIMARY KEY NOT NULL,
	`list_id` integer NOT NULL,
	`list_index` integer NOT NULL,
	`subject_did` text NOT NULL,
	`tier_id` text NOT NULL,
	`evidence` text NOT NULL,
	`issued_at` integer NOT NULL,
	`expires_at` integer NOT NULL,
	`revoked_at` integer,
	`revocation_reason` text,
	`suspended_at` integer,
	`suspension_reason` text,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `credential_status_list_index` ON `credential_status` (`list_id`,`list_index`);--> statement-breakpoint
CREATE INDEX `credential_status_subject` ON `credential_status` (`subject_did`);--> statement-breakpoint
CREATE TABLE `credential_status_events` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`credential_id` text NOT NULL,
	`action` text NOT NULL,
	`reason` text,
	`actor` text NOT NULL,
	`at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `credential_status_events_credential` ON `credential_status_events` (`credential_id`);--> statement-breakpoint
CREATE TABLE `status_list_cache` (
	`list_id` integer NOT NULL,
	`purpose` text NOT NULL,
	`version` integer NOT NULL,
	`jwt` text NOT NULL,
	`expires_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `status_list_cache_list_purpose` ON `status_list_cache` (`list_id`,`purpose`);--> statement-breakpoint
CREATE TABLE `status_lists` (
	`id` integer PRIMARY KEY NOT NULL,
	`size` integer NOT NULL,
	`allocated` integer DEFAULT 0 NOT NULL,
	`version` integer DEFAULT 0 NOT NULL,
	`created_at` integer NOT NULL
);
