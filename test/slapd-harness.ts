// A throwaway OpenLDAP slapd for the directory tests (issue 12): loopback only, ephemeral ports,
// TLS with a CA and server certificate made here with openssl, more than 1,000 users so that the
// server's size limit (1,000, as Active Directory's page size) forces paged searches, and a bind
// account that is not the rootdn (the rootdn is exempt from size limits). Stopped by its pid; its
// temp dir removed. Also: a TLS front with a self-signed certificate.

import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync, mkdirSync, existsSync } from "node:fs";
import net from "node:net";
import tls from "node:tls";
import os from "node:os";
import path from "node:path";
import { makeCa, makeServerCert } from "./test-certs.js";
import { freePort } from "./free-port.js";

export { freePort };

const SLAPD = "/usr/sbin/slapd";
const SLAPADD = "/usr/sbin/slapadd";

export const BASE_DN = "dc=example,dc=test";
export const PEOPLE_DN = `ou=people,${BASE_DN}`;
export const GROUPS_DN = `ou=groups,${BASE_DN}`;
export const BIND_DN = `cn=reader,ou=system,${BASE_DN}`;
export const BIND_PASSWORD = "reader-secret";
/** Numbered users: user0000 … user(N-1), password `pw-<uid>`. */
export const BULK_USERS = 1100;

/** Named test users (besides the bulk ones): uid → [password, uidNumber, extra attributes]. */
export const PEOPLE: Record<string, { password: string; uidNumber: number; gidNumber?: number; home?: string; cn?: string; memberOf?: string[] }> = {
  alice: { password: "alice-pw-1", uidNumber: 5001 },
  bob: { password: "bob-pw-1", uidNumber: 5002 },
  carol: { password: "carol-pw-1", uidNumber: 5003 },
  zero: { password: "zero-pw-1", uidNumber: 0 },
  collide: { password: "collide-pw-1", uidNumber: 4321 },
  /** Named by cn (as Active Directory names users): the DN holds an escaped comma. */
  jsmith: { password: "smith-pw-1", uidNumber: 5005, cn: "Smith, John" },
  /** In a group only through its memberOf attribute (as Active Directory reports membership). */
  dave: { password: "dave-pw-1", uidNumber: 5006, memberOf: [`cn=ad-only,ou=groups,${BASE_DN}`] },
};

export const GROUP = {
  staff: `cn=staff,${GROUPS_DN}`,
  admins: `cn=admins,${GROUPS_DN}`,
  devs: `cn=devs,${GROUPS_DN}`,
  uniq: `cn=uniq,${GROUPS_DN}`,
  parent: `cn=parent,${GROUPS_DN}`,
  /** Same first RDN as staff in another branch: must never match a mapping for `staff` (full DN match). */
  otherStaff: `cn=staff,ou=elsewhere,${BASE_DN}`,
  /** Named only by dave's memberOf attribute. */
  adOnly: `cn=ad-only,${GROUPS_DN}`,
};

