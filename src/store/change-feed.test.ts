// SqliteChangeFeed: another connection's commit (seen through data_version) moves the stamp for
// every callback that runs after it, even one in the same turn of the event loop as an earlier read.

import { test } from "node:test";
import assert from "node:assert/strict";
import { SqliteChangeFeed } from "./change-feed.js";

test("a commit by another connection between two callbacks of one event-loop turn moves the stamp for the second", async () => {
  let dataVersion = 1;
  const feed = new SqliteChangeFeed(() => dataVersion);
  const seen: string[] = [];
  await new Promise<void>((done) => {
    // Two timers due together run in the same timers phase, one after the other: as a periodic
    // job's read and a request handled right after it.
    setTimeout(() => {
      seen.push(feed.stamp());
      dataVersion++; // another process commits
    }, 0);
    setTimeout(() => {
      seen.push(feed.stamp());
      done();
    }, 0);
  });
  assert.notEqual(seen[1], seen[0]);
});

test("within one callback the stamp is read once (a burst of calls shares it) and is never newer than what is read after it", () => {
  let reads = 0;
  let dataVersion = 7;
  const feed = new SqliteChangeFeed(() => {
    reads++;
    return dataVersion;
  });
  const first = feed.stamp();
  dataVersion++;
  assert.equal(feed.stamp(), first);
  assert.equal(reads, 1);
  // This process's own writes move it at once.
  feed.localWrite();
  assert.notEqual(feed.stamp(), first);
});
