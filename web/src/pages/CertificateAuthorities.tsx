// Settings > Certificate authorities (issue 12): the CAs that TLS clients (LDAP servers, fleet
// systems, mail) trust besides the system roots. Import a PEM (checked by the server: one CA
// certificate), see subject, issuer, expiry and fingerprint, remove.

import { useState } from "react";
import { api } from "../api";
import { useSession } from "../session";
import { FormDialog, useSubmit } from "../forms";
import { ConfirmDialog, ErrorBox, TextArea, TextField, fmtDate, useAsync, useToast } from "../ui";
import type { Result } from "../api-types";

type Ca = Extract<Result<"certificateauthority.import">, { id: number }>;

export function CertificateAuthoritiesPage() {
  const s = useSession();
  const toast = useToast();
  const canWrite = s.can("CERTIFICATE_WRITE") && s.has("certificateauthority.import");
  const [tick, setTick] = useState(0);
  const [adding, setAdding] = useState(false);
  const [deleting, setDeleting] = useState<Ca | null>(null);
  const list = useAsync(() => api.query("certificateauthority.query", [], { order_by: ["name"] }) as Promise<Ca[]>, [tick]);
  return (
    <section className="page" aria-labelledby="ca-h">
      <div className="page-head">
        <h1 id="ca-h">Certificate authorities</h1>
        {canWrite && (
          <button type="button" className="primary" onClick={() => setAdding(true)} data-testid="add-ca">
            Import CA
          </button>
        )}
      </div>
      <p className="hint">Servers whose certificates these authorities signed are trusted by LDAP, fleet and mail connections that verify certificates (besides the system's root certificates).</p>
      <ErrorBox error={list.error} onRetry={list.reload} />
      <table className="data" data-testid="ca-table">
        <caption className="sr-only">Certificate authorities</caption>
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Subject</th>
            <th scope="col">Issuer</th>
            <th scope="col">Expires</th>
            <th scope="col">SHA-256 fingerprint</th>
            <th scope="col">Actions</th>
          </tr>
        </thead>
        <tbody>
          {(list.data ?? []).map((ca) => (
            <tr key={ca.id}>
              <td>
                <strong>{ca.name}</strong>
              </td>
              <td>{ca.subject}</td>
              <td>{ca.issuer}</td>
              <td>
                {fmtDate(ca.not_after)}
                {ca.expired && <span className="badge danger"> expired</span>}
              </td>
              <td>
                <code className="wrap">{ca.fingerprint}</code>
              </td>
              <td>
                {canWrite ? (
                  <button type="button" className="danger" onClick={() => setDeleting(ca)} aria-label={`Remove ${ca.name}`}>
                    Remove
                  </button>
                ) : (
                  "—"
                )}
              </td>
            </tr>
          ))}
          {list.data && !list.data.length && (
            <tr>
              <td colSpan={6}>No certificate authority is registered.</td>
            </tr>
          )}
        </tbody>
      </table>
      {adding && (
        <ImportDialog
          onClose={() => setAdding(false)}
          onSaved={(n) => {
            toast(`Certificate authority ${n} imported.`);
            setAdding(false);
            setTick((t) => t + 1);
          }}
        />
      )}
      {deleting && (
        <ConfirmDialog
          title={`Remove certificate authority ${deleting.name}?`}
          confirmLabel="Remove"
          danger
          onClose={() => setDeleting(null)}
          onConfirm={async () => {
            await api.call("certificateauthority.delete", deleting.id);
            toast(`Certificate authority ${deleting.name} removed.`);
            setTick((t) => t + 1);
          }}
        >
          <p>Connections that verify certificates stop trusting servers it signed.</p>
        </ConfirmDialog>
      )}
    </section>
  );
}

function ImportDialog({ onClose, onSaved }: { onClose: () => void; onSaved: (name: string) => void }) {
  const [name, setName] = useState("");
  const [pem, setPem] = useState("");
  const { errs, busy, onSubmit } = useSubmit(["name", "certificate"]);
  const submit = onSubmit(async () => {
    await api.call("certificateauthority.import", { name, certificate: pem });
    onSaved(name);
  });
  return (
    <FormDialog title="Import certificate authority" onClose={onClose} onSubmit={submit} errs={errs} busy={busy} wide testid="ca-dialog" submitLabel="Import">
      <TextField label="Name" name="name" required value={name} onValue={setName} errors={errs.fields} />
      <TextArea label="Certificate (PEM)" name="certificate" rows={10} value={pem} onValue={setPem} errors={errs.fields} hint="-----BEGIN CERTIFICATE----- … -----END CERTIFICATE-----" />
    </FormDialog>
  );
}
