// Small building blocks shared by the screens: labelled fields that show server validation errors
// next to themselves, native <dialog> modals (focus trap and Escape for free), toasts in a live
// region, copy-to-clipboard, downloads, and an async-data hook.

import {
  createContext,
  useCallback,
  useContext,
  useEffect,
  useId,
  useLayoutEffect,
  useRef,
  useState,
  type ChangeEvent,
  type InputHTMLAttributes,
  type ReactNode,
  type SelectHTMLAttributes,
  type TextareaHTMLAttributes,
} from "react";
import { ConnectionLost, RpcError, errorText } from "./api";
import { roleText, words, type TermKind } from "./words";

// ---------------------------------------------------------------------------------------------
// Async data

export function useAsync<T>(fn: () => Promise<T>, deps: unknown[]): { data: T | undefined; error: unknown; loading: boolean; reload: () => void; setData: (t: T) => void } {
  const [state, setState] = useState<{ data: T | undefined; error: unknown; loading: boolean }>({ data: undefined, error: null, loading: true });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    setState((s) => ({ ...s, loading: true }));
    fn().then(
      (data) => live && setState({ data, error: null, loading: false }),
      (error) => live && setState((s) => ({ data: s.data, error, loading: false })),
    );
    return () => {
      live = false;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, tick]);
  return {
    ...state,
    reload: useCallback(() => setTick((t) => t + 1), []),
    setData: useCallback((data: T) => setState({ data, error: null, loading: false }), []),
  };
}

// ---------------------------------------------------------------------------------------------
// Form errors

export type FieldErrors = Record<string, string[]>;
export type FormErrors = ReturnType<typeof useFormErrors>;

export const CORRECT_FIELDS = "Please correct the fields marked below.";

export function useFormErrors() {
  const [fields, setFields] = useState<FieldErrors>({});
  const [general, setGeneral] = useState<string | null>(null);
  const summaryRef = useRef<HTMLDivElement>(null);
  const clear = useCallback(() => {
    setFields({});
    setGeneral(null);
  }, []);
  /** Show an error thrown by a call; `known` are the field names the form renders. */
  const show = useCallback((err: unknown, known: string[] = []) => {
    if (err instanceof RpcError && err.isValidation) {
      const fe = err.fieldErrors();
      setFields(fe);
      const unplaced = err.extra.filter(([attr]) => {
        const path = attr.split(".").slice(1);
        return !known.some((k) => path[0] === k || path.join(".") === k || attr.endsWith("." + k));
      });
      setGeneral(unplaced.length ? unplaced.map(([a, m]) => `${a.split(".").slice(1).join(".") || a}: ${m}`).join("\n") : CORRECT_FIELDS);
      requestAnimationFrame(() => {
        const firstKey = known.find((k) => fe[k]);
        const el = firstKey ? document.querySelector<HTMLElement>(`[data-field="${firstKey}"]`) : null;
        (el ?? summaryRef.current)?.focus();
      });
    } else {
      setFields({});
      setGeneral(err instanceof ConnectionLost ? "The connection to the server was lost. Try again." : errorText(err));
      requestAnimationFrame(() => summaryRef.current?.focus());
    }
  }, []);
  // A field's error goes as soon as the field changes (issue 14): listened for on the form (or
  // dialog / section) holding the summary, so every form using it gets this without wiring.
  useEffect(() => {
    const root = summaryRef.current?.closest("form, dialog, section");
    if (!root) return;
    const changed = (e: Event) => {
      const t = e.target as HTMLElement;
      // Text fields report each edit as "input"; their "change" comes later, on blur (as the
      // submit button is clicked), and must not clear the error the submit just set.
      if (e.type === "change" && (t instanceof HTMLTextAreaElement || (t instanceof HTMLInputElement && !["checkbox", "radio", "file"].includes(t.type)))) return;
      const name = t.closest?.("[data-field]")?.getAttribute("data-field") ?? (t as HTMLInputElement).name;
      if (!name) return;
      // After React has handled the event: a state update inside the native dispatch would
      // re-render the controlled field with its old value before its own onChange runs.
      setTimeout(() =>
        setFields((f) => {
          if (!f[name]) return f;
          const n = { ...f };
          delete n[name];
          return n;
        }),
      );
    };
    root.addEventListener("input", changed);
    root.addEventListener("change", changed);
    return () => {
      root.removeEventListener("input", changed);
      root.removeEventListener("change", changed);
    };
  }, []);
  useEffect(() => {
    if (!Object.keys(fields).length) setGeneral((g) => (g === CORRECT_FIELDS ? null : g));
  }, [fields]);
  const setField = useCallback((name: string, msgs: string[] | null) => {
    setFields((f) => {
      const n = { ...f };
      if (msgs?.length) n[name] = msgs;
      else delete n[name];
      return n;
    });
  }, []);
  return { fields, general, clear, show, setField, setGeneral, summaryRef };
}

