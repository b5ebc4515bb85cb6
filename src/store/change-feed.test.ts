// SqliteChangeFeed: a call sees every commit another connection made before it arrived (through
// data_version), even when a timer read the stamp earlier in the same turn of the event loop; the
// calls of one burst (handled in one callback) share one read.

import { test } from "node:test";
import assert from "node:assert/strict";
import { SqliteChangeFeed } from "./change-feed.js";

test("a call that arrives after another connection's commit sees it, though a timer read the stamp before the commit in the same turn", async () => {
  let dataVersion = 1;
  const feed = new SqliteChangeFeed(() => dataVersion);
  const seen: string[] = [];
  await new Promise<void>((done) => {
    // Two timers due together run in the same timers phase, one after the other: a periodic job's
    // read, then a call handled right after another process committed.
    setTimeout(() => {
      seen.push(feed.stamp());
      dataVersion++; // another process commits
    }, 0);
    setTimeout(() => {
      feed.callArrived();
      seen.push(feed.stamp());
      done();
    }, 0);
  });
  assert.notEqual(seen[1], seen[0]);
});

test("the calls of one callback (a burst read from one socket) share one read, which is never newer than what is read after it", () => {
  let reads = 0;
  let dataVersion = 7;
  const feed = new SqliteChangeFeed(() => {
    reads++;
    return dataVersion;
  });
  feed.callArrived();
  const first = feed.stamp();
  dataVersion++;
  feed.callArrived();
  assert.equal(feed.stamp(), first);
  assert.equal(reads, 1);
  // This process's own writes move it at once.
  feed.localWrite();
  assert.notEqual(feed.stamp(), first);
});

test("a later callback's call reads data_version again", async () => {
  let reads = 0;
  const feed = new SqliteChangeFeed(() => ++reads);
  feed.callArrived();
  feed.stamp();
  await Promise.resolve(); // the burst's microtasks are done
  feed.callArrived();
  feed.stamp();
  assert.equal(reads, 2);
});
