CREATE TABLE `issuance_claims` (
	`application_id` text PRIMARY KEY NOT NULL,
	`credential_id` text NOT NULL,
	`claimed_at` integer NOT NULL
);
