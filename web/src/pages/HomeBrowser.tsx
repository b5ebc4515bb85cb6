// The home-directory browser of the user form: a modal over the storage roots
// (`filesystem.storage_roots`) and their folders (`filesystem.listdir` with a DIRECTORY filter,
// one level at a time), with breadcrumbs, "New folder" (`filesystem.mkdir`) and "Select".
//
// Keyboard: the folder list is a listbox — Up/Down/Home/End move, Enter or Right opens the
// highlighted folder, Left or Backspace goes up, typing a letter jumps to a folder; Escape closes
// the dialog and Tab stays inside it.

import { useCallback, useEffect, useId, useMemo, useRef, useState, type KeyboardEvent } from "react";
import { createPortal } from "react-dom";
import { api, RpcError, errorText } from "../api";
import { Dialog } from "../ui";

/** Folders shown per directory; more are reachable by typing the path in the form field. */
const LIMIT = 1000;

interface Folder {
  name: string;
  path: string;
  /** A configured storage root that does not exist on the server (nothing can be made in it). */
  missing?: boolean;
}

/** Whether a storage root exists: listing it answers filesystem.not_found when it does not. */
async function rootExists(root: string): Promise<boolean> {
  try {
    await api.query("filesystem.listdir", root, [], { limit: 1 });
    return true;
  } catch (err) {
    return !(err instanceof RpcError && (err.errorCode === "filesystem.not_found" || err.codes.includes("filesystem.not_found")));
  }
}

function join(dir: string, name: string): string {
  return dir === "/" ? `/${name}` : `${dir.replace(/\/+$/, "")}/${name}`;
}

function parentOf(p: string): string {
  const i = p.replace(/\/+$/, "").lastIndexOf("/");
  return i <= 0 ? "/" : p.slice(0, i);
}

/** The storage root `p` lies in (the longest match), or null. */
function rootOf(p: string, roots: string[]): string | null {
  const norm = p.replace(/(.)\/+$/, "$1");
  let best: string | null = null;
  for (const r of roots) if ((norm === r || norm.startsWith(r === "/" ? "/" : `${r}/`)) && (!best || r.length > best.length)) best = r;
  return best;
}

function messageOf(err: unknown): string {
  if (err instanceof RpcError && err.isValidation) return err.extra.map(([, m]) => m).join("\n");
  return errorText(err);
}

