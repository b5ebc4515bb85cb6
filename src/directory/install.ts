// Wires the directory into the application: the password login's directory check
// (AuthService.directoryLogin, called from src/auth/login.ts), the outage check a local
// account's failed password makes (AuthService.directoryOutage), and closing pooled LDAP
// connections at shutdown.

import type { DirectoryLoginHook, DirectoryOutageHook } from "../auth/login.js";
import { closeAllPools } from "./ldap-connection.js";
import { directoryLogin, directoryOutage, type DirectoryApp } from "./directory-users.js";

export interface DirectoryHost extends DirectoryApp {
  readonly auth: {
    directoryLogin: DirectoryLoginHook | null;
    directoryOutage: DirectoryOutageHook | null;
  };
  onShutdown(hook: () => Promise<void>): void;
}

export function installDirectory(app: DirectoryHost): void {
  app.auth.directoryLogin = (username, password, local) => directoryLogin(app, username, password, local);
  app.auth.directoryOutage = (username, password) => directoryOutage(app, username, password);
  app.onShutdown(closeAllPools);
}