interface SummaryItem {
  target: string;
  label: string;
  message: string;
}

/** The field errors shown in the form holding `el`, in the form's order, with what each concerns. */
function fieldErrorsIn(el: HTMLElement | null): SummaryItem[] {
  const root = el?.closest("form, dialog, section");
  if (!root) return [];
  const out: SummaryItem[] = [];
  for (const err of root.querySelectorAll<HTMLElement>(".field-error")) {
    const wrap = err.closest<HTMLElement>(".field, fieldset, [data-field]") ?? err.parentElement;
    if (!wrap) continue;
    const control = wrap.querySelector<HTMLElement>("input:not([type=hidden]), select, textarea") ?? wrap;
    if (!control.id) control.id = `fe-${out.length}-${Math.random().toString(36).slice(2, 8)}`;
    const labelEl = (control.id && root.querySelector(`label[for="${CSS.escape(control.id)}"]`)) || wrap.querySelector("legend, label");
    const label = (labelEl?.textContent ?? "").replace(/\*\s*$/, "").trim();
    out.push({ target: control.id, label, message: (err.textContent ?? "").trim() });
  }
  return out;
}

/**
 * The form's error summary: what went wrong, and — when fields are marked — a list of them in the
 * form's order, each a link that moves to the field (GOV.UK / WCAG 3.3.1 pattern).
 */
