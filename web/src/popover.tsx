// Small popovers (issue 14 point 7): a button that opens a panel — the Users type filter, a row's
// actions menu, the top bar's settings menu — which closes on Escape (focus back on its button)
// and on a click or focus outside it.

import { useEffect, useId, useLayoutEffect, useRef, useState, type CSSProperties, type ReactNode } from "react";

export function usePopover() {
  const [open, setOpen] = useState(false);
  const root = useRef<HTMLDivElement>(null);
  const button = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    if (!open) return;
    const outside = (e: Event) => {
      if (root.current && !root.current.contains(e.target as Node)) setOpen(false);
    };
    const key = (e: KeyboardEvent) => {
      if (e.key === "Escape") {
        e.stopPropagation();
        setOpen(false);
        button.current?.focus();
      }
    };
    document.addEventListener("mousedown", outside);
    document.addEventListener("focusin", outside);
    document.addEventListener("keydown", key, true);
    return () => {
      document.removeEventListener("mousedown", outside);
      document.removeEventListener("focusin", outside);
      document.removeEventListener("keydown", key, true);
    };
  }, [open]);
  return { open, setOpen, root, button };
}

/**
 * Where a viewport-fixed panel goes: under its button (above it near the bottom), right edges
 * aligned — or left edges, for a button too near the left edge to open leftwards.
 */
function placeUnder(btn: HTMLElement): CSSProperties {
  const r = btn.getBoundingClientRect();
  const across: CSSProperties = r.right < 240 ? { left: Math.max(4, r.left), right: "auto" } : { right: Math.max(4, window.innerWidth - r.right), left: "auto" };
  const below = window.innerHeight - r.bottom;
  return { position: "fixed", ...across, ...(below < 220 && r.top > below ? { top: "auto", bottom: window.innerHeight - r.top + 4 } : { top: r.bottom + 4, bottom: "auto" }) };
}

/** Up/Down/Home/End move between the panel's buttons and links (a menu's keys; Tab works too). */
function moveFocus(this: HTMLElement, e: KeyboardEvent) {
  if (!["ArrowDown", "ArrowUp", "Home", "End"].includes(e.key)) return;
  const items = [...this.querySelectorAll<HTMLElement>("button:not([disabled]), a[href]")];
  if (!items.length) return;
  e.preventDefault();
  const i = items.indexOf(document.activeElement as HTMLElement);
  const next = e.key === "Home" ? 0 : e.key === "End" ? items.length - 1 : e.key === "ArrowDown" ? (i + 1) % items.length : (i - 1 + items.length) % items.length;
  items[next]?.focus();
}

/** A button and the panel it opens; `menu` makes the panel a list of actions. */
export function Popover(props: {
  label: ReactNode;
  /** Accessible name of the button when `label` is an icon. */
  ariaLabel?: string;
  className?: string;
  buttonClass?: string;
  align?: "left" | "right";
  testid?: string;
  /** Place the panel against the viewport (escapes a scrolling table) and focus its first item. */
  menu?: boolean;
  /** Title (tooltip) of the button. */
  title?: string;
  children: (close: () => void) => ReactNode;
}) {
  const p = usePopover();
  const id = useId();
  const panel = useRef<HTMLDivElement>(null);
  const [place, setPlace] = useState<CSSProperties | undefined>();
  useLayoutEffect(() => {
    const el = panel.current;
    if (!p.open || !props.menu || !el) return;
    el.querySelector<HTMLElement>("button:not([disabled]), a[href]")?.focus({ preventScroll: true });
    el.addEventListener("keydown", moveFocus);
    // A panel placed against the viewport follows its button when the page or a table scrolls.
    const follow = () => p.button.current && setPlace(placeUnder(p.button.current));
    window.addEventListener("scroll", follow, true);
    window.addEventListener("resize", follow);
    return () => {
      el.removeEventListener("keydown", moveFocus);
      window.removeEventListener("scroll", follow, true);
      window.removeEventListener("resize", follow);
    };
  }, [p.open, props.menu]);
  // Closing from an item puts focus back on the button, so a dialog the item opens returns it there.
  const close = () => {
    if (props.menu) p.button.current?.focus();
    p.setOpen(false);
  };
  return (
    <div className={`popover ${props.className ?? ""}`} ref={p.root}>
      <button
        type="button"
        ref={p.button}
        className={props.buttonClass}
        aria-expanded={p.open}
        aria-controls={id}
        aria-label={props.ariaLabel}
        title={props.title}
        onClick={() => {
          if (!p.open && props.menu && p.button.current) setPlace(placeUnder(p.button.current));
          p.setOpen(!p.open);
        }}
        data-testid={props.testid}
      >
        {props.label}
      </button>
      {p.open && (
        <div
          ref={panel}
          className={`popover-panel ${props.align === "right" ? "right" : ""}`}
          id={id}
          style={props.menu ? (place ?? { visibility: "hidden" }) : undefined}
          data-testid={props.testid ? `${props.testid}-panel` : undefined}
        >
          {props.children(close)}
        </div>
      )}
    </div>
  );
}
