// Every option of mass-autoscaler, with its default and what it does. Each can be set by the
// environment variable of the same name (a `.env` file in the working directory is read too).
// Service labels (com.mass.*) override the DEFAULT_* values per service.
//
// Each setting is declared once, here: name, default, one-line help and how its text is read.
// Everything else is derived from these two tables: the Config below, the label parser
// (src/labels.ts) and the README's option and label tables (`npm run docs` rewrites them; a test
// checks they match). The values a label takes are the policy's rules, in src/core/policy.ts.
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { isTimeZone } from './src/mass/server-time';
import {
  disorderedFields,
  POLICY_FIELDS,
  type FieldRule,
  type PolicyField,
  type PolicySettings,
} from './src/core/policy';

/** Seconds as text → milliseconds (whole), within [min, max] seconds. */
const seconds = (min: number, max: number) =>
  z
    .string()
    .trim()
    .regex(/^\d+(\.\d+)?$/, 'is not a number of seconds')
    .transform(Number)
    .pipe(z.number().min(min, `must be at least ${min}`).max(max, `must be at most ${max}`))
    .transform((s) => Math.round(s * 1000));

/** The usual spellings of yes and no; anything else is refused, never read as no. Empty is no. */
const bool = z
  .string()
  .trim()
  .toLowerCase()
  .pipe(
    z.enum(['true', 'false', '1', '0', 'yes', 'no', 'on', 'off', ''], {
      error: 'must be true or false (or 1/0, yes/no, on/off)',
    }),
  )
  .transform((v) => v === 'true' || v === '1' || v === 'yes' || v === 'on');

/** An option of the daemon itself. */
interface DaemonOption {
  /** the text used when the variable is not set; undefined = no default */
  default: string | undefined;
  /** one line for the README and for error messages */
  help: string;
  /** how the text is read; API_KEY and API_KEY_FILE are read together by readApiKey */
  schema?: z.ZodType<unknown, string>;
  secret?: boolean;
}

