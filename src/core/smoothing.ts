// Smoothing of demand readings. The state is kept unclamped (bounds apply to the output of the
// decision only), and both averages are kept up to date so that a label switching the technique
// takes effect at once, without a cold start.

export type Technique = 'moving average' | 'exponential moving average';

export interface SmoothingParams {
  technique: Technique;
  /** moving-average window, in readings */
  window: number;
  /** weight of the newest reading in the exponential moving average, 0 < w <= 1 */
  weight: number;
}

export interface SmoothingState {
  /** the newest readings, oldest first, at most `window` of them */
  recent: number[];
  ema: number;
}

/** The state before the first reading: one pseudo-reading of `start`. */
export function startSmoothing(start: number): SmoothingState {
  return { recent: [start], ema: start };
}

export function addReading(state: SmoothingState, reading: number, params: SmoothingParams): SmoothingState {
  const recent = [...state.recent, reading];
  return {
    recent: recent.slice(Math.max(0, recent.length - params.window)),
    ema: params.weight * reading + (1 - params.weight) * state.ema,
  };
}

export function smoothedValue(state: SmoothingState, params: SmoothingParams): number {
  if (params.technique === 'exponential moving average') return state.ema;
  const window = state.recent.slice(Math.max(0, state.recent.length - params.window));
  return window.reduce((sum, value) => sum + value, 0) / window.length;
}
