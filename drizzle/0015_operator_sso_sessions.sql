ALTER TABLE `operator_sessions` ADD `role` text;--> statement-breakpoint
ALTER TABLE `operator_sessions` ADD `display_name` text;