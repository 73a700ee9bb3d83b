CREATE TABLE `operator_accounts` (
	`name` text PRIMARY KEY NOT NULL,
	`role` text NOT NULL,
	`secret_hash` text NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	`disabled_at` integer
);
--> statement-breakpoint
CREATE TABLE `pending_approvals` (
	`application_id` text PRIMARY KEY NOT NULL,
	`party` text NOT NULL,
	`actor` text NOT NULL,
	`from_status` text NOT NULL,
	`tier` text,
	`country_of_residence` text,
	`reason` text,
	`created_at` integer NOT NULL
);
