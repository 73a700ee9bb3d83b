ALTER TABLE `issued_credentials` ADD `format` text DEFAULT 'jwt_vc_json' NOT NULL;--> statement-breakpoint
ALTER TABLE `transactions` ADD `format` text DEFAULT 'jwt_vc_json' NOT NULL;--> statement-breakpoint
ALTER TABLE `transactions` ADD `configuration_id` text;--> statement-breakpoint
ALTER TABLE `transactions` ADD `holder_keys` text;