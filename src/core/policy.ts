import type { Technique } from './smoothing';

/** The validated com.mass.* labels of one service (times in seconds). */
export interface Policy {
  system: string;
  minInst: number;
  maxInst: number;
  startDemand: number;
  technique: Technique;
  window: number;
  weight: number;
  minScheduleInterval: number;
  maxScheduleInterval: number;
  demandDeltaThreshold: number;
  requestsPerInstance: number;
  scaleDownDelay: number;
  autoscale: boolean;
}
