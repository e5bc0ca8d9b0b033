// Shapes of the MASS API answers the client reads (docs/MASS_API.md). Fields come and go
// between server builds, so each schema requires only what the client uses and keeps the rest
// (looseObject); a missing required field is a 'bad-shape' failure, never a silent zero.
// Every schema is built once, here; the readers only pick one.
import { z } from 'zod';

/**
 * A time as MASS wrote it. MASS writes ISO-8601; a build whose database connection is not
 * zone-aware writes the server's local time without an offset (`2018-01-15T14:05:08`). Such a
 * time is kept as the wall-clock reading taken as UTC (`zoned` false), for the reader to place
 * in the server's zone (server-time.ts): never in the daemon's own zone, as Date.parse would.
 */
export interface MassTime {
  ms: number;
  zoned: boolean;
}

export function readMassTime(text: string): MassTime {
  // Stryker disable next-line MethodExpression: a time with trailing spaces does not parse, trimmed or not
  const zoned = /(?:Z|[+-]\d\d:?\d\d)$/i.test(text.trim());
  return { ms: Date.parse(zoned ? text : `${text}Z`), zoned };
}

/** A MASS time in milliseconds since the epoch, a time without a zone taken as UTC. */
export function parseMassTime(text: string): number {
  return readMassTime(text).ms;
}

const massTime = z.string().transform((text, ctx): MassTime => {
  const time = readMassTime(text);
  if (Number.isNaN(time.ms)) {
    ctx.addIssue({ code: 'custom', message: `not an ISO-8601 time: ${JSON.stringify(text.slice(0, 40))}` });
    return z.NEVER;
  }
  return time;
});

const analysisSystemSchema = z.looseObject({
  // 24-hex id: the value filters take. The older server may not send it (it is not needed there).
  id: z.string().optional(),
  identifier_name: z.string().min(1),
  url: z.string().optional(),
});
export type AnalysisSystemItem = z.infer<typeof analysisSystemSchema>;

const analysisRequestSchema = z.looseObject({
  /** reference: an absolute URL like http://host/api/analysis_system/ssdeep/ */
  analysis_system: z.string(),
  /** missing on older builds, and then the request is due */
  schedule_after: massTime.nullish(),
});

const analysisSystemInstanceSchema = z.looseObject({
  uuid: z.string().optional(),
  url: z.string().optional(),
  analysis_system: z.string(),
  /** null until the instance first polls for work */
  last_seen: massTime.nullish(),
  /** computed by the 0.2 server; preferred over last_seen when present */
  is_online: z.boolean().optional(),
  /** computed by the 0.2 server; otherwise count scheduled_analysis/ items per instance */
  scheduled_analyses_count: z.number().int().nonnegative().optional(),
});
export type AnalysisSystemInstanceItem = z.infer<typeof analysisSystemInstanceSchema>;

const scheduledAnalysisSchema = z.looseObject({
  /** reference: an absolute URL like http://host/api/analysis_system_instance/<uuid>/ */
  analysis_system_instance: z.string(),
});

/** 0.2 answer to `?count`. */
export const countSchema = z.looseObject({
  count: z.number().int().nonnegative(),
});

/** 0.2 paged envelope. `next` only serves to detect a server that ignores `page`. */
function pagedEnvelope<T extends z.ZodType>(item: T) {
  return z.looseObject({
    page: z.number().int().positive(),
    page_count: z.number().int().nonnegative(),
    next: z.string().nullish(),
    results: z.array(item),
  });
}

/** Older server's page: only `results`, no paging information. */
function legacyPage<T extends z.ZodType>(item: T) {
  return z.looseObject({
    results: z.array(item),
  });
}

/** One whole page of each list the client reads, per dialect. */
export const pages = {
  '0.2': {
    systems: pagedEnvelope(analysisSystemSchema),
    instances: pagedEnvelope(analysisSystemInstanceSchema),
  },
  legacy: {
    systems: legacyPage(analysisSystemSchema),
    requests: legacyPage(analysisRequestSchema),
    instances: legacyPage(analysisSystemInstanceSchema),
    scheduled: legacyPage(scheduledAnalysisSchema),
  },
} as const;

/** The first analysis_system/ answer tells the dialect: only the 0.2 envelope has page_count. */
export function looksLike02Envelope(body: unknown): boolean {
  return typeof body === 'object' && body !== null && 'page_count' in body;
}
