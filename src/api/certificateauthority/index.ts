// Methods of the certificate authority area (src/directory/certificate-authorities.ts).

import type { MethodDef } from "../method.js";
import { certificateAuthorityQuery } from "./query.js";
import { certificateAuthorityImport } from "./import.js";
import { certificateAuthorityDelete } from "./delete.js";

export const certificateAuthorityMethods: MethodDef[] = [certificateAuthorityQuery, certificateAuthorityImport, certificateAuthorityDelete];