export function ErrorSummary({ general, summaryRef }: { general: string | null; summaryRef?: React.RefObject<HTMLDivElement | null> }) {
  const own = useRef<HTMLDivElement>(null);
  const ref = summaryRef ?? own;
  const [items, setItems] = useState<SummaryItem[]>([]);
  useLayoutEffect(() => {
    const next = general ? fieldErrorsIn(ref.current) : [];
    if (JSON.stringify(next) !== JSON.stringify(items)) setItems(next);
  });
  if (!general) return <div ref={ref} tabIndex={-1} />;
  return (
    <div className="alert error" role="alert" ref={ref} tabIndex={-1} data-testid="form-error">
      {general.split("\n").map((l, i) => (
        <div key={i}>{l}</div>
      ))}
      {items.length > 0 && (
        <ul className="error-links" data-testid="error-links">
          {items.map((it) => (
            <li key={it.target}>
              <a
                href={`#${it.target}`}
                onClick={(e) => {
                  e.preventDefault();
                  const el = document.getElementById(it.target);
                  el?.scrollIntoView({ block: "center" });
                  el?.focus();
                }}
              >
                {it.label ? `${it.label}: ` : ""}
                {it.message}
              </a>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

function FieldMessages({ id, errors, hint }: { id: string; errors?: string[]; hint?: ReactNode }) {
  return (
    <>
      {hint && (
        <div className="hint" id={`${id}-hint`}>
          {hint}
        </div>
      )}
      {errors && errors.length > 0 && (
        <div className="field-error" id={`${id}-err`} role="alert">
          {errors.map((e, i) => (
            <div key={i}>{e}</div>
          ))}
        </div>
      )}
    </>
  );
}

function describedBy(id: string, errors?: string[], hint?: ReactNode): string | undefined {
  const ids = [hint ? `${id}-hint` : null, errors?.length ? `${id}-err` : null].filter(Boolean);
  return ids.length ? ids.join(" ") : undefined;
}

type BaseProps = { label: ReactNode; name: string; errors?: FieldErrors; hint?: ReactNode; className?: string; id?: string };

/** One place ties a control to its label, hint and server errors, so the field kinds cannot drift apart in what screen readers hear. */
function useField(props: BaseProps, kind = "") {
  const auto = useId();
  const id = props.id ?? `f-${props.name}-${auto}`;
  const errs = props.errors?.[props.name];
  return {
    id,
    wrapperClass: `field ${kind}${props.className ?? ""} ${errs ? "invalid" : ""}`,
    control: {
      id,
      name: props.name,
      "data-field": props.name,
      "aria-invalid": errs ? true : undefined,
      "aria-describedby": describedBy(id, errs, props.hint),
    },
    messages: <FieldMessages id={id} errors={errs} hint={props.hint} />,
  };
}

function changeHandler<E extends HTMLInputElement | HTMLTextAreaElement | HTMLSelectElement>(onChange?: (e: ChangeEvent<E>) => void, onValue?: (v: string) => void) {
  return (e: ChangeEvent<E>) => {
    onChange?.(e);
    onValue?.(e.target.value);
  };
}

export function TextField(props: BaseProps & Omit<InputHTMLAttributes<HTMLInputElement>, "name"> & { onValue?: (v: string) => void }) {
  const { label, name, errors, hint, className, onValue, onChange, ...rest } = props;
  const f = useField(props);
  return (
    <div className={f.wrapperClass}>
      <span className="label-line">
        <label htmlFor={f.id}>{label}</label>
        {rest.required && (
          <span className="req" aria-hidden="true">
            *
          </span>
        )}
      </span>
      <input {...f.control} onChange={changeHandler(onChange, onValue)} {...rest} />
      {f.messages}
    </div>
  );
}

export function TextArea(props: BaseProps & Omit<TextareaHTMLAttributes<HTMLTextAreaElement>, "name"> & { onValue?: (v: string) => void }) {
  const { label, name, errors, hint, className, onValue, onChange, ...rest } = props;
  const f = useField(props);
  return (
    <div className={f.wrapperClass}>
      <label htmlFor={f.id}>{label}</label>
      <textarea {...f.control} onChange={changeHandler(onChange, onValue)} {...rest} />
      {f.messages}
    </div>
  );
}

export function SelectField(props: BaseProps & Omit<SelectHTMLAttributes<HTMLSelectElement>, "name"> & { onValue?: (v: string) => void; children: ReactNode }) {
  const { label, name, errors, hint, className, onValue, onChange, children, ...rest } = props;
  const f = useField(props);
  return (
    <div className={f.wrapperClass}>
      <label htmlFor={f.id}>{label}</label>
      <select {...f.control} onChange={changeHandler(onChange, onValue)} {...rest}>
        {children}
      </select>
      {f.messages}
    </div>
  );
}

export function CheckField(props: BaseProps & { checked: boolean; onValue: (v: boolean) => void; disabled?: boolean }) {
  const f = useField(props, "check ");
  return (
    <div className={f.wrapperClass}>
      <input type="checkbox" {...f.control} checked={props.checked} disabled={props.disabled} onChange={(e) => props.onValue(e.target.checked)} />
      <label htmlFor={f.id}>{props.label}</label>
      {f.messages}
    </div>
  );
}

/** For fields made of several controls (pickers, checkbox groups), which have no single control to describe. */
export function FieldError({ errors }: { errors?: string[] }) {
  if (!errors) return null;
  return (
    <div className="field-error" role="alert">
      {errors.join(" ")}
    </div>
  );
}

/** Several controls validated as one field: focusable by name when the server rejects it, like a single control. */
export function FieldGroup(props: { name: string; legend: ReactNode; errors: FieldErrors; className?: string; disabled?: boolean; children: ReactNode }) {
  const errs = props.errors[props.name];
  return (
    <fieldset className={["field", props.className, errs && "invalid"].filter(Boolean).join(" ")} data-field={props.name} tabIndex={-1} disabled={props.disabled}>
      <legend>{props.legend}</legend>
      {props.children}
      <FieldError errors={errs} />
    </fieldset>
  );
}

export function SearchField({ id, label, onValue, ...rest }: { id: string; label: string; onValue: (v: string) => void } & Omit<InputHTMLAttributes<HTMLInputElement>, "id" | "type" | "onChange">) {
  return (
    <div className="field search">
      <label htmlFor={id}>{label}</label>
      <input id={id} type="search" onChange={(e) => onValue(e.target.value)} {...rest} />
    </div>
  );
}

/** The search box above a pick list: the placeholder says what it is, the label says it to screen readers. */
export function FilterInput({ id, label, value, onValue }: { id: string; label: string; value: string; onValue: (v: string) => void }) {
  return (
    <>
      <label htmlFor={id} className="sr-only">
        {label}
      </label>
      <input id={id} type="search" placeholder={label} value={value} onChange={(e) => onValue(e.target.value)} />
    </>
  );
}

// ---------------------------------------------------------------------------------------------
// Dialogs

/** Tab and Shift+Tab wrap around inside `container` instead of leaving it. */
export function trapTab(e: React.KeyboardEvent, container: HTMLElement | null): void {
  if (e.key !== "Tab" || !container) return;
  const items = [...container.querySelectorAll<HTMLElement>('a[href], button, input, select, textarea, [tabindex]:not([tabindex="-1"])')].filter(
    (el) => !(el as HTMLButtonElement).disabled && el.getClientRects().length > 0,
  );
  if (!items.length) return;
  const first = items[0];
  const last = items[items.length - 1];
  if (e.shiftKey && (document.activeElement === first || !container.contains(document.activeElement))) {
    e.preventDefault();
    last.focus();
  } else if (!e.shiftKey && document.activeElement === last) {
    e.preventDefault();
    first.focus();
  }
}

export function Dialog(props: { title: ReactNode; onClose: () => void; children: ReactNode; wide?: boolean; testid?: string; trapFocus?: boolean }) {
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  const opener = useRef<Element | null>(null);
  useEffect(() => {
    opener.current = document.activeElement;
    const d = ref.current;
    if (d && !d.open) d.showModal();
    return () => {
      (opener.current as HTMLElement | null)?.focus?.();
    };
  }, []);
  return (
    <dialog
      ref={ref}
      className={props.wide ? "wide" : undefined}
      aria-labelledby={titleId}
      data-testid={props.testid}
      onKeyDown={props.trapFocus ? (e) => trapTab(e, ref.current) : undefined}
      onCancel={(e) => {
        e.preventDefault();
        props.onClose();
      }}
    >
      <div className="dialog-head">
        <h2 id={titleId}>{props.title}</h2>
        <button type="button" className="icon" aria-label="Close" onClick={props.onClose}>
          ×
        </button>
      </div>
      <div className="dialog-body">{props.children}</div>
    </dialog>
  );
}

export function ConfirmDialog(props: { title: string; children: ReactNode; confirmLabel: string; danger?: boolean; onConfirm: () => Promise<void> | void; onClose: () => void }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  return (
    <Dialog title={props.title} onClose={props.onClose} testid="confirm-dialog">
      {props.children}
      {error && (
        <div className="alert error" role="alert">
          {error}
        </div>
      )}
      <div className="actions">
        <button type="button" onClick={props.onClose}>
          Cancel
        </button>
        <button
          type="button"
          className={props.danger ? "danger" : "primary"}
          disabled={busy}
          onClick={async () => {
            setBusy(true);
            setError(null);
            try {
              await props.onConfirm();
              props.onClose();
            } catch (err) {
              setError(errorText(err));
            } finally {
              setBusy(false);
            }
          }}
        >
          {props.confirmLabel}
        </button>
      </div>
    </Dialog>
  );
}

// ---------------------------------------------------------------------------------------------
// Toasts

interface Toast {
  id: number;
  text: string;
  kind: "ok" | "error";
}
const ToastCtx = createContext<(text: string, kind?: "ok" | "error") => void>(() => {});

export function ToastProvider({ children }: { children: ReactNode }) {
  const [toasts, setToasts] = useState<Toast[]>([]);
  const seq = useRef(0);
  const push = useCallback((text: string, kind: "ok" | "error" = "ok") => {
    const id = ++seq.current;
    setToasts((t) => [...t, { id, text, kind }]);
    setTimeout(() => setToasts((t) => t.filter((x) => x.id !== id)), kind === "error" ? 9000 : 4500);
  }, []);
  return (
    <ToastCtx.Provider value={push}>
      {children}
      <div className="toasts" role="status" aria-live="polite">
        {toasts.map((t) => (
          <div key={t.id} className={`toast ${t.kind}`}>
            {t.text}
          </div>
        ))}
      </div>
    </ToastCtx.Provider>
  );
}

export function useToast() {
  return useContext(ToastCtx);
}

// ---------------------------------------------------------------------------------------------
// Misc

export async function copyText(text: string): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    const ta = document.createElement("textarea");
    ta.value = text;
    ta.setAttribute("readonly", "");
    ta.style.position = "fixed";
    ta.style.opacity = "0";
    document.body.appendChild(ta);
    ta.select();
    let ok = false;
    try {
      ok = document.execCommand("copy");
    } catch {
      ok = false;
    }
    ta.remove();
    return ok;
  }
}

export function CopyField({ label, value, testid }: { label: string; value: string; testid?: string }) {
  const id = useId();
  const [copied, setCopied] = useState<string | null>(null);
  return (
    <div className="field copy">
      <label htmlFor={id}>{label}</label>
      <div className="row">
        <input id={id} readOnly value={value} data-testid={testid} onFocus={(e) => e.target.select()} className="mono" />
        <button type="button" onClick={async () => setCopied((await copyText(value)) ? "Copied" : "Select the text and copy it")}>
          Copy
        </button>
      </div>
      <div className="hint" aria-live="polite">
        {copied}
      </div>
    </div>
  );
}

export function downloadText(filename: string, text: string, mime = "text/plain"): void {
  const blob = new Blob([text], { type: `${mime};charset=utf-8` });
  const url = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = url;
  a.download = filename;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

export function fmtDate(d: unknown): string {
  if (d === null || d === undefined) return "—";
  const date = d instanceof Date ? d : typeof d === "number" ? new Date(d) : new Date(String(d));
  if (Number.isNaN(date.getTime())) return String(d);
  return date.toLocaleString(undefined, { year: "numeric", month: "short", day: "2-digit", hour: "2-digit", minute: "2-digit" });
}

export function YesNo({ value }: { value: unknown }) {
  return value ? <span className="yes">Yes</span> : <span className="no">No</span>;
}

export function Loading({ label = "Loading…" }: { label?: string }) {
  return (
    <div className="loading" role="status">
      {label}
    </div>
  );
}

export function ErrorBox({ error, onRetry }: { error: unknown; onRetry?: () => void }) {
  if (!error) return null;
  return (
    <div className="alert error" role="alert">
      {errorText(error)}{" "}
      {onRetry && (
        <button type="button" className="link" onClick={onRetry}>
          Try again
        </button>
      )}
    </div>
  );
}

export function Forbidden({ what }: { what: string }) {
  return (
    <section className="page">
      <h1>{what}</h1>
      <p className="alert info">Your account's roles do not include access to this page.</p>
    </section>
  );
}

/** Lines of a textarea → trimmed non-empty entries. */
export function lines(text: string): string[] {
  return text
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean);
}

// ---------------------------------------------------------------------------------------------
// Identifiers in words (words.ts): the words on screen, the identifier in the tooltip for an
// administrator who needs it (and in data-term for tests).

export function Term({ kind, id }: { kind: TermKind; id: string | null | undefined }) {
  const text = words(kind, id);
  if (!id) return <>{text}</>;
  return (
    <span title={id} data-term={id}>
      {text}
    </span>
  );
}

/** Roles in words, their identifiers in the tooltip. */
export function RoleList({ roles, none = "—" }: { roles: readonly string[] | undefined; none?: string }) {
  if (!roles?.length) return <>{none}</>;
  return (
    <span title={roles.join(", ")} data-term={roles.join(",")}>
      {roleText(roles)}
    </span>
  );
}
