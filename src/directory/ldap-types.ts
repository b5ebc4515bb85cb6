// The shape of an LDAP server as the client code uses it (a leaf module: no imports).

/** A server as the LDAP client uses it (bind password opened). */
export interface LdapServer {
  id: number;
  position: number;
  hostname: string;
  domain: string;
  group_domain: string;
  verify_ssl: boolean;
  user_id_field: string;
  group_id_field: string;
  bind_dn: string;
  bind_password: string;
  realm: string;
  kdc: string;
  security: "LDAPS" | "STARTTLS";
  nested_groups: boolean;
  connect_timeout: number;
  timeout: number;
}
