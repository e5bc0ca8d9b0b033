// Entry point: `mass-autoscaler [run]`, `mass-autoscaler status [--json]`,
// `mass-autoscaler simulate --trace FILE ...`. Wires the real parts together.
import './node-guard'; // first: refuses Node.js < 20 before anything else loads
import dotenv from 'dotenv';
import { loadConfig, type Config } from '../config';
import { parseStatusArgs, runStatus } from './cli-status';
import { systemClock } from './clock';
import { healthVerdict } from './health';
import { startHttp } from './http';
import { createLogger } from './logger';
import { LOG } from './log-messages';
import { MassClient } from './mass/client';
import { Metrics } from './metrics';
import { Reconciler } from './loop/reconciler';
import { runSimulate } from './sim/cli';
import { createDocker, DockerSwarm } from './swarm/docker-swarm';
import { standbyVerdict, SwarmLease, whileHolding } from './swarm/lease';

const USAGE = `usage:
  mass-autoscaler               run the daemon (API_KEY or API_KEY_FILE required; options: README, config.ts)
  mass-autoscaler status [--json] [--url http://HOST:PORT]
                                show what the running daemon sees and decides
  mass-autoscaler simulate --trace FILE [--labels "k=v,..."]... [--out DIR]
                                replay a demand trace through the decision code`;

const SHUTDOWN_BUDGET_MS = 4500;

async function main(argv: string[]): Promise<number> {
  dotenv.config({ quiet: true });
  const [command, ...rest] = argv;
  switch (command) {
    case undefined:
    case 'run':
      return runDaemon();
    case 'status': {
      const args = parseStatusArgs(rest, process.env);
      if (typeof args === 'string') {
        console.error(args);
        return 2;
      }
      return runStatus(args, (line) => console.log(line));
    }
    case 'simulate':
      return runSimulate(
        rest,
        (line) => console.log(line),
        (line) => console.error(line),
      );
    case 'help':
    case '--help':
    case '-h':
      console.log(USAGE);
      return 0;
    default:
      console.error(`mass-autoscaler: unknown command ${JSON.stringify(command)}\n${USAGE}`);
      return 2;
  }
}

function isLoopback(address: string): boolean {
  const host = new URL(address).hostname.replace(/^\[|\]$/g, '');
  return host === 'localhost' || host.endsWith('.localhost') || host === '::1' || /^127\./.test(host);
}

