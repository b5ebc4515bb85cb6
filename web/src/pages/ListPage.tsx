// A page (or a section of one) listing named records: a heading with the add button, a hint, the
// table with one row menu per record (page-specific actions, Edit, Delete or Remove), the add/edit
// dialog and the delete confirmation. Systems, System groups, Teams, Certificate authorities and
// the LDAP servers share it instead of each repeating the same table, dialog and confirm code.

import { useState, type ReactNode } from "react";
import { DataTable, actionsColumn, type Column, type RowAction } from "../table";
import { ConfirmDialog, ErrorBox } from "../ui";

export interface ListPageProps<T> {
  /** Table id (remembers its column choice) and heading id prefix. */
  id: string;
  title: string;
  /** 1: a page of its own; 2: a section (card) of a page. */
  level?: 1 | 2;
  caption: string;
  testid: string;
  rowTestid?: (row: T) => string;
  hint?: ReactNode;
  /** Buttons beside the add button. */
  headActions?: ReactNode;
  canWrite: boolean;
  /** The add button (shown when canWrite). */
  add?: { label: string; testid: string };
  rows: T[] | undefined;
  loading: boolean;
  error: unknown;
  onRetry: () => void;
  rowKey: (row: T) => string | number;
  /** The record's name in menus and titles. */
  name: (row: T) => string;
  columns: Column<T>[];
  empty: ReactNode;
  /** Actions before Edit and Delete (e.g. Check now, Test). */
  extraActions?: (row: T) => (RowAction | false | null | undefined)[];
  /** The add (row null) or edit dialog; `close` ends it. */
  editor?: (row: T | null, close: () => void) => ReactNode;
  /** Records are added, never edited (no Edit in the menu). */
  noEdit?: boolean;
  /** What deleting says and does; `run` calls the server (and toasts). */
  remove?: { verb: "Delete" | "Remove"; title: (row: T) => string; body: ReactNode; run: (row: T) => Promise<void> };
}

export function ListPage<T>(p: ListPageProps<T>) {
  const [editing, setEditing] = useState<T | "new" | null>(null);
  const [removing, setRemoving] = useState<T | null>(null);
  const level = p.level ?? 1;
  const H = level === 1 ? "h1" : "h2";
  const actions = (row: T): (RowAction | false | null | undefined)[] => [
    ...(p.extraActions?.(row) ?? []),
    p.canWrite && !!p.editor && !p.noEdit && { label: "Edit", onSelect: () => setEditing(row) },
    p.canWrite && !!p.remove && { label: p.remove.verb, danger: true, onSelect: () => setRemoving(row) },
  ];
  return (
    <section className={level === 1 ? "page" : "card"} aria-labelledby={`${p.id}-h`}>
      <div className="page-head">
        <H id={`${p.id}-h`}>{p.title}</H>
        {p.canWrite && (p.add || p.headActions) && (
          <span className="row">
            {p.headActions}
            {p.add && (
              <button type="button" className="primary" onClick={() => setEditing("new")} data-testid={p.add.testid}>
                {p.add.label}
              </button>
            )}
          </span>
        )}
      </div>
      {p.hint && <p className="hint">{p.hint}</p>}
      <ErrorBox error={p.error} onRetry={p.onRetry} />
      <DataTable<T>
        id={p.id}
        caption={p.caption}
        testid={p.testid}
        rowTestid={p.rowTestid}
        columns={[...p.columns, actionsColumn(p.name, actions)]}
        rows={p.rows ?? []}
        rowKey={p.rowKey}
        rowLabel={p.name}
        loading={p.loading && !p.rows}
        empty={p.empty}
      />
      {editing && p.editor?.(editing === "new" ? null : editing, () => setEditing(null))}
      {removing && p.remove && (
        <ConfirmDialog title={p.remove.title(removing)} confirmLabel={p.remove.verb} danger onClose={() => setRemoving(null)} onConfirm={() => p.remove!.run(removing)}>
          {p.remove.body}
        </ConfirmDialog>
      )}
    </section>
  );
}
