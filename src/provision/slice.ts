// Cooperative time slicing for provisioning's long loops (issue 15): at 1,000,000 users reading
// the store, building the model, diffing it and rendering every block take seconds of CPU. Run in
// one piece they stall every API call for that long; run in turns of a few milliseconds, with the
// event loop free between turns, calls wait at most one turn.
//
// The loops are written once, as generators that yield at points where stopping is safe (between
// blocks, every few hundred rows); `drain` runs one to the end at once (tests, small changes),
// `Slicer.drive` runs it in turns.

/** A turn's budget: long enough that the yields cost nothing measurable, short enough for p99s. */
export const SLICE_MS = 4;

/** Run `steps` to the end in one piece. */
export function drain<T>(steps: Generator<unknown, T>): T {
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
  }
}

export class Slicer {
  private turnStart = performance.now();
  constructor(private readonly sliceMs = SLICE_MS) {}

  /** Has the current turn used its time? */
  due(): boolean {
    return performance.now() - this.turnStart >= this.sliceMs;
  }

  /** Give the event loop a turn (I/O callbacks, timers), then start a new turn. */
  async pause(): Promise<void> {
    await new Promise<void>((resolve) => setImmediate(resolve));
    this.turnStart = performance.now();
  }

  /** Pause when the turn is used up. */
  async maybePause(): Promise<void> {
    if (this.due()) await this.pause();
  }

  /** Run `steps` to the end, pausing at its yields whenever a turn is used up. */
  async drive<T>(steps: Generator<unknown, T>): Promise<T> {
    for (;;) {
      const r = steps.next();
      if (r.done) return r.value;
      if (this.due()) await this.pause();
    }
  }
}
