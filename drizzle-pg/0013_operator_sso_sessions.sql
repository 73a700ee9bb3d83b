ALTER TABLE "operator_sessions" ADD COLUMN "role" text;--> statement-breakpoint
ALTER TABLE "operator_sessions" ADD COLUMN "display_name" text;