// Settings > Certificate authorities (issue 12): the CAs that TLS clients (LDAP servers, fleet
// systems, mail) trust besides the system roots. Import a PEM (checked by the server: one CA
// certificate), see subject, issuer, expiry and fingerprint, remove.

import { useState } from "react";
import { api } from "../api";
import { useSession } from "../session";
import { FormDialog, useSubmit } from "../forms";
import { TextArea, TextField, fmtDate, useAsync, useToast } from "../ui";
import { ListPage } from "./ListPage";
import type { Result } from "../api-types";

type Ca = Extract<Result<"certificateauthority.import">, { id: number }>;

export function CertificateAuthoritiesPage() {
  const s = useSession();
  const toast = useToast();
  const canWrite = s.can("CERTIFICATE_WRITE") && s.has("certificateauthority.import");
  const [tick, setTick] = useState(0);
  const list = useAsync(() => api.query("certificateauthority.query", [], { order_by: ["name"] }) as Promise<Ca[]>, [tick]);
  return (
    <ListPage<Ca>
      id="ca"
      title="Certificate authorities"
      caption="Certificate authorities"
      testid="ca-table"
      hint="Servers whose certificates these authorities signed are trusted by LDAP, fleet and mail connections that verify certificates (besides the system's root certificates)."
      canWrite={canWrite}
      add={{ label: "Import CA", testid: "add-ca" }}
      rows={list.data}
      loading={list.loading}
      error={list.error}
      onRetry={list.reload}
      rowKey={(ca) => ca.id}
      name={(ca) => ca.name}
      columns={[
        { key: "name", label: "Name", always: true, render: (ca) => <strong>{ca.name}</strong> },
        { key: "subject", label: "Subject", render: (ca) => ca.subject },
        { key: "issuer", label: "Issuer", render: (ca) => ca.issuer },
        {
          key: "expires",
          label: "Expires",
          render: (ca) => (
            <>
              {fmtDate(ca.not_after)}
              {ca.expired && <span className="badge danger"> expired</span>}
            </>
          ),
        },
        { key: "fingerprint", label: "SHA-256 fingerprint", render: (ca) => <code className="wrap">{ca.fingerprint}</code> },
      ]}
      empty="No certificate authority is registered."
      // Imported, not edited: the add button opens the import dialog, the menu only removes.
      editor={(ca, close) =>
        ca === null && (
          <ImportDialog
            onClose={close}
            onSaved={(n) => {
              toast(`Certificate authority ${n} imported.`);
              close();
              setTick((t) => t + 1);
            }}
          />
        )
      }
      noEdit
      remove={{
        verb: "Remove",
        title: (ca) => `Remove certificate authority ${ca.name}?`,
        body: <p>Connections that verify certificates stop trusting servers it signed.</p>,
        run: async (ca) => {
          await api.call("certificateauthority.delete", ca.id);
          toast(`Certificate authority ${ca.name} removed.`);
          setTick((t) => t + 1);
        },
      }}
    />
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
