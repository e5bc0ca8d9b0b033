// `mass-autoscaler status`: asks the running daemon over its HTTP listener and prints a table.
import axios from 'axios';
import type { StatusDocument } from './http';

export interface StatusArgs {
  url: string;
  json: boolean;
}

export function parseStatusArgs(argv: string[], env: Record<string, string | undefined>): StatusArgs | string {
  let url: string | undefined;
  let json = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--json') json = true;
    else if (arg === '--url') url = argv[++i];
    else if (arg?.startsWith('--url=')) url = arg.slice('--url='.length);
    else return `status: unknown argument ${JSON.stringify(arg)} (use --json and --url http://HOST:PORT)`;
  }
  if (url === undefined) {
    const port = env.METRICS_PORT ?? '9464';
    if (port === 'off' || port === '0') {
      return `status: METRICS_PORT=${port} gives no fixed address to ask; pass --url http://HOST:PORT (the daemon logs its port at start)`;
    }
    const host = env.METRICS_HOST ?? '127.0.0.1';
    url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  }
  return { url: url.replace(/\/+$/, ''), json };
}

export async function runStatus(args: StatusArgs, out: (line: string) => void): Promise<number> {
  let doc: StatusDocument;
  try {
    const res = await axios.get<StatusDocument>(`${args.url}/status`, { timeout: 5000, responseType: 'json' });
    doc = res.data;
  } catch (error) {
    const code = (error as { code?: string }).code ?? (error as Error).message;
    out(
      `No mass-autoscaler daemon answered at ${args.url}/status (${code}). Is it running, and are METRICS_HOST/METRICS_PORT (or --url) right?`,
    );
    return 1;
  }
  if (args.json) {
    out(JSON.stringify(doc, null, 2));
    return 0;
  }
  out(
    `health: ${doc.health.ok ? 'ok' : `UNHEALTHY: ${doc.health.reasons.join('; ')}`}${doc.dryRun ? '   (DRY RUN: decisions are not applied)' : ''}`,
  );
  if (doc.services.length === 0) {
    out('no service carries the com.mass.anal_system label');
    return 0;
  }
  const now = Date.parse(doc.generatedAt);
  const rows = doc.services.map((s) => [
    s.name,
    s.system ?? '-',
    s.status,
    num(s.replicas),
    num(s.running),
    num(s.desired),
    num(s.recommendation),
    s.limitedBy ?? '-',
    s.rawDemand === null ? '-' : `${s.rawDemand}/${s.smoothedDemand ?? '-'}`,
    num(s.due),
    num(s.notDue),
    num(s.stuckOffline),
    s.nextEvaluation ? `${Math.max(0, Math.round((Date.parse(s.nextEvaluation) - now) / 1000))}s` : '-',
    s.lastAction ?? '-',
    s.problems.length > 0 ? s.problems.join('; ') : (s.updateError ?? s.reasonText ?? '-'),
  ]);
  const header = [
    'SERVICE',
    'SYSTEM',
    'STATUS',
    'REPLICAS',
    'RUNNING',
    'DESIRED',
    'RECOMMENDED',
    'LIMITED BY',
    'DEMAND raw/smooth',
    'DUE',
    'NOT DUE',
    'STUCK',
    'NEXT',
    'LAST ACTION',
    'REASON',
  ];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ');
  out(line(header));
  for (const r of rows) out(line(r));
  for (const s of doc.services) if (s.warning) out(`warning: ${s.name}: ${s.warning}`);
  printSystems(doc, out);
  return 0;
}

/** Per analysis system: how its instances are judged, and the work stuck or lost. */
function printSystems(doc: StatusDocument, out: (line: string) => void): void {
  const systems = doc.systems ?? [];
  if (systems.length === 0) return;
  const header = [
    'SYSTEM',
    'ONLINE',
    'WORKING',
    'DEAD',
    'FLOOR',
    'LIVE WORK',
    'STUCK',
    'ABORTED',
    'RECOVERED',
    'STUCK ON',
  ];
  const rows = systems.map((s) => [
    s.system,
    String(s.onlineInstances),
    String(s.workingInstances),
    String(s.deadInstances),
    String(s.floor),
    String(s.liveWork),
    String(s.stuck),
    String(s.abortedTotal),
    String(s.recoveredTotal),
    s.stuckInstances.length === 0 ? '-' : s.stuckInstances.join(', '),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ');
  out('');
  out(line(header));
  for (const r of rows) out(line(r));
}

function num(n: number | null): string {
  return n === null ? '-' : String(n);
}