export const DAEMON_OPTIONS = {
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
    schema: z
      .string()
      .trim()
      .pipe(z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' }))
      .refine(
        (u) => !URL.canParse(u) || (!new URL(u).username && !new URL(u).password),
        'must not carry a user name or password (give the key in API_KEY)',
      )
      .transform((u) => (u.endsWith('/') ? u : `${u}/`)),
  },
  MASS_REQUEST_TIMEOUT: {
    default: '10',
    help: 'seconds to wait for one MASS API answer before the round has no reading',
    schema: seconds(0.1, 600),
  },
  MASS_PAGE_CONCURRENCY: {
    default: '4',
    help: 'list pages fetched at once from an older MASS server (which has no filters)',
    schema: z
      .string()
      .trim()
      .regex(/^\d+$/, 'must be a whole number')
      .transform(Number)
      .pipe(z.number().min(1, 'must be at least 1').max(64, 'must be at most 64')),
  },
  MASS_DIALECT: {
    default: 'auto',
    help: 'MASS server dialect: auto (detected every round), 0.2, or legacy (the older Flask server)',
    schema: z.enum(['auto', '0.2', 'legacy'], { error: 'must be auto, 0.2 or legacy' }),
  },
  MASS_TIME_ZONE: {
    default: 'UTC',
    help: "zone of the MASS server's clock, for the times it writes without an offset: an IANA name like Europe/Berlin",
    schema: z
      .string()
      .trim()
      .refine(isTimeZone, 'is not a time zone Node.js knows (an IANA name like Europe/Berlin, or UTC)'),
  },
  MASS_ONLINE_WINDOW: {
    default: '600',
    help: "seconds since its last poll for which MASS calls an instance online (the real server's 10 minutes)",
    schema: seconds(1, 86_400),
  },
  WORKING_GRACE: {
    default: '600',
    help: 'seconds an offline instance holding work still counts as working without a report (its batch may be long)',
    schema: seconds(1, 86_400),
  },
  RECOVER_STUCK_AFTER: {
    default: 'off',
    help: 'seconds an instance must be judged dead before it is deleted so MASS 0.2/0.3 requeues its work (admin key); off = only report',
    schema: z
      .string()
      .trim()
      .regex(/^(off|\d+(\.\d+)?)$/, 'must be off or a number of seconds')
      .transform((v) => (v === 'off' ? null : Math.round(Number(v) * 1000)))
      .refine((v) => v === null || v >= 1000, 'must be at least 1 (second)'),
  },
  WAKE_UP_INTERVAL: {
    default: 'auto',
    help: 'seconds between counts of every due request (one request, MASS 0.2/0.3) that evaluate services at once when the count jumps; auto = the smallest min_schedule_interval; off = none',
    schema: z
      .string()
      .trim()
      .regex(/^(auto|off|\d+(\.\d+)?)$/, 'must be auto, off or a number of seconds')
      .transform((v) => (v === 'auto' || v === 'off' ? v : Math.round(Number(v) * 1000)))
      .refine((v) => typeof v === 'string' || v >= 1000, 'must be at least 1 (second)'),
  },
  LOG_LEVEL: {
    default: 'info',
    help: 'pino log level: fatal, error, warn, info, debug, trace or silent',
    schema: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], {
      error: 'must be one of fatal, error, warn, info, debug, trace, silent',
    }),
  },
  DRY_RUN: {
    default: 'false',
    help: 'true: decide and log, never update a service (also 1, yes, on)',
    schema: bool,
  },
  METRICS_HOST: {
    default: '127.0.0.1',
    help: 'address where /metrics, /healthz and /status listen',
    schema: z.string().trim().min(1, 'is empty'),
  },
  METRICS_PORT: {
    default: '9464',
    help: 'port for /metrics, /healthz and /status; 0 = any free port (logged), off = no listener',
    schema: z
      .string()
      .trim()
      .regex(/^(off|\d+)$/, 'must be a port number, 0 (any free port) or off')
      .transform((v) => (v === 'off' ? null : Number(v)))
      .refine((v) => v === null || v <= 65535, 'must be at most 65535'),
  },
  DOCKER_HOST: {
    default: '',
    help: 'Docker Engine to talk to: unix:///path or tcp://host:port; empty = the local socket',
    schema: z
      .string()
      .trim()
      .regex(/^$|^(unix|tcp):\/\/./, 'must be unix:///path or tcp://host:port'),
  },
  DOCKER_TLS_VERIFY: {
    default: '',
    help: 'true (or 1, yes, on): use TLS with the certificates in DOCKER_CERT_PATH; empty, false or 0: no TLS',
    schema: bool,
  },
  DOCKER_CERT_PATH: {
    default: '',
    help: 'folder holding ca.pem, cert.pem and key.pem for DOCKER_TLS_VERIFY',
    schema: z.string(),
  },
  DISCOVERY_INTERVAL: {
    default: '2',
    help: 'seconds between looks at the list of services (new, changed, removed ones)',
    schema: seconds(0.2, 5),
  },
  LEASE: {
    default: 'mass-autoscaler-lease',
    help: 'name of the Swarm config that holds the lease: only its holder scales (off = no lease, for a single daemon)',
    schema: z
      .string()
      .trim()
      .regex(/^(off|[a-zA-Z0-9][a-zA-Z0-9_.-]{0,63})$/, 'must be off or a config name (letters, digits, _ . -)'),
  },
  LEASE_TTL: {
    default: '15',
    help: 'seconds without renewal after which a standby daemon takes the lease over (renewed every third of it)',
    schema: seconds(1, 300),
  },
  RETRY_MAX_DELAY: {
    default: '30',
    help: 'seconds: longest wait between retries while MASS or Docker is failing',
    schema: seconds(1, 3600),
  },
  HEALTH_MAX_AGE: {
    default: '45',
    help: 'seconds after the last good MASS or Docker round that /healthz turns 503',
    schema: seconds(1, 86_400),
  },
} as const satisfies Record<string, DaemonOption>;

