CREATE TABLE `application_assignments` (
	`application_id` text PRIMARY KEY NOT NULL,
	`assignee` text NOT NULL,
	`assigned_at` integer NOT NULL
);
