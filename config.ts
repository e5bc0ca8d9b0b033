// Every option of mass-autoscaler, with its default and what it does. Each can be set by the
// environment variable of the same name (a `.env` file in the working directory is read too).
// Service labels (com.mass.*) override the DEFAULT_* values per service.
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { crossChecks, LABEL_NAMES, LABEL_VALUE_SCHEMAS, type PolicyDefaults } from './src/labels';

interface Option {
  default: string | undefined;
  /** one line for the README and for error messages */
  help: string;
  secret?: boolean;
}

export const OPTIONS = {
  API_KEY: {
    default: undefined,
    help: 'MASS API key (required unless API_KEY_FILE is set; never logged)',
    secret: true,
  },
  API_KEY_FILE: {
    default: undefined,
    help: 'file holding the MASS API key, e.g. a Docker secret at /run/secrets/mass_api_key',
  },
  MASS_SERVER_ADDRESS: {
    default: 'http://localhost:8000/api/',
    help: 'base URL of the MASS API, with or without the trailing /',
  },
  MASS_REQUEST_TIMEOUT: {
    default: '10',
    help: 'seconds to wait for one MASS API answer before the round has no reading',
  },
  MASS_PAGE_CONCURRENCY: {
    default: '4',
    help: 'list pages fetched at once from an older MASS server (which has no filters)',
  },
  MASS_DIALECT: {
    default: 'auto',
    help: 'MASS server dialect: auto (detected every round), 0.2, or legacy (the older Flask server)',
  },
  LOG_LEVEL: { default: 'info', help: 'pino log level: fatal, error, warn, info, debug, trace or silent' },
  DRY_RUN: { default: 'false', help: 'true: decide and log, never update a service' },
  METRICS_HOST: { default: '127.0.0.1', help: 'address where /metrics, /healthz and /status listen' },
  METRICS_PORT: {
    default: '9464',
    help: 'port for /metrics, /healthz and /status; 0 = any free port (logged), off = no listener',
  },
  DOCKER_HOST: {
    default: '',
    help: 'Docker Engine to talk to: unix:///path or tcp://host:port; empty = the local socket',
  },
  DOCKER_TLS_VERIFY: { default: '', help: 'non-empty (e.g. 1): use TLS with the certificates in DOCKER_CERT_PATH' },
  DOCKER_CERT_PATH: { default: '', help: 'folder holding ca.pem, cert.pem and key.pem for DOCKER_TLS_VERIFY' },
  DISCOVERY_INTERVAL: {
    default: '2',
    help: 'seconds between looks at the list of services (new, changed, removed ones)',
  },
  LEASE: {
    default: 'mass-autoscaler-lease',
    help: 'name of the Swarm config that holds the lease: only its holder scales (off = no lease, for a single daemon)',
  },
  LEASE_TTL: {
    default: '15',
    help: 'seconds without renewal after which a standby daemon takes the lease over (renewed every third of it)',
  },
  RETRY_MAX_DELAY: { default: '30', help: 'seconds: longest wait between retries while MASS or Docker is failing' },
  HEALTH_MAX_AGE: { default: '45', help: 'seconds after the last good MASS or Docker round that /healthz turns 503' },
  DEFAULT_MIN_INST: { default: '3', help: `default of ${LABEL_NAMES.minInst}: fewest replicas (may be 0)` },
  DEFAULT_MAX_INST: { default: '15', help: `default of ${LABEL_NAMES.maxInst}: most replicas` },
  DEFAULT_START_DEMAND: {
    default: '3',
    help: `default of ${LABEL_NAMES.startDemand}: demand assumed before the first reading`,
  },
  DEFAULT_CALCULATION_TECHNIQUE: {
    default: 'exponential moving average',
    help: `default of ${LABEL_NAMES.technique}: moving average or exponential moving average`,
  },
  DEFAULT_M_A_SENSITIVITY: {
    default: '15',
    help: `default of ${LABEL_NAMES.window}: moving-average window, in readings`,
  },
  DEFAULT_E_M_A_WEIGHTING: {
    default: '0.3',
    help: `default of ${LABEL_NAMES.weight}: weight of the newest reading, 0 < w <= 1`,
  },
  DEFAULT_MIN_SCHEDULE_INTERVAL: {
    default: '10',
    help: `default of ${LABEL_NAMES.minScheduleInterval}: seconds to the next evaluation when demand is moving`,
  },
  DEFAULT_MAX_SCHEDULE_INTERVAL: {
    default: '30',
    help: `default of ${LABEL_NAMES.maxScheduleInterval}: seconds to the next evaluation when demand is steady`,
  },
  DEFAULT_DEMAND_DELTA_THRESHOLD: {
    default: '0.3',
    help: `default of ${LABEL_NAMES.demandDeltaThreshold}: relative change of smoothed demand that counts as moving`,
  },
  DEFAULT_REQUESTS_PER_INSTANCE: {
    default: '1',
    help: `default of ${LABEL_NAMES.requestsPerInstance}: analyses one replica is expected to carry`,
  },
  DEFAULT_SCALE_DOWN_DELAY: {
    default: '120',
    help: `default of ${LABEL_NAMES.scaleDownDelay}: seconds a lower target must hold before replicas are removed`,
  },
  DEFAULT_AUTOSCALE: {
    default: 'true',
    help: `default of ${LABEL_NAMES.autoscale}: false leaves services as they are`,
  },
} as const satisfies Record<string, Option>;

