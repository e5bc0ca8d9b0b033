// Runs the built daemon (`node dist/autoscaler.js`) as a child process and reads its JSON logs.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

export const ENTRY = join(__dirname, '..', '..', 'dist', 'autoscaler.js');

/** Every line any daemon printed in this test process, to check that no secret leaked. */
export const allOutput: string[] = [];

/** A line of the daemon's log: a fixed message (`msg`), its details as fields, its sentence in `explanation`. */
export interface LogLine {
  level: number;
  msg: string;
  explanation?: string;
  [key: string]: unknown;
}

export class Daemon {
  readonly lines: LogLine[] = [];
  readonly stderr: string[] = [];
  private exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private listeners: (() => void)[] = [];

  constructor(readonly child: ChildProcess) {
    let buffer = '';
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      buffer += chunk;
      let nl: number;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        allOutput.push(line);
        try {
          this.lines.push(JSON.parse(line) as LogLine);
        } catch {
          this.lines.push({ level: 0, msg: line });
        }
        this.listeners.forEach((l) => l());
      }
    });
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      allOutput.push(chunk);
      this.stderr.push(chunk);
    });
    this.exit = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  }

  /** Resolves with the first log line (already seen or to come) that matches. */
  waitForLog(what: string, match: (line: LogLine) => boolean, timeoutMs = 60_000): Promise<LogLine> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const found = this.lines.find(match);
        if (!found) return false;
        cleanup();
        resolve(found);
        return true;
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(
          new Error(
            `timed out waiting for log: ${what}\nlast lines:\n${this.lines
              .slice(-15)
              .map((l) => JSON.stringify(l))
              .join('\n')}\nstderr: ${this.stderr.join('')}`,
          ),
        );
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        this.listeners = this.listeners.filter((l) => l !== listener);
      };
      const listener = () => void check();
      if (check()) return;
      this.listeners.push(listener);
    });
  }

  /** The port of the /metrics listener, from the start-up log line. */
  async httpPort(): Promise<number> {
    const line = await this.waitForLog('listening line', (l) => typeof l.port === 'number' && l.msg === 'listening');
    return line.port as number;
  }

  async stop(
    signal: NodeJS.Signals = 'SIGTERM',
  ): Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number }> {
    const started = Date.now();
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    const result = await this.exit;
    return { ...result, ms: Date.now() - started };
  }

  exited(): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    return this.exit;
  }
}

export function startDaemon(env: Record<string, string>, args: string[] = []): Daemon {
  if (!existsSync(ENTRY)) throw new Error(`${ENTRY} is missing: run npm run build first`);
  const child = spawn(process.execPath, [ENTRY, ...args], {
    env: {
      PATH: process.env.PATH ?? '',
      LOG_LEVEL: 'debug',
      METRICS_PORT: '0',
      DISCOVERY_INTERVAL: '0.5',
      LEASE: 'off', // one daemon at a time here; test/multinode proves the lease
      ...(process.env.DOCKER_HOST ? { DOCKER_HOST: process.env.DOCKER_HOST } : {}),
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    cwd: join(__dirname, '..', '..', 'test', 'e2e'), // no .env there: the test's env is the whole config
  });
  return new Daemon(child);
}

/** Runs the CLI to completion (for status, simulate, bad config). */
export function runCli(
  args: string[],
  env: Record<string, string> = {},
  timeoutMs = 60_000,
  cwd = join(__dirname, '..', '..', 'test', 'e2e'),
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [ENTRY, ...args], {
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
      cwd,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${args.join(' ')} did not finish in ${timeoutMs} ms`));
    }, timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      allOutput.push(stdout, stderr);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Labels that make a test service quick: evaluated every 1-2 s, following the newest reading. */
export function fastLabels(system: string, overrides: Record<string, string> = {}): Record<string, string> {
  return {
    'com.mass.anal_system': system,
    'com.mass.min_inst': '1',
    'com.mass.max_inst': '5',
    'com.mass.start_demand': '0',
    'com.mass.calculation_technique': 'moving average',
    'com.mass.m_a_sensitivity': '1',
    'com.mass.min_schedule_interval': '1',
    'com.mass.max_schedule_interval': '2',
    'com.mass.scale_down_delay': '4',
    ...overrides,
  };
}
