// What the browser can know about a new password before sending it (issue 14 point 5): the
// server's password policy (auth.password_policy, open to every signed-in user) checked as the
// user types, and a strength hint from zxcvbn-ts — loaded only when a password field is shown,
// so the main bundle stays small.

import { useEffect, useState } from "react";
import { api } from "./api";

export interface PasswordPolicy {
  min_password_length: number | null;
  password_complexity_ruleset: ("UPPER" | "LOWER" | "NUMBER" | "SPECIAL")[] | null;
}

const CLASS_WORDS: Record<string, string> = { UPPER: "a capital letter", LOWER: "a lower-case letter", NUMBER: "a digit", SPECIAL: "a symbol" };
const CLASS_TEST: Record<string, RegExp> = { UPPER: /\p{Lu}/u, LOWER: /\p{Ll}/u, NUMBER: /\p{Nd}/u, SPECIAL: /[^\p{L}\p{Nd}]/u };

let cached: PasswordPolicy | null = null;
let loading: Promise<PasswordPolicy | null> | null = null;

/** The policy, once per page (null while unknown or when the server does not tell it). */
export function usePasswordPolicy(): PasswordPolicy | null {
  const [p, setP] = useState<PasswordPolicy | null>(cached);
  useEffect(() => {
    if (cached) return;
    loading ??= api
      .call("auth.password_policy")
      .then((r) => (cached = r as PasswordPolicy))
      .catch(() => null);
    void loading.then((r) => r && setP(r));
  }, []);
  return p;
}

/** The policy last read (for submit-time checks outside React state). */
export const knownPolicy = () => cached;

/** Sentences for what `password` lacks under `policy` (empty: it meets the policy). */
export function policyProblems(password: string, policy: PasswordPolicy | null): string[] {
  if (!policy || !password) return [];
  const out: string[] = [];
  const min = policy.min_password_length;
  const len = [...password].length;
  if (min && len < min) out.push(`The password is too short: use at least ${min} characters (${min - len} more).`);
  const missing = (policy.password_complexity_ruleset ?? []).filter((c) => !CLASS_TEST[c]?.test(password));
  if (missing.length) out.push(`The password needs ${missing.map((c) => CLASS_WORDS[c]).join(", ")}.`);
  return out;
}

type Estimate = { score: 0 | 1 | 2 | 3 | 4; warning: string | null; suggestion: string | null };
let estimator: Promise<(pw: string, inputs: string[]) => Estimate> | null = null;

/** zxcvbn-ts with the common and English dictionaries, imported on first use. */
function loadEstimator() {
  estimator ??= Promise.all([import("@zxcvbn-ts/core"), import("@zxcvbn-ts/language-common"), import("@zxcvbn-ts/language-en")]).then(([core, common, en]) => {
    const z = new core.ZxcvbnFactory({
      translations: en.translations,
      graphs: common.adjacencyGraphs,
      dictionary: { ...common.dictionary, ...en.dictionary },
    });
    return (pw: string, inputs: string[]) => {
      const r = z.check(pw, inputs);
      return { score: r.score, warning: r.feedback.warning, suggestion: r.feedback.suggestions[0] ?? null };
    };
  });
  return estimator;
}

const WORDS = ["Very weak", "Weak", "Fair", "Strong", "Very strong"];

/** Live hint under a new-password field: what the policy still asks for, and how strong it is. */
export function PasswordHint({ password, userInputs = [], id }: { password: string; userInputs?: string[]; id?: string }) {
  const policy = usePasswordPolicy();
  const [est, setEst] = useState<Estimate | null>(null);
  useEffect(() => {
    if (!password) {
      setEst(null);
      return;
    }
    let live = true;
    const t = setTimeout(() => {
      loadEstimator()
        .then((f) => live && setEst(f(password.slice(0, 100), userInputs.filter(Boolean))))
        .catch(() => {});
    }, 150);
    return () => {
      live = false;
      clearTimeout(t);
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [password, userInputs.join("\u0000")]);
  const problems = policyProblems(password, policy);
  const rules = policy?.min_password_length ? `At least ${policy.min_password_length} characters.` : null;
  return (
    <div className="pw-hint" id={id} data-testid="password-hint" aria-live="polite">
      {!password && rules && <span className="hint">{rules}</span>}
      {problems.map((p) => (
        <div key={p} className="hint warn-text">
          {p}
        </div>
      ))}
      {password && est && (
        <div className="strength" data-score={est.score}>
          <span className="meter" aria-hidden="true">
            <span style={{ width: `${(est.score + 1) * 20}%` }} />
          </span>
          <span data-testid="password-strength">
            Strength: {WORDS[est.score]}
            {est.warning ? ` — ${est.warning}` : est.score < 3 && est.suggestion ? ` — ${est.suggestion}` : ""}
          </span>
        </div>
      )}
    </div>
  );
}
