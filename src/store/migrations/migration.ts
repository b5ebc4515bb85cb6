// What a migration is, and the dialects it runs on. A leaf: the migrations, the runner and the
// store (src/store/db.ts) all import it, so none of them imports another in a loop.

import type { Kysely } from "kysely";

export type Dialect = "sqlite" | "postgres";

/** The database a migration sees: untyped, because a migration runs against the schema of its own
 * time, not today's table types (Kysely's advice for migrations). */
// biome-ignore lint/suspicious/noExplicitAny: a migration's schema is the one it creates, not src/store/schema.ts
export type MigrationDb = Kysely<any>;

export interface Migration {
  version: number;
  name: string;
  up(db: MigrationDb, dialect: Dialect): Promise<void>;
}