export function HomeBrowser(props: { value: string; canCreate: boolean; onPick: (path: string) => void; onClose: () => void }) {
  const [roots, setRoots] = useState<string[] | null>(null);
  /** null = the list of storage roots. */
  const [dir, setDir] = useState<string | null>(null);
  const [folders, setFolders] = useState<Folder[]>([]);
  const [truncated, setTruncated] = useState(false);
  const [active, setActive] = useState(-1);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<string | null>(null);
  const [creating, setCreating] = useState(false);
  const [newName, setNewName] = useState("");
  const [newError, setNewError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const listRef = useRef<HTMLUListElement>(null);
  const newRef = useRef<HTMLInputElement>(null);
  /** Folder to highlight once the next listing arrives. */
  const want = useRef<string | null>(null);
  /** While true, a missing start directory climbs to its parent instead of showing an error. */
  const climbing = useRef(true);
  const seq = useRef(0);
  const ids = useId();
  const optionId = (i: number) => `${ids}-opt-${i}`;

  // The storage roots, then where to start: the folder holding the field's path when it is in a root.
  useEffect(() => {
    let live = true;
    api
      .call("filesystem.storage_roots")
      .catch(() => ["/mnt"])
      .then((rs) => {
        if (!live) return;
        setRoots(rs);
        const v = props.value.trim();
        const root = v.startsWith("/") ? rootOf(v, rs) : null;
        if (root && v.replace(/(.)\/+$/, "$1") !== root) {
          want.current = v.replace(/\/+$/, "");
          setDir(parentOf(v));
        } else {
          want.current = root;
          setDir(null);
        }
      });
    return () => {
      live = false;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  const load = useCallback(async () => {
    if (!roots) return;
    const mine = ++seq.current;
    setLoading(true);
    setError(null);
    try {
      let list: Folder[];
      if (dir === null) {
        const exists = await Promise.all(roots.map(rootExists));
        if (mine !== seq.current) return;
        list = roots.map((r, i) => ({ name: r, path: r, missing: !exists[i] }));
        setTruncated(false);
      } else {
        const rows = await api.query("filesystem.listdir", dir, [["type", "=", "DIRECTORY"]], { order_by: ["name"], limit: LIMIT + 1 });
        if (mine !== seq.current) return;
        setTruncated(rows.length > LIMIT);
        list = rows.slice(0, LIMIT).map((r) => ({ name: r.name, path: r.path ?? join(dir, r.name) }));
      }
      climbing.current = false;
      setFolders(list);
      const w = want.current;
      want.current = null;
      const i = w ? list.findIndex((f) => f.path === w) : -1;
      setActive(i >= 0 ? i : list.length ? 0 : -1);
    } catch (err) {
      if (mine !== seq.current) return;
      if (climbing.current && dir !== null) {
        // The start folder does not exist (yet): show the nearest one that does.
        const root = rootOf(dir, roots);
        setDir(root === null || dir === root ? null : parentOf(dir));
        return;
      }
      setFolders([]);
      setActive(-1);
      setError(messageOf(err));
    } finally {
      if (mine === seq.current) setLoading(false);
    }
  }, [dir, roots]);

  useEffect(() => {
    void load();
  }, [load]);

  // Keep the highlighted folder in view and the list focused after moving between folders.
  useEffect(() => {
    if (active >= 0) document.getElementById(optionId(active))?.scrollIntoView({ block: "nearest" });
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [active, folders]);
  useEffect(() => {
    if (!loading && !creating) listRef.current?.focus();
  }, [loading, dir, creating]);
  useEffect(() => {
    if (creating) newRef.current?.focus();
  }, [creating]);

  const open = (f: Folder | undefined) => {
    if (!f) return;
    setCreating(false);
    setDir(f.path);
  };
  const up = () => {
    if (dir === null || !roots) return;
    const root = rootOf(dir, roots);
    want.current = dir;
    setCreating(false);
    setDir(root === null || dir === root ? null : parentOf(dir));
  };
  const goto = (p: string | null) => {
    setCreating(false);
    setDir(p);
  };

  const highlighted = active >= 0 ? folders[active] : undefined;
  // Nothing can be chosen in a folder that could not be listed, nor a root that does not exist.
  const chosen = error || highlighted?.missing ? null : (highlighted?.path ?? dir);

  const onListKey = (e: KeyboardEvent<HTMLUListElement>) => {
    const n = folders.length;
    const move = (i: number) => {
      e.preventDefault();
      if (n) setActive(Math.max(0, Math.min(n - 1, i)));
    };
    switch (e.key) {
      case "ArrowDown":
        return move(active + 1);
      case "ArrowUp":
        return move(active < 0 ? 0 : active - 1);
      case "Home":
        return move(0);
      case "End":
        return move(n - 1);
      case "PageDown":
        return move(active + 10);
      case "PageUp":
        return move(active - 10);
      case "Enter":
      case "ArrowRight":
        e.preventDefault();
        return open(highlighted);
      case "ArrowLeft":
      case "Backspace":
        e.preventDefault();
        return up();
      default:
        if (e.key.length === 1 && !e.ctrlKey && !e.metaKey && !e.altKey && n) {
          const k = e.key.toLowerCase();
          for (let step = 1; step <= n; step++) {
            const i = (active + step + n) % n;
            if (folders[i].name.toLowerCase().startsWith(k)) {
              e.preventDefault();
              setActive(i);
              return;
            }
          }
        }
    }
  };

  const create = async () => {
    if (dir === null) return;
    const name = newName.trim();
    if (!name) return setNewError("Enter a name for the new folder.");
    if (name.includes("/") || name === "." || name === "..") return setNewError("A folder name may not contain “/” or be “.” or “..”.");
    setBusy(true);
    setNewError(null);
    try {
      const made = await api.call("filesystem.mkdir", { path: join(dir, name), options: { mode: "755" } });
      want.current = made.path ?? join(dir, name);
      setCreating(false);
      setNewName("");
      await load();
    } catch (err) {
      setNewError(messageOf(err));
    } finally {
      setBusy(false);
    }
  };

  const crumbs = useMemo(() => {
    const out: { label: string; path: string | null }[] = [{ label: "Storage roots", path: null }];
    if (dir === null || !roots) return out;
    const root = rootOf(dir, roots) ?? dir;
    out.push({ label: root, path: root });
    let p = root;
    for (const seg of dir.slice(root.length).split("/").filter(Boolean)) {
      p = join(p, seg);
      out.push({ label: seg, path: p });
    }
    return out;
  }, [dir, roots]);

  const listLabel = dir === null ? "Storage roots" : `Folders in ${dir}`;
  return createPortal(
    <Dialog title="Choose the home directory" onClose={props.onClose} testid="dir-browser" wide trapFocus>
      <nav aria-label="Location" className="crumbs" data-testid="dir-crumbs">
        <ol>
          {crumbs.map((c, i) => (
            <li key={c.path ?? ""}>
              {i === crumbs.length - 1 ? (
                <span aria-current="location">{c.label}</span>
              ) : (
                <button type="button" className="link" onClick={() => goto(c.path)}>
                  {c.label}
                </button>
              )}
            </li>
          ))}
        </ol>
      </nav>
      <div className="dir-toolbar row wrap">
        <button type="button" onClick={up} disabled={dir === null} aria-keyshortcuts="ArrowLeft Backspace">
          ↑ Up
        </button>
        <button type="button" onClick={() => open(highlighted)} disabled={!highlighted} aria-keyshortcuts="Enter">
          Open
        </button>
        {props.canCreate && (
          <button type="button" onClick={() => (setCreating(true), setNewError(null))} disabled={dir === null || !!error || creating} data-testid="dir-new-folder">
            New folder
          </button>
        )}
      </div>
      {creating && dir !== null && (
        <div className={`field new-folder ${newError ? "invalid" : ""}`}>
          <label htmlFor={`${ids}-new`}>New folder in {dir}</label>
          <div className="row">
            <input
              id={`${ids}-new`}
              ref={newRef}
              className="grow"
              value={newName}
              autoComplete="off"
              spellCheck={false}
              aria-invalid={newError ? true : undefined}
              aria-describedby={newError ? `${ids}-new-err` : undefined}
              onChange={(e) => setNewName(e.target.value)}
              onKeyDown={(e) => {
                if (e.key === "Enter") {
                  e.preventDefault();
                  void create();
                }
              }}
              data-testid="dir-new-name"
            />
            <button type="button" className="primary" onClick={() => void create()} disabled={busy} data-testid="dir-create">
              Create
            </button>
            <button type="button" onClick={() => (setCreating(false), setNewError(null))}>
              Cancel
            </button>
          </div>
          {newError && (
            <div className="field-error" id={`${ids}-new-err`} role="alert">
              {newError}
            </div>
          )}
        </div>
      )}
      {error && (
        <div className="alert error" role="alert">
          {error}{" "}
          <button type="button" className="link" onClick={() => goto(null)}>
            Back to the storage roots
          </button>
        </div>
      )}
      <ul
        ref={listRef}
        className="dir-list"
        role="listbox"
        tabIndex={0}
        aria-label={listLabel}
        aria-busy={loading}
        aria-activedescendant={active >= 0 ? optionId(active) : undefined}
        onKeyDown={onListKey}
        data-testid="dir-list"
      >
        {folders.map((f, i) => (
          <li
            key={f.path}
            id={optionId(i)}
            role="option"
            aria-selected={i === active}
            className={i === active ? "active" : undefined}
            onClick={() => setActive(i)}
            onDoubleClick={() => open(f)}
            title={f.path}
          >
            <span aria-hidden="true" className={`dir-icon ${dir === null ? "root" : "folder"}`} />
            <span className="dir-name">{f.name}</span>
            {f.missing && <span className="hint"> (does not exist)</span>}
          </li>
        ))}
        {!loading && !error && !folders.length && (
          <li className="hint" role="presentation">
            {dir === null ? "No storage roots are configured." : "No folders here."}
          </li>
        )}
      </ul>
      {highlighted?.missing && (
        <p className="alert warn" data-testid="dir-missing">
          The storage root {highlighted.path} does not exist on the server yet. Create it there (for example with <code>mkdir -p {highlighted.path}</code>) or choose another one.
        </p>
      )}
      {truncated && <p className="hint">Showing the first {LIMIT} folders; type the path in the form to go further.</p>}
      <p className="hint">Double-click or press Enter to open a folder. With “Create home directory”, a folder named after the user is made inside the one you select.</p>
      <div className="dir-chosen" aria-live="polite">
        Selected: <code data-testid="dir-chosen">{chosen ?? "—"}</code>
      </div>
      <div className="actions">
        <button type="button" onClick={props.onClose}>
          Cancel
        </button>
        <button type="button" className="primary" disabled={!chosen || loading} onClick={() => chosen && props.onPick(chosen)} data-testid="dir-select">
          Select
        </button>
      </div>
    </Dialog>,
    document.body,
  );
}
