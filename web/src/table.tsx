// A data table for server-side paged lists: sortable headers (aria-sort), a column chooser
// (remembered per table in localStorage), expandable rows for a detail panel, and a pager.
// On phone widths the CSS turns each row into a labelled card (data-label).

import { Fragment, useEffect, useState, type ReactNode } from "react";
import { Popover } from "./popover";
import { Link } from "./router";

export interface Column<T> {
  key: string;
  label: string;
  /** Field for order_by; absent ⇒ not sortable. */
  sort?: string;
  render: (row: T) => ReactNode;
  /** Hidden until chosen in the column chooser. */
  hidden?: boolean;
  /** Cannot be hidden. */
  always?: boolean;
  className?: string;
  /** Shown in the compact one-card-per-row phone layout (when any column sets it, the others are hidden there). */
  compact?: boolean;
}

export interface TableProps<T> {
  id: string;
  caption: string;
  columns: Column<T>[];
  rows: T[];
  rowKey: (row: T) => string | number;
  total?: number;
  page?: number;
  pageSize?: number;
  onPage?: (page: number) => void;
  onPageSize?: (size: number) => void;
  sort?: string | null;
  onSort?: (sort: string) => void;
  expanded?: string | number | null;
  onToggle?: (key: string | number) => void;
  renderDetail?: (row: T) => ReactNode;
  loading?: boolean;
  empty?: ReactNode;
  toolbar?: ReactNode;
  rowLabel?: (row: T) => string;
  /** data-testid of the table's wrapper (default `table-<id>`) and of each row. */
  testid?: string;
  rowTestid?: (row: T) => string;
}

/**
 * Paging, sorting and row expansion of one server-paged DataTable, and `tableProps`, the props
 * that wire them to it (a page may still pass its own `onSort` after the spread).
 */
export function useTableState(init: { sort: string; pageSize?: number }) {
  const [page, setPage] = useState(0);
  const [pageSize, setPageSize] = useState(init.pageSize ?? 50);
  const [sort, setSort] = useState(init.sort);
  const [expanded, setExpanded] = useState<string | number | null>(null);
  const tableProps = {
    page,
    pageSize,
    onPage: setPage,
    onPageSize: setPageSize,
    sort,
    onSort: setSort,
    expanded,
    onToggle: (key: string | number) => setExpanded((e) => (e === key ? null : key)),
  };
  return { page, setPage, pageSize, sort, setSort, expanded, setExpanded, tableProps };
}

function loadCols(id: string, columns: Column<unknown>[]): Set<string> {
  try {
    const saved = localStorage.getItem(`gatehouse.cols.${id}`);
    if (saved) {
      const keys = JSON.parse(saved) as string[];
      return new Set([...keys, ...columns.filter((c) => c.always).map((c) => c.key)]);
    }
  } catch {
    /* ignore */
  }
  return new Set(columns.filter((c) => !c.hidden).map((c) => c.key));
}

