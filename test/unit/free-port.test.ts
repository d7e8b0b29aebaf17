import fs from 'node:fs';
import net from 'node:net';
import { freePort } from '../../src/db/embedded-postgres';

const ephemeralLow = (() => {
  try {
    return Number(fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
  } catch {
    return undefined;
  }
})();

describe('a free port for a server to listen on', () => {
  const onLinux = ephemeralLow === undefined ? it.skip : it;

  onLinux('is never one the kernel may give an outgoing connection meanwhile (below its ephemeral range), and can be listened on', async () => {
    for (let i = 0; i < 25; i += 1) {
      const port = await freePort();
      expect(port).toBeGreaterThanOrEqual(15000);
      expect(port).toBeLessThan(ephemeralLow!);
      await new Promise<void>((resolve, reject) => {
        const server = net.createServer().once('error', reject);
        server.listen(port, '127.0.0.1', () => server.close(() => resolve()));
      });
    }
  });
});
