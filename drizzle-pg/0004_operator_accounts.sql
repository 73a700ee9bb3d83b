CREATE TABLE "operator_accounts" (
	"name" text PRIMARY KEY NOT NULL,
	"role" text NOT NULL,
	"secret_hash" text NOT NULL,
	"created_at" bigint NOT NULL,
	"updated_at" bigint NOT NULL,
	"disabled_at" bigint
);
--> statement-breakpoint
CREATE TABLE "pending_approvals" (
	"application_id" text PRIMARY KEY NOT NULL,
	"party" text NOT NULL,
	"actor" text NOT NULL,
	"from_status" text NOT NULL,
	"tier" text,
	"country_of_residence" text,
	"reason" text,
	"created_at" bigint NOT NULL
);
