// The way the original Python autoscaler read demand, as the yardstick for MassClient: walk the
// full lists one page after another and count per system on the client side.
// - 0.2 server: GET analysis_request/ and follow `next` to the end; the same for
//   analysis_system_instance/ (whose items carry is_online and scheduled_analyses_count).
// - older server: `?page=N` until 404, sequentially, for analysis_request/,
//   analysis_system_instance/ and scheduled_analysis/ (its instances carry no count).
// Items are counted page by page and dropped, like mass_api_client's generators; the reader does
// no schema validation (less work per page than MassClient, so the comparison favours it).
import axios, { type AxiosInstance } from 'axios';

export interface NaiveDemand {
  due: number;
  notDue: number;
  scheduledOnline: number;
  stuckOffline: number;
}

interface Item {
  [key: string]: unknown;
}

const ONLINE_WINDOW_MS = 10 * 60_000;

export class NaiveReader {
  readonly stats = { requests: 0 };
  private readonly http: AxiosInstance;

  constructor(
    baseUrl: string,
    apiKey: string,
    private readonly dialect: '0.2' | 'legacy',
    timeoutMs = 30_000,
  ) {
    this.http = axios.create({
      baseURL: baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`,
      timeout: timeoutMs,
      headers: { Authorization: `APIKEY ${apiKey}`, Accept: 'application/json' },
      validateStatus: () => true,
    });
  }

  async readDemand(systems: readonly string[], now: Date): Promise<Map<string, NaiveDemand>> {
    const at = now.getTime();
    const out = new Map<string, NaiveDemand>(
      systems.map((s) => [s, { due: 0, notDue: 0, scheduledOnline: 0, stuckOffline: 0 }]),
    );
    await this.eachPage('analysis_request/', (items) => {
      for (const r of items) {
        const d = out.get(systemOf(r['analysis_system']));
        if (!d) continue;
        const after = r['schedule_after'];
        if (typeof after !== 'string' || Date.parse(after) <= at) d.due += 1;
        else d.notDue += 1;
      }
    });
    const uncounted = new Map<string, { system: string; online: boolean }>();
    await this.eachPage('analysis_system_instance/', (items) => {
      for (const i of items) {
        const system = systemOf(i['analysis_system']);
        const d = out.get(system);
        if (!d) continue;
        const lastSeen = typeof i['last_seen'] === 'string' ? Date.parse(i['last_seen']) : null;
        const online =
          typeof i['is_online'] === 'boolean' ? i['is_online'] : lastSeen !== null && at - lastSeen < ONLINE_WINDOW_MS;
        const count = i['scheduled_analyses_count'];
        if (typeof count === 'number') {
          if (online) d.scheduledOnline += count;
          else d.stuckOffline += count;
        } else {
          uncounted.set(String(i['url']), { system, online });
        }
      }
    });
    if (uncounted.size > 0) {
      await this.eachPage('scheduled_analysis/', (items) => {
        for (const a of items) {
          const owner = uncounted.get(String(a['analysis_system_instance']));
          if (!owner) continue;
          const d = out.get(owner.system)!;
          if (owner.online) d.scheduledOnline += 1;
          else d.stuckOffline += 1;
        }
      });
    }
    return out;
  }

  /** Every page of a list, one after another. */
  private async eachPage(collection: string, onItems: (items: Item[]) => void): Promise<void> {
    if (this.dialect === '0.2') {
      let url: string | null = collection;
      while (url !== null) {
        const body = await this.get(url);
        if (body === null) throw new Error(`GET ${url}: 404 while following next`);
        onItems(body['results'] as Item[]);
        url = typeof body['next'] === 'string' ? body['next'] : null;
      }
      return;
    }
    for (let page = 1; ; page += 1) {
      const body = await this.get(`${collection}?page=${page}`);
      if (body === null) return;
      const results = body['results'] as Item[];
      if (results.length === 0) return;
      onItems(results);
    }
  }

  /** Parsed JSON of a 200 answer; null for 404. */
  private async get(url: string): Promise<Item | null> {
    this.stats.requests += 1;
    const res = await this.http.get<Item>(url);
    if (res.status === 404) return null;
    if (res.status !== 200) throw new Error(`GET ${url}: HTTP ${res.status}`);
    return res.data;
  }
}

/** http://host/api/analysis_system/ssdeep/ → ssdeep */
function systemOf(ref: unknown): string {
  const match = /analysis_system\/([^/?#]+)\/?$/.exec(String(ref));
  return match?.[1] !== undefined ? decodeURIComponent(match[1]) : '';
}
