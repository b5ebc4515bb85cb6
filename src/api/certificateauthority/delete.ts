import { z } from "zod";
import { arg, defineMethod } from "../method.js";
import { deleteCertificateAuthority } from "../../directory/certificate-authorities.js";

export const certificateAuthorityDelete = defineMethod({
  name: "certificateauthority.delete",
  description: "Removes a registered certificate authority.",
  args: [arg("id", z.number().int())],
  returns: z.literal(true),
  roles: ["CERTIFICATE_WRITE"],
  audit: (id) => `Delete certificate authority ${id}`,
  handler: (ctx, id) => deleteCertificateAuthority(ctx.app, id),
});
