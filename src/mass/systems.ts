// The system index: analysis_system/ read once per round, identifier names → ids and the
// references items carry (`http://host/api/analysis_system/ssdeep/`). Its first answer also
// tells the server's dialect, at no extra request.
import { MassError } from './errors';
import { type Round } from './demand';
import { pages02, pagesLegacy } from './paging';
import { type AnalysisSystemItem, looksLike02Envelope, pages } from './schemas';
import { query } from './transport';

export type MassDialect = '0.2' | 'legacy';

export function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

export class SystemIndex {
  private readonly byUrl = new Map<string, string>();
  private readonly byId = new Map<string, string>();
  private readonly cache = new Map<string, string | undefined>();
  /** the last system listed under each identifier name */
  readonly byName = new Map<string, AnalysisSystemItem>();
  /** every system listed under a name that more than one system carries, in listing order */
  readonly duplicates = new Map<string, AnalysisSystemItem[]>();

  add(system: AnalysisSystemItem): void {
    const earlier = this.byName.get(system.identifier_name);
    if (earlier !== undefined) {
      const all = this.duplicates.get(system.identifier_name) ?? [earlier];
      all.push(system);
      this.duplicates.set(system.identifier_name, all);
    }
    this.byName.set(system.identifier_name, system);
    if (system.url) this.byUrl.set(system.url, system.identifier_name);
    if (system.id) this.byId.set(system.id, system.identifier_name);
  }

  /** The identifier name a reference points to; undefined when it names no listed system. */
  nameOf(ref: string): string | undefined {
    if (this.cache.has(ref)) return this.cache.get(ref);
    let name = this.byUrl.get(ref) ?? this.byId.get(ref);
    if (name === undefined) {
      const match = /analysis_system\/([^/?#]+)\/?(?:[?#].*)?$/.exec(ref);
      if (match?.[1] !== undefined) {
        const candidate = safeDecode(match[1]);
        if (this.byName.has(candidate)) name = candidate;
      }
    }
    this.cache.set(ref, name);
    return name;
  }
}

/**
 * Every page of analysis_system/, and the dialect: `wanted` 'auto' takes it from the first
 * answer (only the 0.2 envelope has page_count); a dialect set to 0.2 against a server that
 * answers otherwise is bad-shape, never a guess.
 */
export async function listSystems(
  round: Round,
  wanted: 'auto' | MassDialect,
  onDialect: (dialect: MassDialect) => void,
): Promise<{ index: SystemIndex; dialect: MassDialect }> {
  const pathFor = (page: number) =>
    `analysis_system/?${query([
      ['page', page],
      ['per_page', round.perPage],
    ])}`;
  const first = await round.fetch(pathFor(1), false);
  const is02 = looksLike02Envelope(first);
  const dialect: MassDialect = wanted === 'auto' ? (is02 ? '0.2' : 'legacy') : wanted;
  onDialect(dialect);
  if (dialect === '0.2' && !is02) {
    throw new MassError(
      'bad-shape',
      `GET ${pathFor(1)}: expected the 0.2 paged envelope (page_count) but got none; an older MASS server? (dialect is set to 0.2)`,
    );
  }
  const index = new SystemIndex();
  const common = { fetch: round.fetch, width: round.width, pathFor, firstBody: first };
  if (dialect === '0.2') {
    await pages02({
      ...common,
      envelope: pages['0.2'].systems,
      onItems: (items) => items.forEach((s) => index.add(s)),
    });
  } else {
    await pagesLegacy({
      ...common,
      page: pages.legacy.systems,
      count: (items) => () => items.forEach((s) => index.add(s)),
    });
  }
  return { index, dialect };
}
