// Import and export of users and groups (issue 13 point 6): user.export offers its file once
// through the job-bound download; user.import waits for its file, which is PUT to the upload URL
// the job names in its progress (a WebSocket frame could not carry it). Every problem of a
// refused import is listed with its line and field; nothing is imported while any is there.

import { useState } from "react";
import { api, errorText } from "../api";
import { useSession } from "../session";
import type { Result } from "../api-types";

/** The job's result, typed from its declared result schema (src/api/user/import.ts). */
type ImportResult = Result<"user.import">;

interface JobProgress {
  percent: number | null;
  description: string | null;
  extra: { upload_url?: string } | null;
}

type Job = { id: number; method: string; state: string; progress: JobProgress };

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function jobById(id: number): Promise<Job | undefined> {
  return ((await api.callOptional("core.get_jobs", [["id", "=", id]])) as Job[])[0];
}

/**
 * Start user.import, hand it `file` through its upload URL, and wait for its result, telling
 * `onProgress` the job's progress as it goes (and its last, once it ended).
 */
async function runImport(file: File, opts: { dry_run: boolean; skip_invalid: boolean }, onProgress: (p: JobProgress) => void): Promise<ImportResult> {
  const result = api.callOptional("user.import", opts) as Promise<ImportResult>;
  let ended = false;
  result.then(
    () => (ended = true),
    () => (ended = true),
  );
  let jobId: number | null = null;
  for (let i = 0; i < 600 && !ended && jobId === null; i++) {
    const jobs = (await api.callOptional("core.get_jobs", [
      ["method", "=", "user.import"],
      ["state", "=", "RUNNING"],
    ])) as Job[];
    const job = jobs.find((j) => j.progress.extra?.upload_url);
    if (job) {
      jobId = job.id;
      onProgress(job.progress);
      const r = await fetch(job.progress.extra!.upload_url!, { method: "PUT", body: file });
      if (!r.ok) throw new Error(`upload refused (${r.status})`);
      break;
    }
    await pause(100);
  }
  while (jobId !== null && !ended) {
    const j = await jobById(jobId);
    if (j) onProgress(j.progress);
    await pause(200);
  }
  const r = await result;
  const last = jobId === null ? undefined : await jobById(jobId);
  if (last) onProgress(last.progress);
  return r;
}

export function ImportExportPage() {
  const s = useSession();
  const [status, setStatus] = useState<string | null>(null);
  const [file, setFile] = useState<File | null>(null);
  const [dryRun, setDryRun] = useState(true);
  const [skipInvalid, setSkipInvalid] = useState(false);
  const [result, setResult] = useState<ImportResult | null>(null);
  const [busy, setBusy] = useState(false);
  const [progress, setProgress] = useState<JobProgress | null>(null);

  const doExport = async (format: "JSON" | "CSV", groups = false, withHashes = false) => {
    setStatus(`Exporting (${format}${groups ? ", groups" : ""})…`);
    try {
      const r = (await api.callOptional("user.export", { format, groups, with_hashes: withHashes })) as { url: string; users: number; groups: number };
      const a = document.createElement("a");
      a.href = r.url;
      a.download = groups ? "groups.csv" : `accounts.${format.toLowerCase()}`;
      document.body.appendChild(a);
      a.click();
      a.remove();
      setStatus(`Exported ${r.users} users and ${r.groups} groups.`);
    } catch (err) {
      setStatus(errorText(err));
    }
  };

  const doImport = async () => {
    if (!file) return;
    setBusy(true);
    setResult(null);
    setProgress(null);
    setStatus(dryRun ? "Checking…" : "Importing…");
    try {
      const r = await runImport(file, { dry_run: dryRun, skip_invalid: skipInvalid }, setProgress);
      setResult(r);
      setStatus(r.refused ? `${r.errors.length} problem(s): nothing was imported.` : `${r.dryRun ? "Would import" : "Imported"} ${r.users} users and ${r.groups} groups.`);
    } catch (err) {
      setStatus(errorText(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="page" aria-labelledby="ie-h">
      <div className="page-head">
        <h1 id="ie-h">Import and export</h1>
      </div>
      {status && (
        <p role="status" className="hint" data-testid="ie-status">
          {status}
        </p>
      )}
      {s.has("user.export") && (
        <>
          <h2>Export</h2>
          <p className="hint">Every local user and group that is not built in. The file is offered once and expires after 10 minutes.</p>
          <span className="row-actions">
            <button type="button" onClick={() => void doExport("JSON")}>
              Export JSON
            </button>
            <button type="button" onClick={() => void doExport("CSV")}>
              Users CSV
            </button>
            <button type="button" onClick={() => void doExport("CSV", true)}>
              Groups CSV
            </button>
            {s.has("user.import") && (
              <button type="button" onClick={() => void doExport("JSON", false, true)}>
                JSON with password hashes
              </button>
            )}
          </span>
        </>
      )}
      {s.has("user.import") && (
        <>
          <h2>Import</h2>
          <p className="hint">The accounts JSON, or a users or groups CSV. Every record is checked first; nothing is imported while any is invalid unless you skip invalid records.</p>
          <label>
            File <input type="file" accept=".json,.csv,application/json,text/csv" onChange={(e) => setFile(e.target.files?.[0] ?? null)} />
          </label>
          <label>
            <input type="checkbox" checked={dryRun} onChange={(e) => setDryRun(e.target.checked)} /> Only check (dry run)
          </label>
          <label>
            <input type="checkbox" checked={skipInvalid} onChange={(e) => setSkipInvalid(e.target.checked)} /> Import the valid records, skip the others
          </label>
          <button type="button" disabled={!file || busy} onClick={() => void doImport()}>
            {dryRun ? "Check" : "Import"}
          </button>
          {progress && (
            <p className="hint" data-testid="ie-progress">
              <progress max={100} value={progress.percent ?? undefined} aria-label="Import job progress" /> {progress.percent ?? 0}%{progress.description ? ` — ${progress.description}` : ""}
            </p>
          )}
          {result && result.errors.length > 0 && (
            <table>
              <caption>Problems</caption>
              <thead>
                <tr>
                  <th scope="col">Line</th>
                  <th scope="col">Record</th>
                  <th scope="col">Field</th>
                  <th scope="col">Problem</th>
                </tr>
              </thead>
              <tbody>
                {result.errors.map((e) => (
                  <tr key={`${e.kind}:${e.line}:${e.name}:${e.field}:${e.message}`}>
                    <td>{e.line || "-"}</td>
                    <td>{e.name ?? "-"}</td>
                    <td>{e.field}</td>
                    <td>{e.message}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </>
      )}
    </section>
  );
}
