/**
 * Learning-rate schedules: pure CPU functions of the step number (0-based: `lrAt(0)` is the lr of
 * the first optimiser step), with no state, so a resumed run only needs its step number.
 *
 * - `constantLr`:      lr = baseLr
 * - `stepDecay`:       lr = baseLr * gamma^floor(step / stepSize)                      (torch StepLR)
 * - `cosineAnnealing`: lr = minLr + (baseLr - minLr) * (1 + cos(pi * s / totalSteps)) / 2,
 *                      s = min(step, totalSteps): it holds minLr after totalSteps (torch's
 *                      CosineAnnealingLR would rise again)
 * - `linearWarmup(inner, ...)`: for step < warmupSteps, lr = inner.lrAt(0) * f with f rising
 *   linearly from startFactor (at step 0) towards 1 (at warmupSteps), then inner.lrAt(step -
 *   warmupSteps): the inner schedule starts once warm-up ends (torch SequentialLR of LinearLR and
 *   the inner schedule). With `shiftInner: false` the inner schedule runs on the absolute step
 *   and warm-up multiplies it (torch ChainedScheduler).
 *
 * Apply with `applyLr(optimizer, schedule, step)` before `optimizer.step()`.
 */
import type { BaseGroupOptions, Optimizer } from './optimizer.ts';

export interface LrSchedule {
  /** The lr the schedule was built around (scales other groups in `applyLr`). */
  readonly baseLr: number;
  lrAt(step: number): number;
}

function checkStep(step: number): void {
  if (!Number.isInteger(step) || step < 0) throw new Error(`schedule: step must be a non-negative integer, got ${step}`);
}

function positive(what: string, v: number, allowZero = false): void {
  if (!Number.isFinite(v) || v < 0 || (!allowZero && v === 0)) throw new Error(`schedule: invalid ${what} ${v}`);
}

export function constantLr(baseLr: number): LrSchedule {
  positive('baseLr', baseLr, true);
  return {
    baseLr,
    lrAt(step) {
      checkStep(step);
      return baseLr;
    },
  };
}

export function stepDecay(o: { baseLr: number; stepSize: number; gamma?: number }): LrSchedule {
  const gamma = o.gamma ?? 0.1;
  positive('baseLr', o.baseLr, true);
  positive('gamma', gamma, true);
  if (!Number.isInteger(o.stepSize) || o.stepSize <= 0) throw new Error(`schedule: invalid stepSize ${o.stepSize}`);
  return {
    baseLr: o.baseLr,
    lrAt(step) {
      checkStep(step);
      return o.baseLr * gamma ** Math.floor(step / o.stepSize);
    },
  };
}

export function cosineAnnealing(o: { baseLr: number; totalSteps: number; minLr?: number }): LrSchedule {
  const minLr = o.minLr ?? 0;
  positive('baseLr', o.baseLr, true);
  positive('minLr', minLr, true);
  if (!Number.isInteger(o.totalSteps) || o.totalSteps <= 0) throw new Error(`schedule: invalid totalSteps ${o.totalSteps}`);
  return {
    baseLr: o.baseLr,
    lrAt(step) {
      checkStep(step);
      const s = Math.min(step, o.totalSteps);
      return minLr + ((o.baseLr - minLr) * (1 + Math.cos((Math.PI * s) / o.totalSteps))) / 2;
    },
  };
}

export function linearWarmup(inner: LrSchedule, o: { warmupSteps: number; startFactor?: number; shiftInner?: boolean }): LrSchedule {
  const start = o.startFactor ?? 0;
  const shift = o.shiftInner ?? true;
  if (!Number.isInteger(o.warmupSteps) || o.warmupSteps < 0) throw new Error(`schedule: invalid warmupSteps ${o.warmupSteps}`);
  if (!Number.isFinite(start) || start < 0 || start > 1) throw new Error(`schedule: invalid startFactor ${start}`);
  const w = o.warmupSteps;
  return {
    baseLr: inner.baseLr,
    lrAt(step) {
      checkStep(step);
      if (step >= w) return inner.lrAt(shift ? step - w : step);
      const factor = start + ((1 - start) * step) / w;
      return inner.lrAt(shift ? 0 : step) * factor;
    },
  };
}

/**
 * Sets the optimiser's lr for `step` and returns the lrs set. One schedule: a single group gets
 * `schedule.lrAt(step)`; with several groups each keeps its ratio to the schedule's baseLr
 * (group lr = lrAt(step) * group.initialLr / baseLr, like a torch scheduler acting on each
 * group's initial lr; exactly lrAt(step) for a group created with baseLr). An array gives one
 * schedule per group, used as is.
 */
export function applyLr<O extends BaseGroupOptions>(opt: Optimizer<O>, schedule: LrSchedule | readonly LrSchedule[], step: number): number[] {
  const groups = opt.paramGroups;
  if (Array.isArray(schedule)) {
    if (schedule.length !== groups.length) throw new Error(`applyLr: ${schedule.length} schedules for ${groups.length} parameter groups`);
    return groups.map((_, i) => {
      const lr = (schedule as readonly LrSchedule[])[i]!.lrAt(step);
      opt.setLr(i, lr);
      return lr;
    });
  }
  const s = schedule as LrSchedule;
  const lr = s.lrAt(step);
  return groups.map((g, i) => {
    const v = groups.length === 1 || g.initialLr === s.baseLr || s.baseLr === 0 ? lr : (lr * g.initialLr) / s.baseLr;
    opt.setLr(i, v);
    return v;
  });
}
