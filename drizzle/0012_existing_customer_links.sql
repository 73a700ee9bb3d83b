CREATE TABLE `existing_customer_links` (
	`application_id` text PRIMARY KEY NOT NULL,
	`subject_digest` text NOT NULL,
	`applicant_did` text NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `existing_customer_links_subject` ON `existing_customer_links` (`subject_digest`);