export type OptionName = keyof typeof OPTIONS;

/** Which DEFAULT_* option gives the default of which label. */
const DEFAULT_OPTION: { readonly [K in keyof PolicyDefaults]: OptionName } = {
  minInst: 'DEFAULT_MIN_INST',
  maxInst: 'DEFAULT_MAX_INST',
  startDemand: 'DEFAULT_START_DEMAND',
  technique: 'DEFAULT_CALCULATION_TECHNIQUE',
  window: 'DEFAULT_M_A_SENSITIVITY',
  weight: 'DEFAULT_E_M_A_WEIGHTING',
  minScheduleInterval: 'DEFAULT_MIN_SCHEDULE_INTERVAL',
  maxScheduleInterval: 'DEFAULT_MAX_SCHEDULE_INTERVAL',
  demandDeltaThreshold: 'DEFAULT_DEMAND_DELTA_THRESHOLD',
  requestsPerInstance: 'DEFAULT_REQUESTS_PER_INSTANCE',
  scaleDownDelay: 'DEFAULT_SCALE_DOWN_DELAY',
  autoscale: 'DEFAULT_AUTOSCALE',
};

export interface Config {
  apiKey: string;
  massServerAddress: string;
  massRequestTimeoutMs: number;
  massPageConcurrency: number;
  massDialect: 'auto' | '0.2' | 'legacy';
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  dryRun: boolean;
  metrics: { host: string; port: number } | null;
  docker: { host: string; tlsVerify: boolean; certPath: string };
  discoveryIntervalMs: number;
  retryMaxDelayMs: number;
  healthMaxAgeMs: number;
  lease: { name: string; ttlMs: number } | null;
  defaults: PolicyDefaults;
}

export type ConfigResult = { ok: true; config: Config } | { ok: false; problems: string[] };

const seconds = (min: number, max: number) =>
  z
    .string()
    .trim()
    .regex(/^\d+(\.\d+)?$/, 'is not a number of seconds')
    .transform(Number)
    .pipe(z.number().min(min, `must be at least ${min}`).max(max, `must be at most ${max}`));

const bool = z
  .string()
  .trim()
  .toLowerCase()
  .pipe(z.enum(['true', 'false', '1', '0', 'yes', 'no', ''], { error: 'must be true or false' }))
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

