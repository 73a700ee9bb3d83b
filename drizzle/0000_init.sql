CREATE TABLE `access_tokens` (
	`jti` text PRIMARY KEY NOT NULL,
	`application_id` text NOT NULL,
	`applicant_did` text NOT NULL,
	`code_hash` text NOT NULL,
	`expires_at` integer NOT NULL,
	`revoked_at` integer
);
--> statement-breakpoint
CREATE INDEX `access_tokens_code_hash` ON `access_tokens` (`code_hash`);--> statement-breakpoint
CREATE TABLE `applications` (
	`id` text PRIMARY KEY NOT NULL,
	`applicant_did` text NOT NULL,
	`credential_configuration_id` text NOT NULL,
	`status` text NOT NULL,
	`form_token_hash` text NOT NULL,
	`form_expires_at` integer NOT NULL,
	`form_submitted_at` integer,
	`idv_provider` text,
	`country_of_residence` text,
	`tier` text,
	`evidence` text,
	`decision_reason` text,
	`decided_by` text,
	`decided_at` integer,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `applications_form_token_hash` ON `applications` (`form_token_hash`);--> statement-breakpoint
CREATE INDEX `applications_status_created` ON `applications` (`status`,`created_at`);--> statement-breakpoint
CREATE INDEX `applications_applicant_did` ON `applications` (`applicant_did`);--> statement-breakpoint
CREATE TABLE `c_nonces` (
	`nonce` text PRIMARY KEY NOT NULL,
	`access_token_jti` text NOT NULL,
	`expires_at` integer NOT NULL,
	`consumed_at` integer
);
--> statement-breakpoint
CREATE TABLE `issued_credentials` (
	`id` text PRIMARY KEY NOT NULL,
	`application_id` text NOT NULL,
	`subject_did` text NOT NULL,
	`transaction_id` text,
	`jwt_sha256` text NOT NULL,
	`issued_at` integer NOT NULL,
	`expires_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `issued_credentials_application` ON `issued_credentials` (`application_id`);--> statement-breakpoint
CREATE UNIQUE INDEX `issued_credentials_transaction` ON `issued_credentials` (`transaction_id`);--> statement-breakpoint
CREATE TABLE `pre_authorized_codes` (
	`code_hash` text PRIMARY KEY NOT NULL,
	`application_id` text NOT NULL,
	`applicant_did` text NOT NULL,
	`expires_at` integer NOT NULL,
	`consumed_at` integer
);
--> statement-breakpoint
CREATE TABLE `siop_requests` (
	`nonce` text PRIMARY KEY NOT NULL,
	`presentation_definition_id` text,
	`created_at` integer NOT NULL,
	`expires_at` integer NOT NULL,
	`consumed_at` integer
);
--> statement-breakpoint
CREATE TABLE `transactions` (
	`id` text PRIMARY KEY NOT NULL,
	`application_id` text NOT NULL,
	`access_token_jti` text NOT NULL,
	`holder_did` text NOT NULL,
	`created_at` integer NOT NULL,
	`consumed_at` integer,
	`credential_id` text
);
--> statement-breakpoint
CREATE INDEX `transactions_application` ON `transactions` (`application_id`);