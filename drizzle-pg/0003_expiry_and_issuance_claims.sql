CREATE TABLE "issuance_claims" (
	"application_id" text PRIMARY KEY NOT NULL,
	"credential_id" text NOT NULL,
	"claimed_at" bigint NOT NULL
);
--> statement-breakpoint
ALTER TABLE "credential_status" ADD COLUMN "expiry_announced_at" bigint;--> statement-breakpoint
CREATE INDEX "credential_status_expiry" ON "credential_status" USING btree ("expiry_announced_at","expires_at");