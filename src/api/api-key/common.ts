// Shared by the api_key.* methods. The argument schemas live in src/auth/api-key-inputs.ts, the
// rules and writes in src/auth/api-key-admin.ts; who may manage whose keys is declared on the methods.

export { API_KEY_SECRETS, apiKeyById } from "../../auth/api-key-admin.js";
