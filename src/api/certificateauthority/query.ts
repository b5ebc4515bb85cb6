import { z } from "zod";
import { arg, defineMethod } from "../method.js";
import { queryRows } from "../../store/query-rows.js";
import { queryResult } from "../../server/wire-schema.js";
import { certificateAuthorityEntries } from "../../directory/certificate-authorities.js";
import { CertificateAuthoritySchema } from "../../directory/schemas.js";

export const certificateAuthorityQuery = defineMethod({
  name: "certificateauthority.query",
  description: "Lists registered certificate authorities (subject, issuer, expiry, fingerprint), with query-filters and query-options.",
  args: [arg("filters", z.array(z.any()), () => []), arg("options", z.record(z.string(), z.any()), () => ({}))],
  returns: queryResult(CertificateAuthoritySchema),
  roles: ["CERTIFICATE_READ"],
  handler: async (ctx, filters, options) => queryRows(await certificateAuthorityEntries(ctx.app.store.db), filters, options),
});