/** A com.mass.* label and the DEFAULT_* option that gives its default. */
interface LabelSetting {
  label: string;
  option: string;
  default: string;
  /** what the label does; the values it takes are added from the policy's rules */
  help: string;
}

/** One row per policy field (src/core/policy.ts says which values each takes). */
export const LABEL_SETTINGS = {
  minInst: {
    label: 'com.mass.min_inst',
    option: 'DEFAULT_MIN_INST',
    default: '3',
    help: 'fewest replicas (may be 0)',
  },
  maxInst: {
    label: 'com.mass.max_inst',
    option: 'DEFAULT_MAX_INST',
    default: '15',
    help: 'most replicas',
  },
  startDemand: {
    label: 'com.mass.start_demand',
    option: 'DEFAULT_START_DEMAND',
    default: '3',
    help: 'demand assumed before the first reading',
  },
  technique: {
    label: 'com.mass.calculation_technique',
    option: 'DEFAULT_CALCULATION_TECHNIQUE',
    default: 'exponential moving average',
    help: 'how readings are smoothed',
  },
  window: {
    label: 'com.mass.m_a_sensitivity',
    option: 'DEFAULT_M_A_SENSITIVITY',
    default: '15',
    help: 'moving-average window, in readings',
  },
  weight: {
    label: 'com.mass.e_m_a_weighting',
    option: 'DEFAULT_E_M_A_WEIGHTING',
    default: '0.3',
    help: 'weight of the newest reading in the exponential moving average',
  },
  minScheduleInterval: {
    label: 'com.mass.min_schedule_interval',
    option: 'DEFAULT_MIN_SCHEDULE_INTERVAL',
    default: '10',
    help: 'seconds to the next evaluation when demand is moving',
  },
  maxScheduleInterval: {
    label: 'com.mass.max_schedule_interval',
    option: 'DEFAULT_MAX_SCHEDULE_INTERVAL',
    default: '30',
    help: 'seconds to the next evaluation when demand is steady (at least min_schedule_interval)',
  },
  demandDeltaThreshold: {
    label: 'com.mass.demand_delta_threshold',
    option: 'DEFAULT_DEMAND_DELTA_THRESHOLD',
    default: '0.3',
    help: 'relative change of smoothed demand that counts as moving',
  },
  requestsPerInstance: {
    label: 'com.mass.requests_per_instance',
    option: 'DEFAULT_REQUESTS_PER_INSTANCE',
    default: '1',
    help: 'analyses one replica is expected to carry',
  },
  scaleDownDelay: {
    label: 'com.mass.scale_down_delay',
    option: 'DEFAULT_SCALE_DOWN_DELAY',
    default: '120',
    help: 'seconds a lower target must hold before replicas are removed',
  },
  autoscale: {
    label: 'com.mass.autoscale',
    option: 'DEFAULT_AUTOSCALE',
    default: 'true',
    help: 'false pauses management of this service (it is left as it is)',
  },
  policy: {
    label: 'com.mass.policy',
    option: 'DEFAULT_POLICY',
    default: 'classic',
    help: 'how replicas are sized: classic (smoothed demand ÷ requests_per_instance) or work (work time against target_wait)',
  },
  targetWait: {
    label: 'com.mass.target_wait',
    option: 'DEFAULT_TARGET_WAIT',
    default: '180',
    help: 'work policy: seconds within which due work and new arrivals should start',
  },
  serviceTime: {
    label: 'com.mass.service_time',
    option: 'DEFAULT_SERVICE_TIME',
    default: 'auto',
    help: 'work policy: seconds one analysis takes; auto learns it from the work instances finish (60 s until then)',
  },
  startupTime: {
    label: 'com.mass.startup_time',
    option: 'DEFAULT_STARTUP_TIME',
    default: '45',
    help: 'work policy: seconds from adding a replica until MASS hands it work (start-up plus a scheduler run)',
  },
  scaleIn: {
    label: 'com.mass.scale_in',
    option: 'DEFAULT_SCALE_IN',
    default: 'idle',
    help: 'work policy: idle removes replicas only while no instance holds work; window after scale_down_delay (workers that drain on SIGTERM)',
  },
  longestHold: {
    label: 'com.mass.longest_hold',
    option: 'DEFAULT_LONGEST_HOLD',
    default: 'off',
    help: 'work policy, scale_in=idle: seconds a scale-in may be held by work; then one replica goes anyway, one per this time',
  },
  sizeAhead: {
    label: 'com.mass.size_ahead',
    option: 'DEFAULT_SIZE_AHEAD',
    default: 'off',
    help: 'work policy: on also sizes for the requests that become due within startup_time (one more count per system and round)',
  },
} as const satisfies { [K in PolicyField]: LabelSetting };