export function DataTable<T>(props: TableProps<T>) {
  const { columns, rows, rowKey } = props;
  const [visible, setVisible] = useState<Set<string>>(() => loadCols(props.id, columns as Column<unknown>[]));
  useEffect(() => {
    localStorage.setItem(`gatehouse.cols.${props.id}`, JSON.stringify([...visible]));
  }, [visible, props.id]);
  const shown = columns.filter((c) => visible.has(c.key));
  const compactLayout = columns.some((c) => c.compact);
  const expandable = !!props.renderDetail;
  const span = shown.length + (expandable ? 1 : 0);
  const sortField = props.sort?.replace(/^-/, "") ?? null;
  const desc = props.sort?.startsWith("-") ?? false;
  const total = props.total ?? rows.length;
  const page = props.page ?? 0;
  const pageSize = props.pageSize ?? rows.length;
  const pages = pageSize ? Math.max(1, Math.ceil(total / pageSize)) : 1;
  const from = total === 0 ? 0 : page * pageSize + 1;
  const to = Math.min(total, page * pageSize + rows.length);

  return (
    <div className={`table-wrap ${compactLayout ? "compact-rows" : ""}`} data-testid={props.testid ?? `table-${props.id}`}>
      <div className="table-toolbar">
        <div className="table-tools">{props.toolbar}</div>
        <details className="menu column-chooser">
          <summary>Columns</summary>
          <fieldset className="menu-body">
            <legend className="sr-only">Columns shown</legend>
            {columns.map((c) => (
              <label key={c.key} className="check">
                <input
                  type="checkbox"
                  checked={visible.has(c.key)}
                  disabled={c.always}
                  onChange={(e) => {
                    const n = new Set(visible);
                    if (e.target.checked) n.add(c.key);
                    else n.delete(c.key);
                    setVisible(n);
                  }}
                />
                {c.label}
              </label>
            ))}
            <button type="button" className="link" onClick={() => setVisible(new Set(columns.filter((c) => !c.hidden).map((c) => c.key)))}>
              Reset columns
            </button>
          </fieldset>
        </details>
      </div>
      <div className="table-scroll">
        <table aria-busy={props.loading || undefined}>
          <caption className="sr-only">{props.caption}</caption>
          <thead>
            <tr>
              {expandable && (
                <th scope="col" className="expander">
                  <span className="sr-only">Details</span>
                </th>
              )}
              {shown.map((c) => {
                const active = sortField === c.sort && !!c.sort;
                return (
                  <th key={c.key} scope="col" className={c.className} aria-sort={active ? (desc ? "descending" : "ascending") : c.sort ? "none" : undefined}>
                    {c.sort && props.onSort ? (
                      <button type="button" className="sort" onClick={() => props.onSort!(active && !desc ? `-${c.sort}` : c.sort!)} title={`Sort by ${c.label}`}>
                        {c.label}
                        <span aria-hidden="true" className="sort-mark">
                          {active ? (desc ? "▼" : "▲") : "↕"}
                        </span>
                      </button>
                    ) : (
                      c.label
                    )}
                  </th>
                );
              })}
            </tr>
          </thead>
          <tbody>
            {rows.length === 0 &&
              props.loading &&
              // Skeleton rows while the first page loads (not an empty table that says 0 of 0).
              [0, 1, 2, 3, 4].map((i) => (
                <tr key={`skel-${i}`} className="skeleton" data-testid="skeleton-row">
                  {expandable && <td className="expander" />}
                  {shown.map((c) => (
                    <td key={c.key} data-label={c.label}>
                      <span className="skel" aria-hidden="true" />
                    </td>
                  ))}
                </tr>
              ))}
            {rows.length === 0 && !props.loading && (
              <tr className="empty">
                <td colSpan={span}>{props.empty ?? "Nothing to show."}</td>
              </tr>
            )}
            {rows.map((row) => {
              const key = rowKey(row);
              const open = props.expanded === key;
              const detailId = `detail-${props.id}-${key}`;
              return (
                <Fragment key={key}>
                  <tr
                    className={`${open ? "open" : ""} ${expandable ? "clickable" : ""}`}
                    data-row={String(key)}
                    data-testid={props.rowTestid?.(row)}
                    onClick={(e) => {
                      if (!expandable) return;
                      const t = e.target as HTMLElement;
                      if (t.closest("button, a, input, select, label, textarea")) return;
                      props.onToggle?.(key);
                    }}
                  >
                    {expandable && (
                      <td className="expander">
                        <button
                          type="button"
                          className="icon"
                          aria-expanded={open}
                          aria-controls={open ? detailId : undefined}
                          aria-label={`${open ? "Hide" : "Show"} details of ${props.rowLabel ? props.rowLabel(row) : key}`}
                          onClick={() => props.onToggle?.(key)}
                        >
                          {open ? "▾" : "▸"}
                        </button>
                      </td>
                    )}
                    {shown.map((c) => (
                      <td key={c.key} data-label={c.label} className={[c.className, compactLayout && (c.compact ? "compact" : "phone-hide")].filter(Boolean).join(" ") || undefined}>
                        {c.render(row)}
                      </td>
                    ))}
                  </tr>
                  {open && props.renderDetail && (
                    <tr className="detail" id={detailId}>
                      <td colSpan={span}>{props.renderDetail(row)}</td>
                    </tr>
                  )}
                </Fragment>
              );
            })}
          </tbody>
        </table>
      </div>
      {props.onPage && (
        <nav className="pager" aria-label={`${props.caption} pages`}>
          <span className="pager-info" data-testid="pager-info" aria-live="polite">
            {props.loading && rows.length === 0 ? "Loading…" : total === 0 ? "No results" : `${from}–${to} of ${total.toLocaleString("en-US")}`}
          </span>
          {props.onPageSize && (
            <label>
              Rows per page{" "}
              <select value={pageSize} onChange={(e) => props.onPageSize!(Number(e.target.value))}>
                {[10, 25, 50, 100].map((n) => (
                  <option key={n} value={n}>
                    {n}
                  </option>
                ))}
              </select>
            </label>
          )}
          <button type="button" onClick={() => props.onPage!(0)} disabled={page === 0} aria-label="First page">
            «
          </button>
          <button type="button" onClick={() => props.onPage!(page - 1)} disabled={page === 0} aria-label="Previous page">
            ‹
          </button>
          <span>
            Page {page + 1} of {pages}
          </span>
          <button type="button" onClick={() => props.onPage!(page + 1)} disabled={page + 1 >= pages} aria-label="Next page">
            ›
          </button>
          <button type="button" onClick={() => props.onPage!(pages - 1)} disabled={page + 1 >= pages} aria-label="Last page">
            »
          </button>
        </nav>
      )}
    </div>
  );
}

