/**
 * The optimiser base: parameter groups with per-group hyperparameters (PyTorch's `param_groups`),
 * per-parameter state held in GPU tensors, and checkpoint accessors.
 *
 * - `step()` records fused in-place update kernels for the parameters that have a gradient (Adam
 *   batches several parameters per dispatch; window split for parameters larger than one
 *   binding) and returns at once: no readback, no wait. The
 *   hyperparameters and the bias corrections are computed on the CPU (the step count is known
 *   there) and travel as uniforms. Parameters whose `.grad` is null (or disposed) are skipped and
 *   their state is left as it is, as in PyTorch.
 * - State tensors are created on a parameter's first update and live until `dispose()`; they are
 *   outside every `tidy` scope. After that first step the optimiser allocates nothing.
 * - Parameters are numbered across groups in order (0, 1, ... over group 0's params, then group
 *   1's), as in PyTorch's `state_dict()`: checkpoint names are `state.<index>.<name>` with the
 *   names PyTorch uses (`exp_avg`, `exp_avg_sq`, `max_exp_avg_sq`, `momentum_buffer`), and the
 *   per-parameter step counts are `state.<index>.step`.
 */
import { engine } from '../engine.ts';
import { Tensor } from '../tensor.ts';
import { keep } from '../scope.ts';
import { fill, fillInto } from '../kernels/elementwise.ts';

/** Hyperparameters every optimiser has. */
export interface BaseGroupOptions {
  lr: number;
  weightDecay: number;
}

/** One group as given to a constructor: its params plus any hyperparameters overriding the defaults. */
export type ParamGroupSpec<O> = { params: Tensor[] } & Partial<O>;

/** One group as held by the optimiser. `initialLr` is the lr it was created with (for schedules). */
export type ParamGroup<O> = O & { params: Tensor[]; initialLr: number };

export interface ParamState {
  /** Updates applied to this parameter so far (PyTorch's `state['step']`). */
  step: number;
  tensors: Map<string, Tensor>;
}

export interface ZeroGradOptions {
  /** Dispose `.grad` and set it to null (default, like PyTorch's `set_to_none=True`); false fills it with zeros. */
  setToNone?: boolean;
}

export abstract class Optimizer<O extends BaseGroupOptions> {
  readonly paramGroups: ParamGroup<O>[];
  protected readonly state = new Map<Tensor, ParamState>();
  /** Every parameter in checkpoint order. */
  private readonly ordered: Tensor[] = [];
  private disposedFlag = false;
  /** saveUndo(): per parameter, its step count before (null: it had no state) and copies by state name ('' = the parameter). */
  private readonly undo = new Map<Tensor, { step: number | null; copies: Map<string, Tensor> }>();
  /** The undo copies' buffers, one per parameter or state tensor, kept for reuse. */
  private readonly undoBuffers = new Map<Tensor, Tensor>();

  /** The state tensor names this optimiser may hold for a parameter of `group` (for loading). */
  protected abstract stateNames(group: ParamGroup<O>): readonly string[];
  /** Whether a parameter's state needs its step count to be resumed (Adam's bias correction). */
  protected abstract readonly needsStepCount: boolean;
  /** Records the update of one parameter; `st.step` has already been incremented. */
  protected abstract update(p: Tensor, grad: Tensor, st: ParamState, group: ParamGroup<O>): void;
  /** Throws on invalid hyperparameters (called for every group). */
  protected abstract validate(group: O): void;
  /** Records what `update` deferred (an optimiser that batches parameters into shared launches). */
  protected finishStep(): void {}

  constructor(params: readonly Tensor[] | readonly ParamGroupSpec<O>[], defaults: O) {
    const specs: ParamGroupSpec<O>[] =
      params.length > 0 && params[0] instanceof Tensor
        ? [{ params: [...(params as readonly Tensor[])] } as ParamGroupSpec<O>]
        : (params as readonly ParamGroupSpec<O>[]).map((g) => ({ ...g }));
    if (specs.length === 0 || specs.every((g) => g.params.length === 0)) throw new Error('optimizer got an empty parameter list');
    const seen = new Set<Tensor>();
    this.paramGroups = specs.map((spec, gi) => {
      if (!Array.isArray(spec.params)) throw new TypeError(`parameter group ${gi}: params must be an array of tensors`);
      const group = { ...defaults } as ParamGroup<O>;
      for (const [k, v] of Object.entries(spec)) if (v !== undefined) (group as unknown as Record<string, unknown>)[k] = v;
      group.params = [...spec.params];
      group.initialLr = group.lr;
      for (const p of group.params) {
        if (!(p instanceof Tensor)) throw new TypeError(`parameter group ${gi}: params must be tensors`);
        if (seen.has(p)) throw new Error(`parameter ${p.name || p.toString()} appears more than once`);
        if (p.dtype !== 'f32') throw new Error(`parameter ${p.name || p.toString()} is not f32`);
        seen.add(p);
        this.ordered.push(p);
      }
      this.validate(group);
      return group;
    });
  }

