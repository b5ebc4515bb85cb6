// Small popovers (issue 14 point 7): a button that opens a panel — the Users type filter, a row's
// actions menu, the top bar's settings menu — which closes on Escape (focus back on its button)
// and on a click or focus outside it.

import { useEffect, useId, useRef, useState, type ReactNode } from "react";

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

/** A button and the panel it opens; `menu` makes the panel a list of actions. */
export function Popover(props: {
  label: ReactNode;
  /** Accessible name of the button when `label` is an icon. */
  ariaLabel?: string;
  className?: string;
  buttonClass?: string;
  align?: "left" | "right";
  testid?: string;
  children: (close: () => void) => ReactNode;
}) {
  const p = usePopover();
  const id = useId();
  return (
    <div className={`popover ${props.className ?? ""}`} ref={p.root}>
      <button
        type="button"
        ref={p.button}
        className={props.buttonClass}
        aria-expanded={p.open}
        aria-controls={id}
        aria-label={props.ariaLabel}
        onClick={() => p.setOpen(!p.open)}
        data-testid={props.testid}
      >
        {props.label}
      </button>
      {p.open && (
        <div className={`popover-panel ${props.align === "right" ? "right" : ""}`} id={id} data-testid={props.testid ? `${props.testid}-panel` : undefined}>
          {props.children(() => p.setOpen(false))}
        </div>
      )}
    </div>
  );
}