const dnEsc = (v: string) => v.replace(/[\\,+"<>;=]/g, (c) => `\\${c}`).replace(/^[ #]/, (c) => `\\${c}`);
export const userDn = (uid: string) => (PEOPLE[uid]?.cn ? `cn=${dnEsc(PEOPLE[uid].cn!)},${PEOPLE_DN}` : `uid=${dnEsc(uid)},${PEOPLE_DN}`);

function ldif(): string {
  const out: string[] = [];
  const entry = (lines: string[]) => out.push(lines.join("\n"));
  entry([`dn: ${BASE_DN}`, "objectClass: dcObject", "objectClass: organization", "dc: example", "o: Example"]);
  for (const ou of ["people", "groups", "system", "elsewhere"]) entry([`dn: ou=${ou},${BASE_DN}`, "objectClass: organizationalUnit", `ou: ${ou}`]);
  entry([`dn: ${BIND_DN}`, "objectClass: person", "objectClass: simpleSecurityObject", "cn: reader", "sn: reader", `userPassword: ${BIND_PASSWORD}`]);
  const person = (uid: string, password: string, uidNumber: number, gidNumber = 100, cn = uid, memberOf: string[] = []) =>
    entry([
      `dn: ${userDn(uid)}`,
      "objectClass: inetOrgPerson",
      "objectClass: posixAccount",
      `uid: ${uid}`,
      `cn: ${cn}`,
      `sn: ${uid}`,
      `uidNumber: ${uidNumber}`,
      `gidNumber: ${gidNumber}`,
      `homeDirectory: /home/${uid}`,
      `userPassword: ${password}`,
      ...memberOf.map((g) => `memberOf: ${g}`),
    ]);
  for (const [uid, p] of Object.entries(PEOPLE)) person(uid, p.password, p.uidNumber, p.gidNumber, p.cn, p.memberOf);
  for (let i = 0; i < BULK_USERS; i++) {
    const uid = `user${String(i).padStart(4, "0")}`;
    person(uid, `pw-${uid}`, 100000 + i);
  }
  entry([`dn: ${GROUP.staff}`, "objectClass: groupOfNames", "cn: staff", `member: ${userDn("alice")}`, `member: ${userDn("bob")}`, `member: ${userDn("jsmith")}`]);
  entry([`dn: ${GROUP.admins}`, "objectClass: groupOfNames", "cn: admins", `member: ${userDn("alice")}`]);
  entry([`dn: ${GROUP.devs}`, "objectClass: posixGroup", "cn: devs", "gidNumber: 7001", "memberUid: bob", "memberUid: carol"]);
  entry([`dn: ${GROUP.uniq}`, "objectClass: groupOfUniqueNames", "cn: uniq", `uniqueMember: ${userDn("carol")}`]);
  entry([`dn: ${GROUP.parent}`, "objectClass: groupOfNames", "cn: parent", `member: ${GROUP.admins}`]);
  entry([`dn: ${GROUP.adOnly}`, "objectClass: groupOfNames", "cn: ad-only", `member: ${userDn("alice")}`]);
  entry([`dn: ${GROUP.otherStaff}`, "objectClass: groupOfNames", "cn: staff", `member: ${userDn("carol")}`]);
  return `${out.join("\n\n")}\n`;
}

export interface Slapd {
  dir: string;
  caPem: string;
  /** ldaps:// port (TLS from the start). */
  ldapsPort: number;
  /** ldap:// port (StartTLS). */
  ldapPort: number;
  pid: number;
  stop(): Promise<void>;
}

async function waitForPort(port: number, deadline: number): Promise<void> {
  while (Date.now() < deadline) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, "127.0.0.1");
      s.once("connect", () => {
        s.destroy();
        resolve(true);
      });
      s.once("error", () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`slapd did not listen on ${port}`);
}

export async function startSlapd(): Promise<Slapd> {
  if (!existsSync(SLAPD)) throw new Error(`${SLAPD} is missing: install Debian's slapd and ldap-utils (README, test command)`);
  const dir = mkdtempSync(path.join(os.tmpdir(), "gatehouse-slapd-"));
  try {
    mkdirSync(path.join(dir, "db"));
    const ca = makeCa(dir, "Gatehouse Test LDAP CA");
    const server = makeServerCert(dir, ca);
    const conf = [
      "include /etc/ldap/schema/core.schema",
      "include /etc/ldap/schema/cosine.schema",
      "include /etc/ldap/schema/inetorgperson.schema",
      "include /etc/ldap/schema/nis.schema",
      "modulepath /usr/lib/ldap",
      "moduleload back_mdb",
      // memberOf (operational, defined by the overlay): entries carry it as Active Directory's do.
      "moduleload memberof",
      `pidfile ${dir}/slapd.pid`,
      `argsfile ${dir}/slapd.args`,
      `TLSCACertificateFile ${ca.certFile}`,
      `TLSCertificateFile ${server.certFile}`,
      `TLSCertificateKeyFile ${server.keyFile}`,
      "sizelimit size.soft=1000 size.hard=1000 size.prtotal=unlimited",
      "database mdb",
      "maxsize 104857600",
      `suffix "${BASE_DN}"`,
      `rootdn "cn=admin,${BASE_DN}"`,
      "rootpw adminpw",
      `directory ${dir}/db`,
      "overlay memberof",
      "index uid,member,uniqueMember,memberUid eq",
      "access to attrs=userPassword by self read by anonymous auth by * none",
      "access to * by * read",
      "",
    ].join("\n");
    writeFileSync(path.join(dir, "slapd.conf"), conf);
    writeFileSync(path.join(dir, "base.ldif"), ldif());
    execFileSync(SLAPADD, ["-q", "-f", path.join(dir, "slapd.conf"), "-l", path.join(dir, "base.ldif")], { stdio: ["ignore", "ignore", "pipe"] });
    const ldapPort = await freePort();
    const ldapsPort = await freePort();
    // -d 0: stay in the foreground, so the child's pid is slapd's own (stopped by that pid).
    const child = spawn(SLAPD, ["-d", "0", "-f", path.join(dir, "slapd.conf"), "-h", `ldap://127.0.0.1:${ldapPort}/ ldaps://127.0.0.1:${ldapsPort}/`], { stdio: "ignore" });
    const pid = child.pid!;
    const exited = new Promise<void>((r) => child.once("exit", () => r()));
    try {
      await Promise.race([
        waitForPort(ldapsPort, Date.now() + 10_000),
        exited.then(() => {
          throw new Error("slapd exited at start");
        }),
      ]);
      await waitForPort(ldapPort, Date.now() + 10_000);
    } catch (err) {
      child.kill("SIGTERM");
      throw err;
    }
    return {
      dir,
      caPem: ca.pem,
      ldapsPort,
      ldapPort,
      pid,
      async stop() {
        if (child.exitCode === null) {
          process.kill(pid, "SIGTERM");
          await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
          if (child.exitCode === null) process.kill(pid, "SIGKILL");
        }
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

/** `server` listening on an ephemeral loopback port; close() also ends the connections in `sockets`. */
async function listenLoopback(server: net.Server, sockets: Set<net.Socket>): Promise<{ port: number; close(): Promise<void> }> {
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/** A TLS front with a self-signed certificate that forwards to slapd's plain port (LDAPS to a self-signed server). */
export async function selfSignedFront(targetPort: number): Promise<{ port: number; close(): Promise<void> }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "gatehouse-selfsigned-"));
  let cert: ReturnType<typeof makeServerCert>;
  try {
    cert = makeServerCert(dir, null);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const sockets = new Set<net.Socket>();
  const server = tls.createServer({ cert: cert.pem, key: cert.key }, (client) => {
    const upstream = net.connect(targetPort, "127.0.0.1");
    sockets.add(client).add(upstream);
    client.pipe(upstream).pipe(client);
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on("error", end).on("close", end);
    upstream.on("error", end).on("close", end);
  });
  return listenLoopback(server, sockets);
}

/** A listening socket that accepts connections and never answers (a hung directory server). */
export async function hangingServer(): Promise<{ port: number; connections(): number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  let accepted = 0;
  const server = net.createServer((s) => {
    accepted++;
    sockets.add(s);
    s.on("error", () => {});
  });
  return { ...(await listenLoopback(server, sockets)), connections: () => accepted };
}
