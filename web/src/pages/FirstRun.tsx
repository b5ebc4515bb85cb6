// First start: no local administrator has a password yet (user.has_local_administrator_set_up is
// false), so set one up with user.setup_local_administrator(username, password), then sign in.

import { useState, type FormEvent } from "react";
import { api } from "../api";
import { useSession } from "../session";
import { ErrorSummary, SelectField, TextField, useFormErrors } from "../ui";

export function FirstRun() {
  const s = useSession();
  const [username, setUsername] = useState("admin");
  const [password, setPassword] = useState("");
  const [confirm, setConfirm] = useState("");
  const [busy, setBusy] = useState(false);
  const errs = useFormErrors();

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    errs.clear();
    if (password !== confirm) {
      errs.setField("confirm", ["The passwords do not match."]);
      errs.setGeneral("Please correct the fields marked below.");
      return;
    }
    setBusy(true);
    try {
      await api.call("user.setup_local_administrator", username, password);
      const r = await s.login(username, password);
      if (r.kind !== "ok" && r.kind !== "otp") s.firstRunDone();
    } catch (err) {
      errs.show(err, ["username", "password"]);
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="center-screen">
      <main className="card auth-card" id="main">
        <h1>Welcome to Gatehouse</h1>
        <p>Set up the local administrator account. You will use it to sign in and create other accounts.</p>
        <form onSubmit={submit} noValidate data-testid="first-run-form">
          <ErrorSummary general={errs.general} summaryRef={errs.summaryRef} />
          <SelectField label="Administrator username" name="username" value={username} onValue={setUsername} errors={errs.fields}>
            <option value="admin">admin</option>
            <option value="root">root</option>
          </SelectField>
          <TextField
            label="Password"
            name="password"
            type="password"
            autoComplete="new-password"
            required
            value={password}
            onValue={setPassword}
            errors={errs.fields}
          />
          <TextField
            label="Confirm password"
            name="confirm"
            type="password"
            autoComplete="new-password"
            required
            value={confirm}
            onValue={setConfirm}
            errors={errs.fields}
          />
          <button type="submit" className="primary wide" disabled={busy || !password}>
            {busy ? "Setting up…" : "Create administrator"}
          </button>
        </form>
      </main>
    </div>
  );
}
