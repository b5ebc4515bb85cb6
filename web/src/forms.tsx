// How the screens' forms submit: one busy flag and one error display around the server call, so
// every form disables its button and places server validation errors the same way; the
// new-password pair that four forms ask for; and the dialog that holds a single form.

import { useState, type FormEvent, type ReactNode } from "react";
import { PasswordHint, knownPolicy, policyProblems } from "./password-check";
import { CORRECT_FIELDS, Dialog, ErrorSummary, TextField, useFormErrors, type FieldErrors, type FormErrors } from "./ui";

interface SubmitOptions {
  /** Checks made before calling the server; false stops the submit (they mark their own fields). */
  check?: () => boolean;
  /** A message of its own for an error that is not about the fields; null leaves it to the fields. */
  explain?: (err: unknown) => string | null;
}

/** `known` are the field names the form renders, where server validation errors are shown. */
export function useSubmit(known: string[]) {
  const errs = useFormErrors();
  const [busy, setBusy] = useState(false);
  const run = async (action: () => Promise<unknown>, opts: SubmitOptions = {}) => {
    errs.clear();
    if (opts.check && !opts.check()) return;
    setBusy(true);
    try {
      await action();
    } catch (err) {
      const own = opts.explain?.(err);
      if (own) errs.setGeneral(own);
      else errs.show(err, known);
    } finally {
      setBusy(false);
    }
  };
  const onSubmit = (action: () => Promise<unknown>, opts?: SubmitOptions) => (e: FormEvent) => {
    e.preventDefault();
    void run(action, opts);
  };
  return { errs, busy, run, onSubmit };
}

export interface PasswordPair {
  value: string;
  setValue: (v: string) => void;
  confirm: string;
  setConfirm: (v: string) => void;
}

/**
 * The password is typed twice and compared here, so a typo never becomes someone's password; and
 * it is checked against the password policy the server told (auth.password_policy) before sending.
 */
export function passwordsMatch(pair: PasswordPair, errs: FormErrors, summary = true, name = "new_password"): boolean {
  const problems = policyProblems(pair.value, knownPolicy());
  if (problems.length) errs.setField(name, problems);
  if (pair.value !== pair.confirm) errs.setField("confirm", ["The passwords do not match."]);
  if (!problems.length && pair.value === pair.confirm) return true;
  if (summary) errs.setGeneral(CORRECT_FIELDS);
  return false;
}

export function usePasswordPair() {
  const [value, setValue] = useState("");
  const [confirm, setConfirm] = useState("");
  const reset = () => {
    setValue("");
    setConfirm("");
  };
  return { value, setValue, confirm, setConfirm, reset };
}

export function NewPasswordFields(props: {
  pair: PasswordPair;
  errors: FieldErrors;
  name?: string;
  label?: string;
  confirmLabel?: string;
  required?: boolean;
  confirmRequired?: boolean;
  hint?: ReactNode;
  /** Words the password should not be built from (username, full name) for the strength hint. */
  userInputs?: string[];
}) {
  const { pair, errors } = props;
  return (
    <>
      <TextField
        label={props.label ?? "New password"}
        name={props.name ?? "new_password"}
        type="password"
        autoComplete="new-password"
        required={props.required}
        value={pair.value}
        onValue={pair.setValue}
        errors={errors}
        hint={
          <>
            {props.hint}
            <PasswordHint password={pair.value} userInputs={props.userInputs} />
          </>
        }
      />
      <TextField
        label={props.confirmLabel ?? "Confirm new password"}
        name="confirm"
        type="password"
        autoComplete="new-password"
        required={props.confirmRequired}
        value={pair.confirm}
        onValue={pair.setConfirm}
        errors={errors}
      />
    </>
  );
}

/** A dialog that holds one form: what went wrong on top, Cancel and the submit button at the bottom. */
export function FormDialog(props: {
  title: ReactNode;
  onClose: () => void;
  onSubmit: (e: FormEvent) => void;
  errs: FormErrors;
  busy: boolean;
  wide?: boolean;
  testid: string;
  submitLabel?: string;
  submitTestid?: string;
  children: ReactNode;
}) {
  return (
    <Dialog title={props.title} onClose={props.onClose} wide={props.wide} testid={props.testid}>
      <form onSubmit={props.onSubmit} noValidate>
        <ErrorSummary general={props.errs.general} summaryRef={props.errs.summaryRef} />
        {props.children}
        <div className="actions">
          <button type="button" onClick={props.onClose}>
            Cancel
          </button>
          <button type="submit" className="primary" disabled={props.busy} data-testid={props.submitTestid}>
            {props.submitLabel ?? "Save"}
          </button>
        </div>
      </form>
    </Dialog>
  );
}