// ---- derived from the tables above ---------------------------------------------------------

type LabelOptionName = (typeof LABEL_SETTINGS)[PolicyField]['option'];
export type OptionName = keyof typeof DAEMON_OPTIONS | LabelOptionName;

/** Every option by its variable name: the daemon's, then each label's DEFAULT_*. */
export const OPTIONS: { readonly [N in OptionName]: { default: string | undefined; help: string } } = {
  ...DAEMON_OPTIONS,
  ...(Object.fromEntries(
    Object.values(LABEL_SETTINGS).map((s) => [
      s.option,
      { default: s.default, help: `default of ${s.label}: ${s.help}` },
    ]),
  ) as Record<LabelOptionName, { default: string; help: string }>),
};

const numberText = z
  .string()
  .trim()
  .min(1, 'is empty')
  .regex(/^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/, 'is not a number')
  .transform(Number);

/** How a label's text is read, from its field's rule. */
function ruleSchema(rule: FieldRule): z.ZodType<unknown, string> {
  switch (rule.kind) {
    case 'whole':
      return numberText.pipe(
        z
          .number()
          .int('must be a whole number')
          .min(rule.min, `must be at least ${rule.min}`)
          .max(rule.max, `must be at most ${rule.max}`),
      );
    case 'number':
      return numberText.pipe(
        rule.minExclusive
          ? z.number().gt(rule.min, `must be greater than ${rule.min}`).max(rule.max, `must be at most ${rule.max}`)
          : z.number().min(rule.min, `must be at least ${rule.min}`).max(rule.max, `must be at most ${rule.max}`),
      );
    case 'choice': {
      const [first, ...rest] = rule.values;
      return (
        z
          .string()
          .trim()
          .min(1, 'is empty')
          // Stryker disable next-line Regex: [_-] without + gives the same text, as \s+ then joins the spaces
          .transform((v) => v.toLowerCase().replace(/[_-]+/g, ' ').replace(/\s+/g, ' '))
          .pipe(
            z.enum([first!, ...rest], {
              error: `must be ${rule.values.map((v) => JSON.stringify(v)).join(' or ')}`,
            }),
          )
      );
    }
    case 'flag':
      return z
        .string()
        .trim()
        .min(1, 'is empty')
        .transform((v) => v.toLowerCase())
        .pipe(z.enum(['true', 'false'], { error: 'must be true or false' }))
        .transform((v) => v === 'true');
    case 'seconds-or': {
      const seconds = ruleSchema({ ...rule, kind: 'number' });
      const word = rule.word;
      return z
        .string()
        .trim()
        .min(1, 'is empty')
        .transform((v, ctx): number | string => {
          if (v.toLowerCase() === word) return word;
          const parsed = seconds.safeParse(v);
          if (parsed.success) return parsed.data as number;
          // Stryker disable next-line OptionalChaining,StringLiteral: a failed zod parse always has an issue
          const message = parsed.error.issues[0]?.message ?? 'is not valid';
          ctx.addIssue({
            // Stryker disable next-line StringLiteral: only the issue's message is read, never its code
            code: 'custom',
            message: message === 'is not a number' ? `must be ${word} or a number of seconds` : message,
          });
          return z.NEVER;
        });
    }
  }
}

