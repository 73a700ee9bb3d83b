ALTER TABLE "issued_credentials" ADD COLUMN "format" text DEFAULT 'jwt_vc_json' NOT NULL;--> statement-breakpoint
ALTER TABLE "transactions" ADD COLUMN "format" text DEFAULT 'jwt_vc_json' NOT NULL;--> statement-breakpoint
ALTER TABLE "transactions" ADD COLUMN "configuration_id" text;--> statement-breakpoint
ALTER TABLE "transactions" ADD COLUMN "holder_keys" text;