// A Unix-socket proxy in front of the real Docker Engine for tests: forwards every request, and
// answers service updates (`POST /services/<id>/update`) with 400 while `refuseUpdates` is set.
// Point a daemon's DOCKER_HOST at `unix://${proxy.socketPath}`.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface EngineProxy {
  socketPath: string;
  refuseUpdates: boolean;
  /** times (ms) of the updates refused so far */
  readonly refused: number[];
  close(): Promise<void>;
}

const UPDATE = /^(\/v[\d.]+)?\/services\/[^/]+\/update(\?|$)/;

function engineSocket(): string {
  const host = process.env.DOCKER_HOST ?? '';
  return host.startsWith('unix://') ? host.slice('unix://'.length) : '/var/run/docker.sock';
}

export async function startEngineProxy(): Promise<EngineProxy> {
  const dir = mkdtempSync(join(tmpdir(), 'mat-engine-proxy-'));
  const socketPath = join(dir, 'docker.sock');
  const target = engineSocket();
  const proxy: EngineProxy = {
    socketPath,
    refuseUpdates: false,
    refused: [],
    close: async () => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      rmSync(dir, { recursive: true, force: true });
    },
  };
  const server: Server = createServer((req, res) => {
    if (proxy.refuseUpdates && req.method === 'POST' && UPDATE.test(req.url ?? '')) {
      proxy.refused.push(Date.now());
      req.resume();
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end(`${JSON.stringify({ message: 'service update refused by the test proxy' })}\n`);
      return;
    }
    const upstream = request(
      { socketPath: target, method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', (err) => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'application/json' });
      res.end(`${JSON.stringify({ message: `test proxy: ${err.message}` })}\n`);
    });
    req.pipe(upstream);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => resolve());
  });
  return proxy;
}
