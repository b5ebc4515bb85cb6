// docs/errors.md, rendered from the error-code catalogue (`npm run gen:errors`, through tsx).
// src/server/error-codes.test.ts fails when the committed file is stale.

import { errnameOf } from "./errno.js";
import { ERROR_CODES, type ErrorCode } from "./error-codes.js";

const NAMESPACES: Record<string, string> = {
  core: "Protocol, dispatcher and generic argument errors",
  access: "Roles, grants and ownership",
  auth: "Authentication, sessions, two-factor, tokens",
  password: "Password policy",
  user: "Users",
  group: "Groups",
  idmap: "User namespace id maps",
  name: "Names, full names, email addresses",
  home: "Home directories",
  privilege: "Privileges",
  api_key: "API keys",
  filesystem: "filesystem.* methods",
  query: "Query filters and options",
  job: "Jobs",
  system: "System security settings",
  sudo: "Sudo commands",
  ssh_key: "SSH public keys",
  audit: "Audit queries",
  provision: "Provisioning to the host",
};

const HEADER = `# Error codes

<!-- Generated from src/server/error-codes.ts by \`npm run gen:errors\`; do not edit by hand. -->

Every error Gatehouse answers carries, besides the reference's errno (\`data.error\`, \`data.errname\`),
a stable, namespaced code in \`data.code\`. Clients and tests match on the code, never on the message
text (messages follow the reference and may be reworded).

- **Call errors** (JSON-RPC \`-32001\`): \`data.code\` names the error.
- **Validation errors** (JSON-RPC \`-32602\`): \`data.extra\` keeps the reference's
  \`[attribute, message, errno]\` triples; \`data.codes\` holds one code per triple, in the same order;
  \`data.code\` is the first triple's code.
- **Protocol errors** (parse error, invalid request, unknown method, too many calls): \`data.code\`
  as well.

A code keeps its meaning once published: new codes are added, none is renamed or reused. The errno
column is the errno answered with the code.
`;

function escapeCell(text: string): string {
  return text.replace(/\|/g, "\\|").replace(/\n/g, " ");
}

/** docs/errors.md: every catalogued code, by namespace, with its errno and description. */
export function renderErrorDocs(): string {
  const byNamespace = new Map<string, ErrorCode[]>();
  for (const code of Object.keys(ERROR_CODES).sort() as ErrorCode[]) {
    const ns = code.slice(0, code.indexOf("."));
    byNamespace.set(ns, [...(byNamespace.get(ns) ?? []), code]);
  }
  // Known namespaces in their reading order, then any new one alphabetically.
  const order = [...Object.keys(NAMESPACES).filter((ns) => byNamespace.has(ns)), ...[...byNamespace.keys()].filter((ns) => !(ns in NAMESPACES)).sort()];
  const parts = [HEADER];
  for (const ns of order) {
    parts.push(`## ${ns}.* — ${NAMESPACES[ns] ?? ns}\n\n| Code | errno | Meaning |\n| --- | --- | --- |`);
    const rows = byNamespace.get(ns)!.map((code) => {
      const { errno, description } = ERROR_CODES[code];
      return `| \`${code}\` | ${errnameOf(errno)} (${errno}) | ${escapeCell(description)} |`;
    });
    parts[parts.length - 1] += `\n${rows.join("\n")}\n`;
  }
  return `${parts.join("\n")}`;
}
