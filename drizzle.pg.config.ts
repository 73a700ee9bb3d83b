import { defineConfig } from 'drizzle-kit';

/** PostgreSQL migrations (drizzle-pg/), from the pg-core mirror of src/store/schema.ts. */
export default defineConfig({
  dialect: 'postgresql',
  schema: './src/store/postgres/schema.ts',
  out: './drizzle-pg',
});
