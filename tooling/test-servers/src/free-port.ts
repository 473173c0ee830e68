import { createServer } from 'node:net';

// Ports handed out recently and maybe not bound yet: the OS would happily give them out again,
// so a cluster node could be given another node's bus port before either server starts.
const RESERVE_MS = 30_000;
const handedOut = new Map<number, number>();

function askOs(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ port: 0, host: '127.0.0.1', exclusive: true }, () => {
      const address = server.address();
      if (address === null || typeof address === 'string') {
        server.close();
        reject(new Error('Could not read the port the OS assigned.'));
        return;
      }
      server.close((error) => (error ? reject(error) : resolve(address.port)));
    });
  });
}

/**
 * A TCP port on 127.0.0.1 that nobody listens on right now, and that this process has not handed
 * out in the last 30 s. Another process could still take it before the server binds, which is
 * why the launchers retry with a new port when a server fails to start.
 */
export async function getFreePort(): Promise<number> {
  const now = Date.now();
  for (const [port, at] of handedOut) if (now - at > RESERVE_MS) handedOut.delete(port);
  for (;;) {
    const port = await askOs();
    if (handedOut.has(port)) continue;
    handedOut.set(port, now);
    return port;
  }
}

/** `count` distinct free ports. */
export async function getFreePorts(count: number): Promise<number[]> {
  const ports: number[] = [];
  while (ports.length < count) ports.push(await getFreePort());
  return ports;
}