  /** Records one update of every parameter that has a gradient. Synchronous; never reads back. */
  step(): void {
    if (this.disposedFlag) throw new Error('optimizer.step() after dispose()');
    try {
      for (const group of this.paramGroups) {
        for (const p of group.params) {
          const g = p.grad;
          if (!g || g.disposed) continue;
          if (g.size !== p.size) throw new Error(`gradient [${g.shape}] does not match parameter ${p.name || ''} [${p.shape}]`);
          let st = this.state.get(p);
          if (!st) this.state.set(p, (st = { step: 0, tensors: new Map() }));
          st.step++;
          this.update(p, g, st, group);
        }
      }
    } finally {
      // also on a throw: the parameters before the bad one are updated, as with one launch each
      this.finishStep();
    }
  }

  /** Clears the gradients of every parameter (see ZeroGradOptions). */
  zeroGrad(opts: ZeroGradOptions = {}): void {
    const setToNone = opts.setToNone ?? true;
    for (const p of this.ordered) {
      if (!p.grad) continue;
      if (setToNone || p.grad.disposed) {
        p.grad.dispose();
        p.grad = null;
      } else fillInto(p.grad, 0);
    }
  }

  /** Every parameter, in checkpoint order. */
  get params(): readonly Tensor[] {
    return this.ordered;
  }

  getLr(groupIndex = 0): number {
    return this.group(groupIndex).lr;
  }

  setLr(groupIndex: number, lr: number): void {
    if (!(lr >= 0) || !Number.isFinite(lr)) throw new Error(`invalid learning rate ${lr}`);
    this.group(groupIndex).lr = lr;
  }

  /** Sets the learning rate of every group. */
  setLrAll(lr: number): void {
    for (let i = 0; i < this.paramGroups.length; i++) this.setLr(i, lr);
  }

  /** The step count of a parameter (by checkpoint index): 0 before its first update. */
  stepCount(paramIndex: number): number {
    return this.state.get(this.param(paramIndex))?.step ?? 0;
  }

  /**
   * The state tensors by checkpoint name (`state.<index>.<name>`). These are the optimiser's own
   * tensors, not copies: read or save them, do not dispose them.
   */
  stateTensors(): Map<string, Tensor> {
    const out = new Map<string, Tensor>();
    this.ordered.forEach((p, i) => {
      const st = this.state.get(p);
      if (st) for (const [name, t] of st.tensors) out.set(`state.${i}.${name}`, t);
    });
    return out;
  }

  /** The step counts of the parameters that have state, as `state.<index>.step`. */
  stepCounts(): Map<string, number> {
    const out = new Map<string, number>();
    this.ordered.forEach((p, i) => {
      const st = this.state.get(p);
      if (st) out.set(`state.${i}.step`, st.step);
    });
    return out;
  }

  /**
   * Replaces the whole state (as PyTorch's `load_state_dict`): existing state is dropped and the
   * given tensors are copied on the GPU into fresh state tensors (the caller keeps its tensors).
   * `steps` gives the step counts (`state.<index>.step`); Adam requires one for every parameter
   * that has state tensors. A parameter with a step count but no tensors gets an empty state.
   */
  loadStateTensors(tensors: ReadonlyMap<string, Tensor>, steps: ReadonlyMap<string, number> | Record<string, number> = new Map()): void {
    const stepMap = steps instanceof Map ? steps : new Map(Object.entries(steps));
    const loaded = new Map<number, ParamState>();
    const stateOf = (i: number): ParamState => {
      let st = loaded.get(i);
      if (!st) loaded.set(i, (st = { step: 0, tensors: new Map() }));
      return st;
    };
    const parse = (key: string): [number, string] => {
      const m = /^state\.(\d+)\.([A-Za-z_][A-Za-z0-9_]*)$/.exec(key);
      if (!m) throw new Error(`optimizer state: unexpected name '${key}'`);
      const i = Number(m[1]);
      if (i >= this.ordered.length) throw new Error(`optimizer state: '${key}' names parameter ${i}, but there are ${this.ordered.length}`);
      return [i, m[2]!];
    };
    try {
      for (const [key, n] of stepMap) {
        const [i, name] = parse(key);
        if (name !== 'step') throw new Error(`optimizer state: '${key}' is not a step count`);
        if (!Number.isInteger(n) || n < 0) throw new Error(`optimizer state: '${key}' = ${n} is not a step count`);
        stateOf(i).step = n;
      }
      for (const [key, src] of tensors) {
        const [i, name] = parse(key);
        const p = this.ordered[i]!;
        if (!this.stateNames(this.groupOf(p)).includes(name)) throw new Error(`optimizer state: '${key}' is not a state of this optimizer`);
        if (src.size !== p.size || src.dtype !== 'f32') {
          throw new Error(`optimizer state: '${key}' has shape [${src.shape}], parameter ${i} has [${p.shape}]`);
        }
        const dst = keep(Tensor.empty(p.shape, 'f32', `optimizer ${name}`));
        stateOf(i).tensors.set(name, dst);
        engine().copy(src.buffer, 0, dst.buffer, 0, p.byteLength);
      }
      if (this.needsStepCount) {
        for (const [i, st] of loaded) {
          if (st.tensors.size > 0 && !stepMap.has(`state.${i}.step`)) throw new Error(`optimizer state: 'state.${i}.step' is missing`);
        }
      }
    } catch (e) {
      for (const st of loaded.values()) for (const t of st.tensors.values()) t.dispose();
      throw e;
    }
    this.clearState();
    for (const [i, st] of loaded) this.state.set(this.ordered[i]!, st);
  }

