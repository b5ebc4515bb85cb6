// Helpers of the fleet access suites.

import type { TestServer } from "./harness.js";
import { randomName } from "./auth-helpers.js";

/** A managed system row (the systems API tests the connection; these suites need none). */
export async function addSystem(ts: TestServer, name = randomName("sys")): Promise<number> {
  const r = await ts.app.store.db
    .insertInto("fleet_systems")
    .values({ name, url: "ws://127.0.0.1:1/api/current", api_key: "unused", verify_ssl: 1 } as never)
    .returning("id")
    .executeTakeFirstOrThrow();
  return Number(r.id);
}