/** How each label's text becomes a value; built once. Also reads the DEFAULT_* options. */
export const LABEL_VALUE_SCHEMAS = Object.fromEntries(
  Object.entries(POLICY_FIELDS).map(([field, rule]) => [field, ruleSchema(rule)]),
) as unknown as { readonly [K in PolicyField]: z.ZodType<PolicySettings[K], string> };

/** The values a rule allows, in words (the README's label table). */
export function describeRule(rule: FieldRule): string {
  switch (rule.kind) {
    case 'whole':
      return `a whole number from ${rule.min} to ${rule.max}`;
    case 'number':
      return rule.minExclusive
        ? `a number greater than ${rule.min}, at most ${rule.max}`
        : `a number from ${rule.min} to ${rule.max}`;
    case 'choice':
      return rule.values.map((v) => `\`${v}\``).join(' or ');
    case 'flag':
      return '`true` or `false`';
    case 'seconds-or':
      return `\`${rule.word}\` or seconds, ${rule.minExclusive ? `greater than ${rule.min}` : `from ${rule.min}`} to ${rule.max}`;
  }
}

/** Rules between fields, broken by settings each valid on its own. */
export function orderProblems(p: PolicySettings): { labels: string; value: string; problem: string }[] {
  return disorderedFields(p).map(([low, high]) => {
    const [lowLabel, highLabel] = [LABEL_SETTINGS[low].label, LABEL_SETTINGS[high].label];
    // Stryker disable next-line Regex: every label starts with com.mass., so the anchor changes nothing
    const short = (label: string) => label.replace(/^com\.mass\./, '');
    return {
      labels: `${lowLabel} / ${highLabel}`,
      value: `${p[low]} > ${p[high]}`,
      problem: `${short(lowLabel)} must not be greater than ${short(highLabel)}`,
    };
  });
}

export interface Config {
  apiKey: string;
  massServerAddress: string;
  massRequestTimeoutMs: number;
  massPageConcurrency: number;
  massDialect: 'auto' | '0.2' | 'legacy';
  massTimeZone: string;
  /** MASS's online window, ms */
  massOnlineWindowMs: number;
  /** how long an offline instance with work counts as working without a report, ms */
  workingGraceMs: number;
  /** delete instances judged dead this long (ms); null = only report */
  recoverStuckAfterMs: number | null;
  /** the wake-up's interval (ms), 'auto' (the smallest min_schedule_interval) or 'off' */
  wakeUpInterval: number | 'auto' | 'off';
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  dryRun: boolean;
  metrics: { host: string; port: number } | null;
  docker: { host: string; tlsVerify: boolean; certPath: string };
  discoveryIntervalMs: number;
  retryMaxDelayMs: number;
  healthMaxAgeMs: number;
  /** the Swarm config that holds the lease; null = no lease (LEASE=off) */
  lease: { name: string; ttlMs: number } | null;
  defaults: PolicySettings;
}

export type ConfigResult = { ok: true; config: Config } | { ok: false; problems: string[] };

type Env = Record<string, string | undefined>;
type ParsedOptionName = {
  [N in keyof typeof DAEMON_OPTIONS]: (typeof DAEMON_OPTIONS)[N] extends { schema: z.ZodType } ? N : never;
}[keyof typeof DAEMON_OPTIONS];
type ValueOfOption<N extends ParsedOptionName> = z.output<(typeof DAEMON_OPTIONS)[N]['schema']>;

function problemOf(name: OptionName, value: string | undefined, error: z.ZodError): string {
  // Stryker disable next-line OptionalChaining,StringLiteral: a failed zod parse always has an issue
  return `${name}=${JSON.stringify(value)} ${error.issues[0]?.message ?? 'is not valid'} (${OPTIONS[name].help})`;
}

/**
 * Builds the configuration from `env` (usually process.env after dotenv). Every problem is
 * collected and returned together, each naming its variable.
 */
