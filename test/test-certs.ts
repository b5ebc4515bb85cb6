// Certificates for the TLS tests, made with openssl in a directory the caller owns: a CA (EC P-256,
// quick to make), a server certificate for localhost and 127.0.0.1 that it signs, or a self-signed
// one no CA vouches for. One set of helpers for the LDAP, mail, fleet and browser tests.

import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";

function openssl(cwd: string, args: string[]): void {
  execFileSync("openssl", args, { cwd, stdio: ["ignore", "ignore", "pipe"] });
}

/** A fresh self-signed CA certificate (EC P-256: fast to make), PEM. `dir` keeps the key. */
export function makeCa(dir: string, cn: string, file = "ca"): { pem: string; keyFile: string; certFile: string } {
  openssl(dir, [
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
    "-keyout",
    `${file}.key`,
    "-out",
    `${file}.crt`,
    "-days",
    "2",
    "-subj",
    `/CN=${cn}`,
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,keyCertSign,cRLSign",
  ]);
  return { pem: readFileSync(path.join(dir, `${file}.crt`), "utf8"), keyFile: path.join(dir, `${file}.key`), certFile: path.join(dir, `${file}.crt`) };
}

/** A CA certificate PEM made in a temp dir that is removed at once (for import tests). */
export function makeCaPem(cn = `Test CA ${process.pid}-${Math.random().toString(36).slice(2, 8)}`): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), "gatehouse-ca-"));
  try {
    return makeCa(dir, cn).pem;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A leaf (server) certificate for localhost/127.0.0.1 signed by the CA in `dir` (or self-signed). */
export function makeServerCert(dir: string, ca: { keyFile: string; certFile: string } | null, file = "server"): { certFile: string; keyFile: string; pem: string; key: string } {
  writeFileSync(path.join(dir, `${file}.ext`), "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n");
  if (ca) {
    openssl(dir, ["req", "-newkey", "rsa:2048", "-nodes", "-keyout", `${file}.key`, "-out", `${file}.csr`, "-subj", "/CN=localhost"]);
    openssl(dir, ["x509", "-req", "-in", `${file}.csr`, "-CA", ca.certFile, "-CAkey", ca.keyFile, "-CAcreateserial", "-out", `${file}.crt`, "-days", "2", "-extfile", `${file}.ext`]);
  } else {
    openssl(dir, [
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      `${file}.key`,
      "-out",
      `${file}.crt`,
      "-days",
      "2",
      "-subj",
      "/CN=localhost",
      "-addext",
      "subjectAltName=DNS:localhost,IP:127.0.0.1",
      "-addext",
      "basicConstraints=CA:FALSE",
    ]);
  }
  return {
    certFile: path.join(dir, `${file}.crt`),
    keyFile: path.join(dir, `${file}.key`),
    pem: readFileSync(path.join(dir, `${file}.crt`), "utf8"),
    key: readFileSync(path.join(dir, `${file}.key`), "utf8"),
  };
}
