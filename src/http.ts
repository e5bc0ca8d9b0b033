// The daemon's own listener: /metrics (Prometheus), /healthz (503 with the reason when unwell)
// and /status (JSON for `mass-autoscaler status`).
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { HealthVerdict } from './health';
import type { Metrics } from './metrics';
import type { ServiceSnapshot } from './loop/status-view';
import type { SystemLiveness } from './loop/liveness';

export interface StatusDocument {
  dryRun: boolean;
  health: HealthVerdict;
  services: ServiceSnapshot[];
  /** per analysis system: live, working and dead instances, stuck and lost work */
  systems?: SystemLiveness[];
  generatedAt: string;
  /** present when LEASE is on: who acts (LEASE, LEASE_TTL) */
  lease?: { name: string; holder: string; held: boolean };
}

export interface HttpSources {
  metrics: Metrics;
  health(): HealthVerdict;
  status(): StatusDocument;
}

export async function startHttp(
  host: string,
  port: number,
  sources: HttpSources,
): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const send = (code: number, type: string, body: string) => {
      res.writeHead(code, { 'content-type': type, 'cache-control': 'no-store' });
      res.end(body);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, 'text/plain', 'only GET\n');
    if (path === '/metrics') {
      sources.metrics.registry
        .metrics()
        .then((text) => send(200, sources.metrics.registry.contentType, text))
        .catch((error: unknown) => send(500, 'text/plain', `metrics failed: ${String(error)}\n`));
      return;
    }
    if (path === '/healthz') {
      const verdict = sources.health();
      return send(
        verdict.ok ? 200 : 503,
        'application/json',
        `${JSON.stringify({ status: verdict.ok ? 'ok' : 'unhealthy', reasons: verdict.reasons })}\n`,
      );
    }
    if (path === '/status') return send(200, 'application/json', `${JSON.stringify(sources.status())}\n`);
    send(404, 'text/plain', 'not found: try /metrics, /healthz or /status\n');
  });
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return { server, port: (server.address() as AddressInfo).port };
}