// ---------------------------------------------------------------------------------------------
// Row actions (issue 14 point 7): one compact "⋯" button per row opening a menu of the row's
// actions, so a row never wraps or grows with its actions, at any width. The items keep names
// that say which row they act on ("Delete ops"); keyboard: Enter opens, arrows move, Esc closes.

export interface RowAction {
  label: string;
  /** Run on choosing it (the menu closes first, focus back on its button). */
  onSelect?: () => void;
  /** Or a link (client-side navigation). */
  to?: string;
  danger?: boolean;
  disabled?: boolean;
  testid?: string;
  /** Accessible name when "<label> <row name>" reads badly (it must contain the label). */
  name?: string;
}

/**
 * The row's actions behind one button; `name` says which row (in the button's and each item's
 * name). A detail panel's "More" menu is the same menu with a `label` (and its own testid).
 */
export function RowMenu({ name, actions, label, testid = "row-menu" }: { name: string; actions: (RowAction | false | null | undefined)[]; label?: ReactNode; testid?: string }) {
  const list = actions.filter((a): a is RowAction => !!a);
  if (!list.length) return label ? null : <>—</>;
  return (
    <Popover
      className="row-menu"
      buttonClass={label ? undefined : "icon row-menu-button"}
      label={label ?? <span aria-hidden="true">⋯</span>}
      ariaLabel={label ? `More actions for ${name}` : `Actions for ${name}`}
      title={label ? undefined : "Actions"}
      align={label ? "left" : "right"}
      menu
      testid={testid}
    >
      {(close) => (
        <div role="group" aria-label={`Actions for ${name}`}>
          {list.map((a) =>
            a.to ? (
              <Link key={a.label} to={a.to} className="menu-item" aria-label={a.name ?? `${a.label} ${name}`} onClick={close} data-testid={a.testid}>
                {a.label}
              </Link>
            ) : (
              <button
                key={a.label}
                type="button"
                className={`menu-item ${a.danger ? "danger" : ""}`}
                aria-label={a.name ?? `${a.label} ${name}`}
                disabled={a.disabled}
                data-testid={a.testid}
                onClick={() => {
                  close();
                  a.onSelect?.();
                }}
              >
                {a.label}
              </button>
            ),
          )}
        </div>
      )}
    </Popover>
  );
}

/** The last column of a table with row actions: a RowMenu, never hidden, as narrow as its button. */
export function actionsColumn<T>(name: (row: T) => string, actions: (row: T) => (RowAction | false | null | undefined)[]): Column<T> {
  return { key: "actions", label: "Actions", always: true, className: "actions-col", render: (row) => <RowMenu name={name(row)} actions={actions(row)} /> };
}
