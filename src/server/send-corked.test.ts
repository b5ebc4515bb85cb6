import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { setImmediate as nextTurn } from "node:timers/promises";
import { sendCorked } from "./http.js";

/** A WebSocket whose raw socket records what reaches it: a write is what leaves at uncork (or at once when not corked). */
function fakeSocket() {
  const writes: string[][] = [];
  let buffered: string[] = [];
  const raw = {
    writableCorked: 0,
    cork() {
      this.writableCorked++;
    },
    uncork() {
      if (this.writableCorked && --this.writableCorked === 0 && buffered.length) {
        writes.push(buffered);
        buffered = [];
      }
    },
  };
  const socket = {
    _socket: raw,
    send(text: string) {
      if (raw.writableCorked) buffered.push(text);
      else writes.push([text]);
    },
  };
  return { socket, writes };
}

describe("sendCorked: the answers of a turn leave in one write", () => {
  it("a burst (answers of several calls in flight, events) waits for the turn's end and leaves in one write", async () => {
    const { socket, writes } = fakeSocket();
    sendCorked(socket, "a");
    sendCorked(socket, "b");
    sendCorked(socket, "c");
    assert.deepEqual(writes, [], "nothing leaves before the turn ends");
    await nextTurn();
    assert.deepEqual(writes, [["a", "b", "c"]]);
  });

  it("the answer of the only call in flight leaves at once", () => {
    const { socket, writes } = fakeSocket();
    sendCorked(socket, "only", true);
    assert.deepEqual(writes, [["only"]]);
  });

  it("a lone answer joins a write already gathering in this turn, after what came first", async () => {
    const { socket, writes } = fakeSocket();
    sendCorked(socket, "event");
    sendCorked(socket, "answer", true);
    assert.deepEqual(writes, []);
    await nextTurn();
    assert.deepEqual(writes, [["event", "answer"]]);
  });
});
