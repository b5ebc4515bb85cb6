// Certificate authorities (certificateauthority.*): PEM certificates an administrator registers so
// that TLS clients (LDAP, fleet systems, mail) trust servers whose certificates they signed. A CA
// is parsed and checked on import (one X.509 certificate, basicConstraints CA:TRUE); its
// subject, issuer, validity and fingerprint are derived from the PEM when read, never stored apart.

import { X509Certificate } from "node:crypto";
import { rootCertificates } from "node:tls";
import type { Store, Tx } from "../store/db.js";
import type { EventBus } from "../server/events.js";
import { sql } from "kysely";
import { CallError, ValidationErrors, instanceNotFound } from "../server/errors.js";

export interface CaContext {
  readonly store: Pick<Store, "db">;
  readonly events: Pick<EventBus, "publish">;
}

export interface CertificateAuthorityEntry {
  id: number;
  name: string;
  certificate: string;
  subject: string;
  issuer: string;
  not_before: Date;
  not_after: Date;
  expired: boolean;
  fingerprint: string;
  created_at: Date;
}

const PEM_BLOCK = /-----BEGIN CERTIFICATE-----\r?\n[A-Za-z0-9+/=\r\n]+-----END CERTIFICATE-----/g;

/** X509Certificate prints DNs one attribute per line; shown as one line, comma-separated. */
const oneLine = (dn: string) => dn.split("\n").filter(Boolean).join(", ");

/** Parse `pem` as exactly one CA certificate, or add field errors under `attr` and return null. */
export function parseCaPem(errors: ValidationErrors, attr: string, pem: string): X509Certificate | null {
  const blocks = pem.match(PEM_BLOCK) ?? [];
  if (blocks.length !== 1 || pem.replace(PEM_BLOCK, "").trim() !== "") {
    errors.add(attr, "Expected exactly one PEM-encoded certificate (-----BEGIN CERTIFICATE----- … -----END CERTIFICATE-----)", "certificateauthority.invalid_pem");
    return null;
  }
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(blocks[0]);
  } catch {
    errors.add(attr, "The certificate could not be parsed as X.509", "certificateauthority.invalid_pem");
    return null;
  }
  if (!cert.ca) {
    errors.add(attr, "Not a certificate authority: the certificate lacks basicConstraints CA:TRUE", "certificateauthority.not_a_ca");
    return null;
  }
  return cert;
}

function entryOf(row: { id: number; name: string; certificate: string; created_at: number }): CertificateAuthorityEntry {
  const cert = new X509Certificate(row.certificate);
  const notAfter = new Date(cert.validTo);
  return {
    id: row.id,
    name: row.name,
    certificate: row.certificate,
    subject: oneLine(cert.subject),
    issuer: oneLine(cert.issuer),
    not_before: new Date(cert.validFrom),
    not_after: notAfter,
    expired: notAfter.getTime() < Date.now(),
    fingerprint: cert.fingerprint256,
    created_at: new Date(Number(row.created_at)),
  };
}

export async function certificateAuthorityEntries(db: Tx, where: { id?: number } = {}): Promise<CertificateAuthorityEntry[]> {
  let q = db.selectFrom("certificate_authorities").selectAll().orderBy("id");
  if (where.id !== undefined) q = q.where("id", "=", where.id);
  return (await q.execute()).map(entryOf);
}

export async function certificateAuthorityById(db: Tx, id: number): Promise<CertificateAuthorityEntry> {
  const [entry] = await certificateAuthorityEntries(db, { id });
  if (!entry) instanceNotFound("CertificateAuthority", id, "certificateauthority.not_found");
  return entry;
}

/** certificateauthority.import */
export async function importCertificateAuthority(app: CaContext, data: { name: string; certificate: string }): Promise<CertificateAuthorityEntry> {
  const errors = new ValidationErrors();
  const cert = parseCaPem(errors, "certificateauthority_import.certificate", data.certificate);
  const db = app.store.db;
  if (await db.selectFrom("certificate_authorities").select("id").where("name", "=", data.name).executeTakeFirst()) {
    errors.add("certificateauthority_import.name", "A certificate authority with this name already exists", "certificateauthority.duplicate");
  }
  if (cert) {
    const same = (await certificateAuthorityEntries(db)).find((e) => e.fingerprint === cert.fingerprint256);
    if (same) errors.add("certificateauthority_import.certificate", `This certificate is already registered as ${same.name}`, "certificateauthority.duplicate");
  }
  errors.check();
  const row = await db.insertInto("certificate_authorities").values({ name: data.name, certificate: cert!.toString(), created_at: Date.now() }).returning("id").executeTakeFirstOrThrow();
  const entry = await certificateAuthorityById(db, row.id);
  app.events.publish("certificateauthority.query", "added", entry.id, entry);
  return entry;
}

/** certificateauthority.delete */
export async function deleteCertificateAuthority(app: CaContext, id: number): Promise<true> {
  const ca = await certificateAuthorityById(app.store.db, id);
  // Fleet systems name the CA that verifies them (migration 009): it stays while one does.
  const users = await sql<{ name: string }>`select "name" from "fleet_systems" where "ca" = ${id} order by "name"`.execute(app.store.db);
  if (users.rows.length) {
    throw new CallError(`${ca.name} verifies the systems ${users.rows.map((r) => r.name).join(", ")}: change them first`, "certificateauthority.in_use");
  }
  await app.store.db.deleteFrom("certificate_authorities").where("id", "=", id).execute();
  app.events.publish("certificateauthority.query", "removed", id);
  return true;
}

/** The PEM of a registered CA (fleet systems name theirs by id); null when there is none. */
export async function caPemById(db: Tx, id: number): Promise<string | null> {
  const row = await db.selectFrom("certificate_authorities").select("certificate").where("id", "=", id).executeTakeFirst();
  return row?.certificate ?? null;
}

/** The last trust list built, handed out again while the registered CAs are the same. */
let lastTrust: { registered: string; list: readonly string[] } | null = null;

/**
 * What a verifying TLS client trusts: Node's bundled root certificates plus every registered CA.
 * Pass as `ca` in tls options (giving `ca` replaces Node's default roots, hence both). The same
 * (frozen) array is returned while the registered CAs do not change, so that TLS clients can
 * keep the secure context built from it (parsing ~145 roots costs tens of milliseconds).
 */
export async function trustedCas(db: Tx): Promise<readonly string[]> {
  const rows = await db.selectFrom("certificate_authorities").select("certificate").orderBy("id").execute();
  const registered = rows.map((r) => r.certificate).join("\n");
  if (lastTrust?.registered !== registered) lastTrust = { registered, list: Object.freeze([...rootCertificates, ...rows.map((r) => r.certificate)]) };
  return lastTrust.list;
}
