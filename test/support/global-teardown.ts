import fs from 'node:fs';

export default async function globalTeardown(): Promise<void> {
  const embedded = globalThis.embeddedTestServer;
  if (!embedded) return;
  await embedded.server.stop();
  fs.rmSync(embedded.dataDir, { recursive: true, force: true });
}
