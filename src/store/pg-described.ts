// PostgreSQL: a named statement run again without asking for its row description. node-pg sends
// Describe with every execution, then parses the RowDescription (one object per column) and
// builds every column's parser and an empty row anew: for the user lookup (46 columns) ~12 kB and
// a few microseconds a run, for the same answer each time. Here the description of a statement's
// first run on a connection is kept (the parsers and a function that makes a row, an object
// literal of the columns), and later runs send Bind, Execute and Sync only. The rows are those
// node-pg makes: the same keys in the same order (a repeated name keeps its first place and its
// last value), the same type parsers.

import { createRequire } from "node:module";
import pg from "pg";

type Fields = (string | null)[];
/** A statement's rows as node-pg would make them, from the text fields of a DataRow. */
export type RowMaker = (fields: Fields) => unknown;

// node-pg's own value encoding (a JS array → a PostgreSQL array literal), so the bound text is the same.
const { prepareValue } = createRequire(import.meta.url)("pg/lib/utils.js") as { prepareValue: (v: unknown) => unknown };

/**
 * The row maker for a statement's columns (node-pg's `result.fields`), or null when node-pg's rows
 * could differ from a literal's: binary columns, a `__proto__` column (a literal key would set the
 * prototype).
 */
export function rowMakerOf(fields: readonly { name: string; dataTypeID: number; format?: string }[]): RowMaker | null {
  if (fields.some((f) => f.name === "__proto__" || (f.format !== undefined && f.format !== "text"))) return null;
  const parsers = fields.map((f) => pg.types.getTypeParser(f.dataTypeID, "text") as (v: string) => unknown);
  const body = fields.map((f, i) => `${JSON.stringify(f.name)}: v[${i}] === null ? null : p[${i}](v[${i}])`).join(", ");
  const make = new Function("p", `return (v) => ({${body}});`) as (p: unknown[]) => RowMaker;
  return make(parsers);
}

interface PgConnection {
  stream: { cork?: () => void; uncork?: () => void };
  bind(config: { statement: string; values: unknown[] }): void;
  execute(config: object): void;
  sync(): void;
  sendCopyFail(message: string): void;
}

/**
 * One run of an already prepared statement, as a node-pg submittable (the client queues it like
 * its own queries and hands it the backend's messages).
 */
class DescribedRun {
  private readonly rows: unknown[] = [];
  private failed: unknown = null;
  private settled = false;

  constructor(
    private readonly name: string,
    private readonly values: unknown[],
    private readonly make: RowMaker,
    private readonly resolve: (rows: unknown[]) => void,
    private readonly reject: (err: unknown) => void,
  ) {}

  submit(connection: PgConnection): null {
    connection.stream.cork?.();
    try {
      connection.bind({ statement: this.name, values: this.values });
      connection.execute({});
      connection.sync();
    } finally {
      connection.stream.uncork?.();
    }
    return null;
  }

  handleDataRow(msg: { fields: Fields }): void {
    if (this.failed) return;
    try {
      this.rows.push(this.make(msg.fields));
    } catch (err) {
      // As node-pg: a value its parser refuses fails the query once the backend is ready again.
      this.failed = err;
    }
  }

  handleRowDescription(): void {}
  handleCommandComplete(): void {}
  handleEmptyQuery(): void {}
  handlePortalSuspended(): void {}
  handleCopyData(): void {}

  handleCopyInResponse(connection: PgConnection): void {
    connection.sendCopyFail("No source stream defined");
  }

  handleError(err: unknown): void {
    if (this.settled) return;
    this.settled = true;
    this.reject(err);
  }

  handleReadyForQuery(): void {
    if (this.settled) return;
    this.settled = true;
    if (this.failed) this.reject(this.failed);
    else this.resolve(this.rows);
  }
}

/** Run the named statement `name`, prepared on `client` already, without its description. */
export function runDescribed(client: pg.PoolClient, name: string, make: RowMaker, params: unknown[]): Promise<unknown[]> {
  // Encoded before anything is written: an encoding error cannot leave half a message on the wire.
  const values = params.map((v) => prepareValue(v));
  return new Promise((resolve, reject) => {
    client.query(new DescribedRun(name, values, make, resolve, reject) as unknown as pg.QueryConfig);
  });
}
