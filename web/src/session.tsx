// Who is signed in and what they may do. Drives the sign-in flows of reference §7.2–7.4
// (PASSWORD_PLAIN → SUCCESS | OTP_REQUIRED → OTP_TOKEN | AUTH_ERR | EXPIRED | DENIED), keeps a
// single-use reconnect token in sessionStorage so a reload or a dropped socket signs back in, and
// turns "session gone" into the sign-in screen without losing the page the user was on.

import { createContext, useCallback, useContext, useEffect, useMemo, useRef, useState, type ReactNode } from "react";
import { api, RpcError, type Api } from "./api";
import type { LoginResult, Me, MethodDoc } from "./api-types";

export type { Me };

export type Phase = "loading" | "first-run" | "signed-out" | "otp" | "change-password" | "signed-in";

/** Wrong codes after the first that a pending two-factor sign-in accepts (src/auth/login.ts OTP_RETRIES). */
export const OTP_RETRIES = 3;

export type LoginOutcome =
  | { kind: "ok" }
  | { kind: "otp"; username: string }
  | { kind: "AUTH_ERR" | "DENIED" | "EXPIRED" | "REDIRECT"; urls?: string[] /** After a wrong code: how many more the pending sign-in accepts. */; retriesLeft?: number }
  | { kind: "error"; message: string };

interface SessionValue {
  phase: Phase;
  me: Me | null;
  notice: string | null;
  setNotice(n: string | null): void;
  otpUser: string | null;
  /** Why the password must be changed now (OTPW, PASSWORD_CHANGE_REQUIRED) — forced screen. */
  changeReason: string | null;
  can(role: string): boolean;
  has(method: string): boolean;
  /** has(method) && can(role) */
  allowed(method: string, role?: string): boolean;
  methodAccepts(method: string, argIndex: number, field: string): boolean;
  login(username: string, password: string): Promise<LoginOutcome>;
  submitOtp(code: string): Promise<LoginOutcome>;
  cancelOtp(): void;
  finishPasswordChange(): Promise<void>;
  logout(): Promise<void>;
  refreshMe(): Promise<void>;
  firstRunDone(): void;
  /** Password typed at sign-in, kept only for the forced-change step (never stored). */
  lastPassword: string | null;
}

const Ctx = createContext<SessionValue | null>(null);
const TOKEN_KEY = "gatehouse.reconnect";
/**
 * The last core.get_methods answer in this tab, with whom it was for. A reload signed in by the
 * reconnect token shows the page at once from it instead of waiting for the listing (about 290 kB
 * for an administrator); the fresh listing, asked for at the same time, replaces it when it comes.
 * It only decides what the UI offers: the server checks every call.
 */
const METHODS_KEY = "gatehouse.methods";

function listingOwner(m: Me): string {
  return JSON.stringify([m.pw_name, [...m.privilege.roles].sort()]);
}

function cachedListing(m: Me): Record<string, MethodDoc> | null {
  try {
    const kept = JSON.parse(sessionStorage.getItem(METHODS_KEY) ?? "null") as { owner: string; methods: Record<string, MethodDoc> } | null;
    return kept && kept.owner === listingOwner(m) ? kept.methods : null;
  } catch {
    return null;
  }
}

/** Once the page rendered from a kept listing has made its first calls and had their answers. */
function afterFirstCalls(): Promise<void> {
  // Idle: rendered, and the page's effects have sent their calls (at most a second's wait).
  const idle = new Promise<void>((resolve) => {
    if (typeof requestIdleCallback === "function") requestIdleCallback(() => resolve(), { timeout: 1000 });
    else setTimeout(resolve, 200);
  });
  return idle.then(() => api.answered());
}

function keepListing(m: Me, methods: Record<string, MethodDoc> | null): void {
  try {
    if (methods) sessionStorage.setItem(METHODS_KEY, JSON.stringify({ owner: listingOwner(m), methods }));
    else sessionStorage.removeItem(METHODS_KEY);
  } catch {
    /* storage full or disabled: the next load waits for the listing */
  }
}

export function useSession(): SessionValue {
  const v = useContext(Ctx);
  if (!v) throw new Error("useSession outside SessionProvider");
  return v;
}

export function useApi(): Api {
  return api;
}