  /**
   * Remembers, on the GPU, what the next `step()` will change: every parameter that has a gradient,
   * its state tensors and step count, so `undoStep()` can take that step back (training's
   * `--on-nan skip`: an update that made a weight non-finite is undone). Copies go into buffers
   * kept for reuse; nothing is read back.
   */
  saveUndo(): void {
    const e = engine();
    this.undo.clear();
    for (const p of this.ordered) {
      if (!p.grad || p.grad.disposed) continue;
      const st = this.state.get(p);
      const copies = new Map<string, Tensor>();
      const save = (key: string, t: Tensor) => {
        let c = this.undoBuffers.get(t);
        if (!c) this.undoBuffers.set(t, (c = keep(Tensor.empty(t.shape, t.dtype, `undo ${key}`))));
        e.copy(t.buffer, 0, c.buffer, 0, t.byteLength);
        copies.set(key, c);
      };
      save('', p);
      if (st) for (const [name, t] of st.tensors) save(name, t);
      this.undo.set(p, { step: st?.step ?? null, copies });
    }
  }

  /** Restores what `saveUndo()` remembered: parameters, state tensors and step counts. */
  undoStep(): void {
    const e = engine();
    for (const [p, saved] of this.undo) {
      e.copy(saved.copies.get('')!.buffer, 0, p.buffer, 0, p.byteLength);
      const st = this.state.get(p);
      if (saved.step === null) {
        // the step created this parameter's state: drop it
        if (st) for (const t of st.tensors.values()) t.dispose();
        this.state.delete(p);
        continue;
      }
      if (!st) continue;
      st.step = saved.step;
      for (const [name, t] of st.tensors) {
        const c = saved.copies.get(name);
        if (c) e.copy(c.buffer, 0, t.buffer, 0, t.byteLength);
        else {
          t.dispose();
          st.tensors.delete(name);
        }
      }
    }
    this.undo.clear();
  }

  /** Disposes the state tensors (the parameters and their gradients are the caller's). */
  dispose(): void {
    this.clearState();
    for (const c of this.undoBuffers.values()) c.dispose();
    this.undoBuffers.clear();
    this.undo.clear();
    this.disposedFlag = true;
  }

  /** A zero-filled state tensor, created once (untracked: it lives until the optimiser drops it). */
  protected zerosState(st: ParamState, name: string, p: Tensor): Tensor {
    let t = st.tensors.get(name);
    if (!t) st.tensors.set(name, (t = keep(fill(p.shape, 0))));
    return t;
  }

  /** An uninitialised state tensor for a kernel that writes it whole on first use. */
  protected emptyState(st: ParamState, name: string, p: Tensor): { tensor: Tensor; fresh: boolean } {
    const t = st.tensors.get(name);
    if (t) return { tensor: t, fresh: false };
    const fresh = keep(Tensor.empty(p.shape, 'f32', `optimizer ${name}`));
    st.tensors.set(name, fresh);
    return { tensor: fresh, fresh: true };
  }

  private clearState(): void {
    for (const st of this.state.values()) for (const t of st.tensors.values()) t.dispose();
    this.state.clear();
  }

  private group(i: number): ParamGroup<O> {
    const g = this.paramGroups[i];
    if (!g) throw new Error(`no parameter group ${i} (there are ${this.paramGroups.length})`);
    return g;
  }

  private param(i: number): Tensor {
    const p = this.ordered[i];
    if (!p) throw new Error(`no parameter ${i} (there are ${this.ordered.length})`);
    return p;
  }

  private groupOf(p: Tensor): ParamGroup<O> {
    return this.paramGroups.find((g) => g.params.includes(p))!;
  }
}

/** Throws unless `v` is a finite number >= 0 (and < `below` when given). */
export function checkHyper(what: string, v: unknown, below?: number): void {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || (below !== undefined && v >= below)) {
    throw new Error(`invalid ${what}: ${String(v)}${below !== undefined ? ` (must be in [0, ${below}))` : ''}`);
  }
}
