// Whether the daemon is doing its job: pure, `now` passed in.
import type { HealthSnapshot } from './loop/status-view';

export interface HealthVerdict {
  ok: boolean;
  reasons: string[];
}

export function healthVerdict(h: HealthSnapshot, now: number, maxAgeMs: number): HealthVerdict {
  const reasons: string[] = [];
  if (h.lastDockerOkAt === null) reasons.push('no successful Docker round yet');
  else if (now - h.lastDockerOkAt > maxAgeMs) {
    reasons.push(
      `no successful Docker round for ${Math.round((now - h.lastDockerOkAt) / 1000)}s${h.dockerError ? ` (${h.dockerError})` : ''}`,
    );
  }
  if (!h.massIdle) {
    if (h.lastMassOkAt === null)
      reasons.push(`no successful MASS reading yet${h.massError ? ` (${h.massError})` : ''}`);
    else if (now - h.lastMassOkAt > maxAgeMs) {
      reasons.push(
        `no successful MASS reading for ${Math.round((now - h.lastMassOkAt) / 1000)}s${h.massError ? ` (${h.massError})` : ''}`,
      );
    }
  }
  if (h.updatesFailingSince !== null && now - h.updatesFailingSince > maxAgeMs) {
    reasons.push(
      `only failed service updates for ${Math.round((now - h.updatesFailingSince) / 1000)}s${h.updateError ? ` (${h.updateError})` : ''}`,
    );
  }
  return { ok: reasons.length === 0, reasons };
}
