// Wires the directory into the application: the password login's directory check
// (AuthService.directoryLogin, called from src/auth/login.ts), the outage check a local
// account's failed password makes (AuthService.directoryOutage), and closing pooled LDAP
// connections at shutdown.

import type { Grant } from "../access/privileges.js";
import { closeAllPools } from "./ldap-connection.js";
import { directoryLogin, directoryOutage, type DirectoryApp, type LocalRecord } from "./directory-users.js";

export interface DirectoryHost extends DirectoryApp {
  readonly auth: {
    directoryLogin: ((username: string, password: string, local?: LocalRecord | null) => Promise<{ userId: number; grant?: Grant } | null>) | null;
    directoryOutage: ((username: string, password: string) => Promise<string | null>) | null;
  };
  onShutdown(hook: () => Promise<void>): void;
}

export function installDirectory(app: DirectoryHost): void {
  app.auth.directoryLogin = (username, password, local) => directoryLogin(app, username, password, local);
  app.auth.directoryOutage = (username, password) => directoryOutage(app, username, password);
  app.onShutdown(closeAllPools);
}