const SCHEMAS = {
  MASS_SERVER_ADDRESS: z
    .string()
    .trim()
    .pipe(z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' }))
    .refine(
      (u) => !URL.canParse(u) || (!new URL(u).username && !new URL(u).password),
      'must not carry a user name or password (give the key in API_KEY)',
    )
    .transform((u) => (u.endsWith('/') ? u : `${u}/`)),
  MASS_REQUEST_TIMEOUT: seconds(0.1, 600),
  MASS_PAGE_CONCURRENCY: z
    .string()
    .trim()
    .regex(/^\d+$/, 'must be a whole number')
    .transform(Number)
    .pipe(z.number().min(1, 'must be at least 1').max(64, 'must be at most 64')),
  MASS_DIALECT: z.enum(['auto', '0.2', 'legacy'], { error: 'must be auto, 0.2 or legacy' }),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], {
    error: 'must be one of fatal, error, warn, info, debug, trace, silent',
  }),
  DRY_RUN: bool,
  METRICS_HOST: z.string().trim().min(1, 'is empty'),
  METRICS_PORT: z
    .string()
    .trim()
    .regex(/^(off|\d+)$/, 'must be a port number, 0 (any free port) or off')
    .transform((v) => (v === 'off' ? null : Number(v)))
    .refine((v) => v === null || v <= 65535, 'must be at most 65535'),
  DOCKER_HOST: z
    .string()
    .trim()
    .regex(/^$|^(unix|tcp):\/\/./, 'must be unix:///path or tcp://host:port'),
  DOCKER_TLS_VERIFY: z.string().transform((v) => v.trim() !== '' && v.trim() !== '0'),
  DOCKER_CERT_PATH: z.string(),
  DISCOVERY_INTERVAL: seconds(0.2, 5),
  RETRY_MAX_DELAY: seconds(1, 3600),
  HEALTH_MAX_AGE: seconds(1, 86_400),
  LEASE: z
    .string()
    .trim()
    .regex(/^(off|[a-zA-Z0-9][a-zA-Z0-9_.-]{0,63})$/, 'must be off or a config name (letters, digits, _ . -)'),
  LEASE_TTL: seconds(1, 300),
} as const;

type Env = Record<string, string | undefined>;

/**
 * Builds the configuration from `env` (usually process.env after dotenv). Every problem is
 * collected and returned together, each naming its variable.
 */
