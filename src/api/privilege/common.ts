// Shared by the privilege.* methods. The input schemas live in src/accounts/inputs.ts, the rules in
// src/accounts/privilege-write.ts.

export { privilegeById } from "../../accounts/privilege-write.js";
