CREATE TABLE "presented_claims" (
	"application_id" text PRIMARY KEY NOT NULL,
	"key_id" text NOT NULL,
	"ciphertext" text,
	"created_at" bigint NOT NULL,
	"purge_after" bigint,
	"erased_at" bigint,
	"erased_reason" text
);
--> statement-breakpoint
CREATE INDEX "presented_claims_purge_after" ON "presented_claims" USING btree ("purge_after");