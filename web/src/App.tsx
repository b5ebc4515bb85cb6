// The application shell: which screen to show for the session phase, the navigation (only what the
// caller's roles allow, from auth.me), and the routes.

import { Suspense, lazy, useEffect, useState, type ReactElement } from "react";
import { api, type ConnState } from "./api";
import { Link, match, navigate, useLocation } from "./router";
import { useSession } from "./session";
import { Forbidden, Loading } from "./ui";
import { Popover } from "./popover";
import { FirstRun } from "./pages/FirstRun";
import { SignIn, ChangePasswordScreen } from "./pages/SignIn";
import { UsersPage } from "./pages/Users";

// The Users page (an administrator's first screen) is in the first download; every other page is
// fetched when first opened, so a page load parses only what it shows.
const UserForm = lazy(() => import("./pages/UserForm").then((m) => ({ default: m.UserForm })));
const GroupsPage = lazy(() => import("./pages/Groups").then((m) => ({ default: m.GroupsPage })));
const PrivilegesPage = lazy(() => import("./pages/Privileges").then((m) => ({ default: m.PrivilegesPage })));
const TeamsPage = lazy(() => import("./pages/Teams").then((m) => ({ default: m.TeamsPage })));
const SystemGroupsPage = lazy(() => import("./pages/SystemGroups").then((m) => ({ default: m.SystemGroupsPage })));
const EffectiveAccessPage = lazy(() => import("./pages/EffectiveAccess").then((m) => ({ default: m.EffectiveAccessPage })));
const ApiKeysPage = lazy(() => import("./pages/ApiKeys").then((m) => ({ default: m.ApiKeysPage })));
const SessionsPage = lazy(() => import("./pages/Sessions").then((m) => ({ default: m.SessionsPage })));
const AuditPage = lazy(() => import("./pages/Audit").then((m) => ({ default: m.AuditPage })));
const ImportExportPage = lazy(() => import("./pages/ImportExport").then((m) => ({ default: m.ImportExportPage })));
const SettingsPage = lazy(() => import("./pages/Settings").then((m) => ({ default: m.SettingsPage })));
const ProfilePage = lazy(() => import("./pages/Profile").then((m) => ({ default: m.ProfilePage })));
const DirectoryPage = lazy(() => import("./pages/Directory").then((m) => ({ default: m.DirectoryPage })));
const CertificateAuthoritiesPage = lazy(() => import("./pages/CertificateAuthorities").then((m) => ({ default: m.CertificateAuthoritiesPage })));
const MailSettingsPage = lazy(() => import("./pages/MailSettings").then((m) => ({ default: m.MailSettingsPage })));
const SystemsPage = lazy(() => import("./pages/Systems").then((m) => ({ default: m.SystemsPage })));
const MySystemsPage = lazy(() => import("./pages/MySystems").then((m) => ({ default: m.MySystemsPage })));
const SystemBrowserPage = lazy(() => import("./pages/MySystems").then((m) => ({ default: m.SystemBrowserPage })));

interface NavItem {
  to: string;
  label: string;
  role?: string;
  method?: string;
  /** Shown when any of these methods is callable (instead of role + method). */
  anyMethod?: string[];
  /** Shown only to users without FLEET_READ (who see /systems instead). */
  fleetOnly?: boolean;
}