export function loadConfig(
  env: Env,
  readFile: (path: string) => string = (p) => readFileSync(p, 'utf8'),
): ConfigResult {
  const problems: string[] = [];
  const values = new Map<ParsedOptionName, unknown>();
  for (const name of Object.keys(DAEMON_OPTIONS) as (keyof typeof DAEMON_OPTIONS)[]) {
    const option: DaemonOption = DAEMON_OPTIONS[name];
    if (option.schema === undefined) continue;
    // Stryker disable next-line StringLiteral: every option read by a schema has a default
    const value = env[name] ?? option.default ?? '';
    const result = option.schema.safeParse(value);
    if (result.success) values.set(name as ParsedOptionName, result.data);
    else problems.push(problemOf(name, value, result.error));
  }
  const apiKey = readApiKey(env, readFile, problems);
  const defaults = parseDefaults(env, problems);
  // Stryker disable next-line ConditionalExpression: narrows the types; both add a problem whenever undefined
  if (problems.length > 0 || apiKey === undefined || defaults === undefined) return { ok: false, problems };

  const get = <N extends ParsedOptionName>(name: N) => values.get(name) as ValueOfOption<N>;
  const port = get('METRICS_PORT');
  return {
    ok: true,
    config: {
      apiKey,
      massServerAddress: get('MASS_SERVER_ADDRESS'),
      massRequestTimeoutMs: get('MASS_REQUEST_TIMEOUT'),
      massPageConcurrency: get('MASS_PAGE_CONCURRENCY'),
      massDialect: get('MASS_DIALECT'),
      massTimeZone: get('MASS_TIME_ZONE'),
      massOnlineWindowMs: get('MASS_ONLINE_WINDOW'),
      workingGraceMs: get('WORKING_GRACE'),
      recoverStuckAfterMs: get('RECOVER_STUCK_AFTER'),
      wakeUpInterval: get('WAKE_UP_INTERVAL'),
      logLevel: get('LOG_LEVEL'),
      dryRun: get('DRY_RUN'),
      metrics: port === null ? null : { host: get('METRICS_HOST'), port },
      docker: { host: get('DOCKER_HOST'), tlsVerify: get('DOCKER_TLS_VERIFY'), certPath: get('DOCKER_CERT_PATH') },
      discoveryIntervalMs: get('DISCOVERY_INTERVAL'),
      retryMaxDelayMs: get('RETRY_MAX_DELAY'),
      healthMaxAgeMs: get('HEALTH_MAX_AGE'),
      lease: get('LEASE') === 'off' ? null : { name: get('LEASE'), ttlMs: get('LEASE_TTL') },
      defaults,
    },
  };
}

/**
 * The label defaults (DEFAULT_* options) alone; used by the daemon and by `simulate`.
 * Problems are appended to `problems`; undefined when there are any.
 */
export function parseDefaults(env: Env, problems: string[]): PolicySettings | undefined {
  const before = problems.length;
  const defaults: Record<string, unknown> = {};
  for (const field of Object.keys(LABEL_SETTINGS) as PolicyField[]) {
    const { option, default: fallback } = LABEL_SETTINGS[field];
    const value = env[option] ?? fallback;
    const result = LABEL_VALUE_SCHEMAS[field].safeParse(value);
    if (result.success) defaults[field] = result.data;
    else problems.push(problemOf(option, value, result.error));
  }
  // Stryker disable next-line ConditionalExpression,BlockStatement: order rules on incomplete defaults find nothing
  if (problems.length > before) return undefined;
  for (const p of orderProblems(defaults as PolicySettings))
    problems.push(`DEFAULT_* options: ${p.problem} (${p.value})`);
  return problems.length > before ? undefined : (defaults as PolicySettings);
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
    if (key === '') {
      problems.push(`API_KEY_FILE=${JSON.stringify(file)} is empty`);
      return undefined;
    }
    return key;
  }
  if (!direct) {
    problems.push(`API_KEY is not set (${OPTIONS.API_KEY.help})`);
    return undefined;
  }
  return direct;
}
