import { z } from "zod";
import { arg, defineMethod } from "../method.js";
import { renderableText } from "../../server/input-bounds.js";
import { importCertificateAuthority } from "../../directory/certificate-authorities.js";
import { CertificateAuthoritySchema } from "../../directory/schemas.js";

const Import = z.strictObject({
  name: renderableText(1, 120),
  certificate: z.string().min(1).max(65536),
});

export const certificateAuthorityImport = defineMethod({
  name: "certificateauthority.import",
  description: "Registers a certificate authority from its PEM certificate (checked: one X.509 certificate with CA:TRUE).",
  args: [arg("certificateauthority_import", Import)],
  returns: CertificateAuthoritySchema,
  roles: ["CERTIFICATE_WRITE"],
  audit: (data) => `Import certificate authority ${data.name}`,
  handler: (ctx, data) => importCertificateAuthority(ctx.app, data),
});
