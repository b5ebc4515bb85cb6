// First start: no local administrator has a password yet (user.has_local_administrator_set_up is
// false), so set one up with user.setup_local_administrator(username, password), then sign in.

import { useState } from "react";
import { api } from "../api";
import { NewPasswordFields, passwordsMatch, usePasswordPair, useSubmit } from "../forms";
import { useSession } from "../session";
import { ErrorSummary, SelectField } from "../ui";

export function FirstRun() {
  const s = useSession();
  const [username, setUsername] = useState<"admin" | "root">("admin");
  const pw = usePasswordPair();
  const { errs, busy, onSubmit } = useSubmit(["username", "password"]);

  const submit = onSubmit(
    async () => {
      await api.call("user.setup_local_administrator", username, pw.value);
      const r = await s.login(username, pw.value);
      if (r.kind !== "ok" && r.kind !== "otp") s.firstRunDone();
    },
    { check: () => passwordsMatch(pw, errs) },
  );

  return (
    <div className="center-screen">
      <main className="card auth-card" id="main">
        <h1>Welcome to Gatehouse</h1>
        <p>Set up the local administrator account. You will use it to sign in and create other accounts.</p>
        <form onSubmit={submit} noValidate data-testid="first-run-form">
          <ErrorSummary general={errs.general} summaryRef={errs.summaryRef} />
          <SelectField label="Administrator username" name="username" value={username} onValue={(v) => setUsername(v === "root" ? "root" : "admin")} errors={errs.fields}>
            <option value="admin">admin</option>
            <option value="root">root</option>
          </SelectField>
          <NewPasswordFields pair={pw} errors={errs.fields} name="password" label="Password" confirmLabel="Confirm password" required confirmRequired />
          <button type="submit" className="primary wide" disabled={busy || !pw.value}>
            {busy ? "Setting up…" : "Create administrator"}
          </button>
        </form>
      </main>
    </div>
  );
}