export const NAV: NavItem[] = [
  { to: "/users", label: "Users", role: "ACCOUNT_READ", method: "user.query" },
  { to: "/groups", label: "Groups", role: "ACCOUNT_READ", method: "group.query" },
  { to: "/import-export", label: "Import and export", role: "ACCOUNT_READ", method: "user.export" },
  { to: "/privileges", label: "Privileges", role: "PRIVILEGE_READ", method: "privilege.query" },
  { to: "/system-groups", label: "System groups", role: "FLEET_READ", method: "fleet.system_group.query" },
  { to: "/teams", label: "Teams", role: "FLEET_READ", method: "team.query" },
  { to: "/effective-access", label: "Effective access", role: "FLEET_READ", method: "fleet.access.explain" },
  { to: "/systems", label: "Systems", role: "FLEET_READ", method: "fleet.system.query" },
  // Users who reach systems through the fleet (no FLEET_READ): their systems, browsed through the proxy.
  { to: "/my-systems", label: "My systems", fleetOnly: true, method: "fleet.call" },
  { to: "/api-keys", label: "API keys", anyMethod: ["api_key.query", "api_key.my_keys"] },
  { to: "/sessions", label: "Sessions", role: "AUTH_SESSIONS_READ", method: "auth.sessions" },
  { to: "/audit", label: "Audit log", role: "SYSTEM_AUDIT_READ", method: "audit.query" },
  { to: "/settings", label: "Settings", role: "SYSTEM_SECURITY_READ", method: "system.security.config" },
  { to: "/directory-services", label: "Directory services", role: "DIRECTORY_SERVICE_READ", method: "ldap.server.query" },
  { to: "/certificate-authorities", label: "Certificate authorities", role: "CERTIFICATE_READ", method: "certificateauthority.query" },
  { to: "/mail", label: "Mail", role: "MAIL_WRITE", method: "mail.config" },
  { to: "/profile", label: "My profile" },
];

function useNavItems(): NavItem[] {
  const s = useSession();
  return NAV.filter((n) => {
    if (n.anyMethod) return n.anyMethod.some((m) => s.has(m));
    if (n.fleetOnly) return s.has(n.method ?? "fleet.call") && !s.can("FLEET_READ");
    return s.allowed(n.method ?? "auth.me", n.role);
  });
}

function ConnectionBanner() {
  const [state, setState] = useState<ConnState>(api.state);
  useEffect(() => api.onState(setState), []);
  if (state !== "reconnecting") return null;
  return (
    <div className="conn-banner" role="status">
      Connection to the server lost — reconnecting…
    </div>
  );
}

export function App() {
  const s = useSession();
  switch (s.phase) {
    case "loading":
      return (
        <div className="center-screen">
          <Loading label="Connecting to Gatehouse…" />
        </div>
      );
    case "first-run":
      return <FirstRun />;
    case "signed-out":
    case "otp":
      return <SignIn />;
    case "change-password":
      return <ChangePasswordScreen />;
    default:
      return <Shell />;
  }
}

function Shell() {
  const s = useSession();
  const { path } = useLocation();
  const items = useNavItems();
  const [menuOpen, setMenuOpen] = useState(false);
  useEffect(() => setMenuOpen(false), [path]);

  useEffect(() => {
    if (path === "/" || path === "/signin" || path === "/setup") navigate(items[0]?.to ?? "/profile", { replace: true });
  }, [path, items]);

  const readOnly = s.can("ACCOUNT_READ") && !s.can("ACCOUNT_WRITE");
  return (
    <div className="shell">
      <a className="skip" href="#main">
        Skip to main content
      </a>
      <header className="topbar">
        <button type="button" className="menu-toggle" aria-expanded={menuOpen} aria-controls="nav" onClick={() => setMenuOpen(!menuOpen)}>
          <span aria-hidden="true">☰</span>
          <span className="sr-only">Menu</span>
        </button>
        <Link to="/" className="brand">
          <span className="logo" aria-hidden="true">
            ⌂
          </span>{" "}
          Gatehouse
        </Link>
        {readOnly && (
          <span className="badge ro" title="Your roles allow reading but not changing accounts" data-testid="readonly-badge">
            Read-only access
          </span>
        )}
        <div className="who">
          <Link to="/profile" className="user-link" data-testid="current-user">
            {s.me?.pw_name}
          </Link>
          <SettingsMenu />
          <button type="button" onClick={() => void s.logout()}>
            Sign out
          </button>
        </div>
      </header>
      <ConnectionBanner />
      <div className="body">
        <nav id="nav" className={`sidenav ${menuOpen ? "open" : ""}`} aria-label="Main">
          <ul>
            {items.map((n) => (
              <li key={n.to}>
                <Link to={n.to} aria-current={path === n.to || path.startsWith(n.to + "/") ? "page" : undefined}>
                  {n.label}
                </Link>
              </li>
            ))}
          </ul>
        </nav>
        <main id="main" tabIndex={-1}>
          <Suspense fallback={<Loading />}>
            <Routes path={path} />
          </Suspense>
        </main>
      </div>
    </div>
  );
}