async function runDaemon(): Promise<number> {
  const loaded = loadConfig(process.env);
  if (!loaded.ok) {
    console.error(`mass-autoscaler: cannot start, the configuration has ${loaded.problems.length} problem(s):`);
    for (const problem of loaded.problems) console.error(`  - ${problem}`);
    console.error('Options, their defaults and meanings are listed in the README (and in config.ts in the source).');
    return 2;
  }
  const config: Config = loaded.config;
  const log = createLogger(config.logLevel);
  const { apiKey: _secret, ...shown } = config;
  log.info(
    {
      config: shown,
      explanation: `mass-autoscaler starting${config.dryRun ? ' in DRY RUN mode: decisions are logged, never applied' : ''}`,
    },
    LOG.starting,
  );
  if (new URL(config.massServerAddress).protocol === 'http:' && !isLoopback(config.massServerAddress)) {
    const host = new URL(config.massServerAddress).host;
    log.warn(
      {
        host,
        explanation: `MASS_SERVER_ADDRESS uses plain http:// to ${host}: the API key travels unencrypted; prefer https:// (a private CA can be given with NODE_EXTRA_CA_CERTS)`,
      },
      LOG.plainHttp,
    );
  }

  const mass = new MassClient({
    baseUrl: config.massServerAddress,
    apiKey: config.apiKey,
    timeoutMs: config.massRequestTimeoutMs,
    pageConcurrency: config.massPageConcurrency,
    dialect: config.massDialect,
    serverTimeZone: config.massTimeZone,
    warn: (message) => log.warn({ explanation: `MASS API: ${message}` }, LOG.massWarning),
  });
  const docker = createDocker(config.docker);
  const swarm = new DockerSwarm(docker);
  let reconciler: Reconciler | null = null;
  const metrics = new Metrics(() => ({ reconciler, dryRun: config.dryRun }));
  // A fresh reconciler for each period of holding the lease: nothing stale carries over.
  const newReconciler = () =>
    new Reconciler(
      mass,
      swarm,
      systemClock,
      log,
      {
        dryRun: config.dryRun,
        defaults: config.defaults,
        discoveryIntervalMs: config.discoveryIntervalMs,
        retryMaxDelayMs: config.retryMaxDelayMs,
        liveness: {
          onlineWindowMs: config.massOnlineWindowMs,
          workingGraceMs: config.workingGraceMs,
          recoverStuckAfterMs: config.recoverStuckAfterMs,
        },
        remover: mass,
        ...(config.wakeUpInterval !== 'off' && { wakeUp: { counter: mass, interval: config.wakeUpInterval } }),
      },
      metrics,
    );
  reconciler = newReconciler();
  const lease = config.lease ? new SwarmLease(docker, config.lease, systemClock, log) : null;
  const health = () =>
    lease !== null && !lease.holds()
      ? standbyVerdict(lease, systemClock.now(), config.healthMaxAgeMs)
      : healthVerdict(reconciler!.health(), systemClock.now(), config.healthMaxAgeMs);

  let http: Awaited<ReturnType<typeof startHttp>> | null = null;
  if (config.metrics) {
    try {
      http = await startHttp(config.metrics.host, config.metrics.port, {
        metrics,
        health,
        status: () => ({
          dryRun: config.dryRun,
          health: health(),
          services: reconciler!.snapshot(),
          systems: reconciler!.systemsSnapshot(),
          ...(lease && { lease: { name: config.lease!.name, holder: lease.heldBy(), held: lease.holds() } }),
          generatedAt: new Date(systemClock.now()).toISOString(),
        }),
      });
      log.info(
        {
          host: config.metrics.host,
          port: http.port,
          explanation: `listening on http://${config.metrics.host}:${http.port} for /metrics, /healthz and /status`,
        },
        LOG.listening,
      );
    } catch (error) {
      const { host, port } = config.metrics;
      const err = (error as Error).message;
      log.fatal(
        { host, port, err, explanation: `cannot listen on ${host}:${port} (METRICS_HOST/METRICS_PORT): ${err}` },
        LOG.cannotListen,
      );
      return 2;
    }
  }

  const stop = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    if (stop.signal.aborted) return;
    log.info({ signal, explanation: `${signal} received; finishing the current round and stopping` }, LOG.signal);
    stop.abort();
    // A round stuck on a slow MASS answer is abandoned: no update is half-made, since each
    // service update is one Engine API call.
    setTimeout(() => {
      log.warn('round did not finish in time; abandoning it');
      process.exit(0);
    }, SHUTDOWN_BUDGET_MS).unref();
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  // A closed terminal or a stray `kill -HUP` stops the daemon in order too (Node's default would
  // kill it on the spot, exit 129). There is nothing to reload: options are read once, at start.
  process.on('SIGHUP', onSignal);

  try {
    if (lease === null) await reconciler.run(stop.signal);
    else
      await whileHolding(lease, systemClock, stop.signal, (signal) => {
        reconciler = newReconciler();
        return reconciler.run(signal);
      });
  } catch (error) {
    const err = (error as Error).message;
    log.fatal({ err, explanation: `unexpected failure in the reconcile loop: ${err}` }, LOG.loopFailed);
    http?.server.close();
    return 1;
  }
  await new Promise<void>((resolve) => {
    if (!http) return resolve();
    http.server.close(() => resolve());
    http.server.closeAllConnections();
  });
  log.info('stopped');
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
    // Keep-alive sockets to MASS or Docker would hold the process open; the work is done.
    setImmediate(() => process.exit(code));
  },
  (error: unknown) => {
    console.error(`mass-autoscaler: ${(error as Error)?.message ?? String(error)}`);
    process.exit(1);
  },
);
