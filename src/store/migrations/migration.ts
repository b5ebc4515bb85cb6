// What a migration is, and the dialects it runs on. A leaf: the migrations, the runner and the
// store (src/store/db.ts) all import it, so none of them imports another in a loop.

import type { Kysely } from "kysely";

export type Dialect = "sqlite" | "postgres";

export interface Migration {
  version: number;
  name: string;
  up(db: Kysely<any>, dialect: Dialect): Promise<void>;
}