/** The top bar's settings menu (seed 000: "My API Keys" is reachable from it). */
function SettingsMenu() {
  const s = useSession();
  const keys = s.has("api_key.my_keys") || s.has("api_key.query");
  return (
    <Popover label={<span aria-hidden="true">⚙</span>} ariaLabel="Settings" align="right" testid="settings-menu" buttonClass="icon">
      {(close) => (
        <nav aria-label="Settings">
          <Link to="/profile" className="menu-item" onClick={close}>
            My profile
          </Link>
          {keys && (
            <Link to="/api-keys?mine=1" className="menu-item" onClick={close} data-testid="menu-my-api-keys">
              My API Keys
            </Link>
          )}
          <Link to="/profile#tf2-h" className="menu-item" onClick={close}>
            Two-factor authentication
          </Link>
        </nav>
      )}
    </Popover>
  );
}

function Routes({ path }: { path: string }) {
  const s = useSession();
  const guard = (role: string, method: string, title: string, el: ReactElement) => (s.allowed(method, role) ? el : <Forbidden what={title} />);
  let m: Record<string, string> | null;
  if (path === "/users") return guard("ACCOUNT_READ", "user.query", "Users", <UsersPage />);
  if (path === "/users/new") return guard("ACCOUNT_WRITE", "user.create", "Add user", <UserForm />);
  if ((m = match("/users/:id/edit", path))) return guard("ACCOUNT_READ", "user.query", "Edit user", <UserForm key={m.id} id={Number(m.id)} />);
  if (path === "/groups") return guard("ACCOUNT_READ", "group.query", "Groups", <GroupsPage />);
  if (path === "/import-export") return guard("ACCOUNT_READ", "user.export", "Import and export", <ImportExportPage />);
  if (path === "/privileges") return guard("PRIVILEGE_READ", "privilege.query", "Privileges", <PrivilegesPage />);
  if (path === "/system-groups") return guard("FLEET_READ", "fleet.system_group.query", "System groups", <SystemGroupsPage />);
  if (path === "/teams") return guard("FLEET_READ", "team.query", "Teams", <TeamsPage />);
  if (path === "/effective-access") return guard("FLEET_READ", "fleet.access.explain", "Effective access", <EffectiveAccessPage />);
  if (path === "/api-keys") return <ApiKeysPage />;
  if (path === "/sessions") return guard("AUTH_SESSIONS_READ", "auth.sessions", "Sessions", <SessionsPage />);
  if (path === "/audit") return guard("SYSTEM_AUDIT_READ", "audit.query", "Audit log", <AuditPage />);
  if (path === "/directory-services") return guard("DIRECTORY_SERVICE_READ", "ldap.server.query", "Directory services", <DirectoryPage />);
  if (path === "/certificate-authorities") return guard("CERTIFICATE_READ", "certificateauthority.query", "Certificate authorities", <CertificateAuthoritiesPage />);
  if (path === "/mail") return guard("MAIL_WRITE", "mail.config", "Mail", <MailSettingsPage />);
  if (path === "/settings") return guard("SYSTEM_SECURITY_READ", "system.security.config", "Settings", <SettingsPage />);
  if (path === "/systems") return guard("FLEET_READ", "fleet.system.query", "Systems", <SystemsPage />);
  if (path === "/my-systems") return s.has("fleet.call") ? <MySystemsPage /> : <Forbidden what="My systems" />;
  if ((m = match("/my-systems/:id", path))) return s.has("fleet.call") ? <SystemBrowserPage key={m.id} id={Number(m.id)} /> : <Forbidden what="System" />;
  if (path === "/profile") return <ProfilePage />;
  if (path === "/" || path === "/signin" || path === "/setup") return <Loading />;
  return (
    <section className="page">
      <h1>Page not found</h1>
      <p>
        There is nothing at <code>{path}</code>. <Link to="/">Go to the start page</Link>.
      </p>
    </section>
  );
}