export function SessionProvider({ children }: { children: ReactNode }) {
  const [phase, setPhase] = useState<Phase>("loading");
  const [me, setMe] = useState<Me | null>(null);
  const [methods, setMethods] = useState<Record<string, MethodDoc> | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [otpUser, setOtpUser] = useState<string | null>(null);
  const [changeReason, setChangeReason] = useState<string | null>(null);
  const lastPassword = useRef<string | null>(null);
  /** Wrong codes given for the pending sign-in (the server accepts OTP_RETRIES more after the first). */
  const wrongCodes = useRef(0);
  const phaseRef = useRef<Phase>("loading");
  /** Bumped by every sign-in context load and sign-out: a late method listing of an older one is dropped. */
  const listingGeneration = useRef(0);
  phaseRef.current = phase;

  const loadContext = useCallback(async (userInfo: unknown) => {
    const m = (userInfo as Me | null) ?? (await api.call("auth.me"));
    m.privilege = m.privilege ?? { roles: [] };
    m.privilege.roles = Array.isArray(m.privilege.roles) ? m.privilege.roles : [];
    m.account_attributes = m.account_attributes ?? [];
    const fetchListing = () =>
      api.call("core.get_methods").then(
        (r) => r,
        () => null,
      );
    const cached = cachedListing(m);
    const generation = ++listingGeneration.current;
    if (cached) {
      // The page shown from the kept listing asks for its data first; the fresh listing (~300 kB)
      // is asked once those answers are in, so they do not wait behind it on the socket and in
      // this thread's parsing. Applied only if nothing newer (another sign-in, a sign-out)
      // happened meanwhile.
      void afterFirstCalls()
        .then(fetchListing)
        .then((fresh) => {
          if (generation !== listingGeneration.current || !fresh) return;
          keepListing(m, fresh);
          setMethods(fresh);
        });
    }
    const meths = cached ?? (await fetchListing());
    if (!cached) keepListing(m, meths);
    setMe(m);
    setMethods(meths);
    return m;
  }, []);

  const afterSuccess = useCallback(
    async (r: { user_info?: unknown; reconnect_token?: string | null }) => {
      api.authenticated = true;
      if (r.reconnect_token) sessionStorage.setItem(TOKEN_KEY, r.reconnect_token);
      else sessionStorage.removeItem(TOKEN_KEY);
      const m = await loadContext(r.user_info ?? null);
      await api.resubscribe();
      setNotice(null);
      setOtpUser(null);
      const attrs = m.account_attributes;
      if (attrs.includes("OTPW")) {
        setChangeReason("You signed in with a one-time password. Choose a new password to continue.");
        setPhase("change-password");
      } else if (attrs.includes("PASSWORD_CHANGE_REQUIRED")) {
        setChangeReason("Your password is about to expire. Choose a new password to continue.");
        setPhase("change-password");
      } else {
        setChangeReason(null);
        setPhase("signed-in");
      }
    },
    [loadContext],
  );

  // Connection hook: per-connection options, then try the stored reconnect token.
  useEffect(() => {
    api.onConnected = async (a, reconnect) => {
      try {
        await a.rawCall("core.set_options", { legacy_jobs: false });
      } catch {
        /* older servers */
      }
      const token = sessionStorage.getItem(TOKEN_KEY);
      const wasSignedIn = a.authenticated || phaseRef.current === "signed-in" || phaseRef.current === "change-password";
      if (token) {
        sessionStorage.removeItem(TOKEN_KEY);
        try {
          const r = await a.rawCall("auth.login_ex", { mechanism: "TOKEN_PLAIN", token, login_options: { user_info: true, reconnect_token: true } });
          if (r?.response_type === "SUCCESS") {
            a.authenticated = true;
            if (r.reconnect_token) sessionStorage.setItem(TOKEN_KEY, r.reconnect_token);
            if (phaseRef.current !== "signed-in") void afterSuccess(r);
            return;
          }
        } catch {
          /* fall through */
        }
      }
      if (wasSignedIn) {
        a.authenticated = true; // so that sessionLost fires once
        const why = a.takeEndReason();
        a.sessionLost(why ? `Your session ended: ${why} Sign in again to continue.` : reconnect ? "Your session has ended. Sign in again to continue." : "Sign in to continue.");
      }
    };
    const offLost = api.onSessionLost((why) => {
      phaseRef.current = "signed-out";
      listingGeneration.current++;
      sessionStorage.removeItem(TOKEN_KEY);
      sessionStorage.removeItem(METHODS_KEY);
      setNotice(why);
      setMe(null);
      setPhase("signed-out");
    });
    void (async () => {
      await api.connect();
      if (api.authenticated) return; // the token hook signed us in
      try {
        const done = await api.call("user.has_local_administrator_set_up");
        setPhase(done ? "signed-out" : "first-run");
      } catch {
        setPhase("signed-out");
      }
    })();
    return () => {
      offLost();
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  const login = useCallback(
    async (username: string, password: string): Promise<LoginOutcome> => {
      lastPassword.current = password;
      try {
        const r = await api.call("auth.login_ex", {
          mechanism: "PASSWORD_PLAIN",
          username,
          password,
          login_options: { user_info: true, reconnect_token: true },
        });
        switch (r.response_type) {
          case "SUCCESS":
            await afterSuccess(r);
            return { kind: "ok" };
          case "OTP_REQUIRED":
            wrongCodes.current = 0;
            setOtpUser(r.username ?? username);
            setPhase("otp");
            return { kind: "otp", username: r.username ?? username };
          case "AUTH_ERR":
          case "DENIED":
          case "EXPIRED":
            return { kind: r.response_type };
          default:
            return { kind: "error", message: `Unexpected answer from the server: ${String((r as { response_type: unknown }).response_type)}` };
        }
      } catch (err) {
        return { kind: "error", message: err instanceof Error ? err.message : String(err) };
      }
    },
    [afterSuccess],
  );

  const submitOtp = useCallback(
    async (code: string): Promise<LoginOutcome> => {
      const body = { mechanism: "OTP_TOKEN" as const, otp_token: code.trim(), login_options: { user_info: true, reconnect_token: true } };
      try {
        let r: LoginResult;
        try {
          r = await api.call("auth.login_ex_continue", body);
        } catch (err) {
          if (err instanceof RpcError && err.methodMissing) r = await api.call("auth.login_ex", body);
          else throw err;
        }
        if (r.response_type === "SUCCESS") {
          await afterSuccess(r);
          return { kind: "ok" };
        }
        if (r.response_type === "OTP_REQUIRED") return { kind: "otp", username: r.username ?? "" };
        // A wrong code leaves the sign-in pending for OTP_RETRIES more (Gatehouse; the reference
        // ends it at once, and then the next code is refused as "not in progress").
        if (r.response_type === "AUTH_ERR") {
          wrongCodes.current += 1;
          const retriesLeft = Math.max(0, OTP_RETRIES + 1 - wrongCodes.current);
          if (retriesLeft > 0) return { kind: "AUTH_ERR", retriesLeft };
        }
        setOtpUser(null);
        setPhase("signed-out");
        // Anything else (a SCRAM answer belongs to API-key logins) is unexpected at this step.
        const kind = r.response_type as string;
        if (kind === "AUTH_ERR" || kind === "DENIED" || kind === "EXPIRED" || kind === "REDIRECT") return { kind };
        return { kind: "error", message: `Unexpected answer from the server: ${kind}` };
      } catch (err) {
        setOtpUser(null);
        setPhase("signed-out");
        return { kind: "error", message: err instanceof Error ? err.message : String(err) };
      }
    },
    [afterSuccess],
  );

  const cancelOtp = useCallback(() => {
    setOtpUser(null);
    setPhase("signed-out");
  }, []);

  const finishPasswordChange = useCallback(async () => {
    lastPassword.current = null;
    setChangeReason(null);
    try {
      await loadContext(null);
    } catch {
      /* keep going */
    }
    setPhase("signed-in");
  }, [loadContext]);

  const logout = useCallback(async () => {
    listingGeneration.current++;
    sessionStorage.removeItem(TOKEN_KEY);
    sessionStorage.removeItem(METHODS_KEY);
    try {
      await api.call("auth.logout");
    } catch {
      /* the socket is reset anyway */
    }
    api.reset();
    phaseRef.current = "signed-out";
    setMe(null);
    setMethods(null);
    setNotice("You have signed out.");
    setPhase("signed-out");
    await api.connect();
  }, []);

  const refreshMe = useCallback(async () => {
    await loadContext(null);
  }, [loadContext]);

  const value = useMemo<SessionValue>(() => {
    const roles = new Set(me?.privilege.roles ?? []);
    const can = (role: string) => roles.has("FULL_ADMIN") || roles.has(role);
    const has = (method: string) => (methods ? method in methods : true);
    return {
      phase,
      me,
      notice,
      setNotice,
      otpUser,
      changeReason,
      can,
      has,
      allowed: (method, role) => has(method) && (!role || can(role)),
      methodAccepts: (method, argIndex, field) => {
        const m = methods?.[method];
        const props = m?.accepts[argIndex]?.properties as Record<string, unknown> | undefined;
        return !!props && field in props;
      },
      login,
      submitOtp,
      cancelOtp,
      finishPasswordChange,
      logout,
      refreshMe,
      firstRunDone: () => {
        setNotice("The administrator account is ready. Sign in with it.");
        setPhase("signed-out");
      },
      lastPassword: lastPassword.current,
    };
  }, [phase, me, methods, notice, otpUser, changeReason, login, submitOtp, cancelOtp, finishPasswordChange, logout, refreshMe]);

  return <Ctx.Provider value={value}>{children}</Ctx.Provider>;
}