export function loadConfig(
  env: Env,
  readFile: (path: string) => string = (p) => readFileSync(p, 'utf8'),
): ConfigResult {
  const problems: string[] = [];
  const raw = (name: OptionName): string => env[name] ?? OPTIONS[name].default ?? '';
  function parse<T>(name: keyof typeof SCHEMAS, schema: z.ZodType<T, string>): T | undefined {
    const value = raw(name);
    const result = schema.safeParse(value);
    if (result.success) return result.data;
    problems.push(
      `${name}=${JSON.stringify(value)} ${result.error.issues[0]?.message ?? 'is not valid'} (${OPTIONS[name].help})`,
    );
    return undefined;
  }

  const apiKey = readApiKey(env, readFile, problems);
  const parsed = {
    massServerAddress: parse('MASS_SERVER_ADDRESS', SCHEMAS.MASS_SERVER_ADDRESS),
    timeout: parse('MASS_REQUEST_TIMEOUT', SCHEMAS.MASS_REQUEST_TIMEOUT),
    concurrency: parse('MASS_PAGE_CONCURRENCY', SCHEMAS.MASS_PAGE_CONCURRENCY),
    dialect: parse('MASS_DIALECT', SCHEMAS.MASS_DIALECT),
    logLevel: parse('LOG_LEVEL', SCHEMAS.LOG_LEVEL),
    dryRun: parse('DRY_RUN', SCHEMAS.DRY_RUN),
    metricsHost: parse('METRICS_HOST', SCHEMAS.METRICS_HOST),
    metricsPort: parse('METRICS_PORT', SCHEMAS.METRICS_PORT),
    dockerHost: parse('DOCKER_HOST', SCHEMAS.DOCKER_HOST),
    tlsVerify: parse('DOCKER_TLS_VERIFY', SCHEMAS.DOCKER_TLS_VERIFY),
    certPath: parse('DOCKER_CERT_PATH', SCHEMAS.DOCKER_CERT_PATH),
    discovery: parse('DISCOVERY_INTERVAL', SCHEMAS.DISCOVERY_INTERVAL),
    retryMax: parse('RETRY_MAX_DELAY', SCHEMAS.RETRY_MAX_DELAY),
    healthMaxAge: parse('HEALTH_MAX_AGE', SCHEMAS.HEALTH_MAX_AGE),
    lease: parse('LEASE', SCHEMAS.LEASE),
    leaseTtl: parse('LEASE_TTL', SCHEMAS.LEASE_TTL),
  };

  const defaults = parseDefaults(env, problems);

  if (problems.length > 0 || apiKey === undefined) return { ok: false, problems };
  const p = parsed as { [K in keyof typeof parsed]: NonNullable<(typeof parsed)[K]> } & { metricsPort: number | null };
  return {
    ok: true,
    config: {
      apiKey,
      massServerAddress: p.massServerAddress,
      massRequestTimeoutMs: p.timeout * 1000,
      massPageConcurrency: p.concurrency,
      massDialect: p.dialect,
      logLevel: p.logLevel,
      dryRun: p.dryRun,
      metrics: p.metricsPort === null ? null : { host: p.metricsHost, port: p.metricsPort },
      docker: { host: p.dockerHost, tlsVerify: p.tlsVerify, certPath: p.certPath },
      discoveryIntervalMs: p.discovery * 1000,
      retryMaxDelayMs: p.retryMax * 1000,
      healthMaxAgeMs: p.healthMaxAge * 1000,
      lease: p.lease === 'off' ? null : { name: p.lease, ttlMs: p.leaseTtl * 1000 },
      defaults: defaults!,
    },
  };
}

/**
 * The label defaults (DEFAULT_* options) alone; used by the daemon and by `simulate`.
 * Problems are appended to `problems`; undefined when there are any.
 */
export function parseDefaults(env: Env, problems: string[]): PolicyDefaults | undefined {
  const before = problems.length;
  const defaults: Record<string, unknown> = {};
  for (const key of Object.keys(DEFAULT_OPTION) as (keyof PolicyDefaults)[]) {
    const name = DEFAULT_OPTION[key];
    const value = env[name] ?? OPTIONS[name].default;
    const result = LABEL_VALUE_SCHEMAS[key].safeParse(value);
    if (result.success) defaults[key] = result.data;
    else
      problems.push(
        `${name}=${JSON.stringify(value)} ${result.error.issues[0]?.message ?? 'is not valid'} (${OPTIONS[name].help})`,
      );
  }
  if (problems.length > before) return undefined;
  for (const p of crossChecks(defaults as unknown as PolicyDefaults))
    problems.push(`DEFAULT_* options: ${p.problem} (${p.value})`);
  return problems.length > before ? undefined : (defaults as unknown as PolicyDefaults);
}

function readApiKey(env: Env, readFile: (path: string) => string, problems: string[]): string | undefined {
  const direct = env.API_KEY?.trim();
  const file = env.API_KEY_FILE?.trim();
  if (direct && file) {
    problems.push('API_KEY and API_KEY_FILE are both set: set only one of them');
    return undefined;
  }
  if (file) {
    let text: string;
    try {
      text = readFile(file);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? 'read error';
      problems.push(`API_KEY_FILE=${JSON.stringify(file)} cannot be read (${code})`);
      return undefined;
    }
    const key = text.trim();
    if (key === '') problems.push(`API_KEY_FILE=${JSON.stringify(file)} is empty`);
    return key === '' ? undefined : key;
  }
  if (!direct) {
    problems.push(`API_KEY is not set (${OPTIONS.API_KEY.help})`);
    return undefined;
  }
  return direct;
}
