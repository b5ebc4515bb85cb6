// A free loopback port for a server that must be told its port up front (slapd, sshd, a server
// process restarted on the port it had): bind port 0, read the port, release it.

import net from "node:net";

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}
