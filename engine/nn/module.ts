/**
 * Modules in PyTorch's spirit: a tree of named children, parameters and buffers, so that
 * `namedParameters()` yields dotted names (`encoder.image.conv1_1.weight`) that match a PyTorch
 * state_dict of the same tree, with PyTorch's layouts. Parameters and buffers are kept alive
 * outside any `tidy` scope until the module is disposed.
 */
import { Tensor } from '../tensor.ts';
import { keep } from '../scope.ts';
import { engine } from '../engine.ts';

export abstract class Module {
  training = true;
  private readonly children = new Map<string, Module>();
  private readonly params = new Map<string, Tensor>();
  private readonly buffers = new Map<string, Tensor>();

  protected addModule<M extends Module>(name: string, m: M): M {
    this.children.set(name, m);
    return m;
  }

  protected addParameter(name: string, t: Tensor): Tensor {
    keep(t);
    t.requiresGrad = true;
    t.name = name;
    this.params.set(name, t);
    return t;
  }

  protected addBuffer(name: string, t: Tensor): Tensor {
    keep(t);
    t.name = name;
    this.buffers.set(name, t);
    return t;
  }

  namedChildren(): [string, Module][] {
    return [...this.children.entries()];
  }

  namedModules(prefix = ''): [string, Module][] {
    const out: [string, Module][] = [[prefix, this]];
    for (const [n, m] of this.children) out.push(...m.namedModules(prefix ? `${prefix}.${n}` : n));
    return out;
  }

  namedParameters(prefix = ''): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [n, p] of this.params) out.push([prefix ? `${prefix}.${n}` : n, p]);
    for (const [n, m] of this.children) out.push(...m.namedParameters(prefix ? `${prefix}.${n}` : n));
    return out;
  }

  namedBuffers(prefix = ''): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [n, b] of this.buffers) out.push([prefix ? `${prefix}.${n}` : n, b]);
    for (const [n, m] of this.children) out.push(...m.namedBuffers(prefix ? `${prefix}.${n}` : n));
    return out;
  }

  parameters(): Tensor[] {
    return this.namedParameters().map(([, p]) => p);
  }

  /** Trainable parameters: those not frozen. */
  trainableParameters(): Tensor[] {
    return this.parameters().filter((p) => p.requiresGrad);
  }

  parameterCount(): number {
    return this.parameters().reduce((n, p) => n + p.size, 0);
  }

  /** Parameters and buffers by dotted name, in PyTorch's state_dict order (per module: parameters, buffers, then children). */
  stateDict(prefix = ''): Map<string, Tensor> {
    const out = new Map<string, Tensor>();
    const name = (n: string) => (prefix ? `${prefix}.${n}` : n);
    for (const [n, p] of this.params) out.set(name(n), p);
    for (const [n, b] of this.buffers) out.set(name(n), b);
    for (const [n, m] of this.children) for (const [k, t] of m.stateDict(name(n))) out.set(k, t);
    return out;
  }

  /**
   * Copies tensors into this module's parameters and buffers by name. Every mismatch (missing,
   * unexpected, wrong shape) is collected and reported together before anything is written, so a
   * failed load changes nothing.
   */
  loadStateDict(values: Map<string, Float32Array | Tensor>, o: { strict?: boolean; shapes?: Map<string, readonly number[]> } = {}): { missing: string[]; unexpected: string[] } {
    const own = this.stateDict();
    const missing = [...own.keys()].filter((k) => !values.has(k));
    const unexpected = [...values.keys()].filter((k) => !own.has(k));
    const problems: string[] = [];
    for (const [k, v] of values) {
      const t = own.get(k);
      if (!t) continue;
      const shape = v instanceof Tensor ? v.shape : o.shapes?.get(k);
      const size = v instanceof Tensor ? v.size : v.length;
      if ((shape && shape.join() !== t.shape.join()) || size !== t.size) {
        problems.push(`${k}: shape [${shape ?? size}] does not match the model's [${t.shape}]`);
      }
    }
    if (o.strict !== false) {
      for (const k of missing) problems.push(`${k}: missing (model expects [${own.get(k)!.shape}])`);
      for (const k of unexpected) problems.push(`${k}: not a parameter or buffer of this model`);
    }
    if (problems.length) throw new Error(`cannot load weights:\n  ${problems.join('\n  ')}`);
    const e = engine();
    for (const [k, v] of values) {
      const t = own.get(k);
      if (!t) continue;
      if (v instanceof Tensor) e.copy(v.buffer, 0, t.buffer, 0, t.byteLength);
      else e.write(t.buffer, 0, v);
    }
    return { missing, unexpected };
  }

  train(on = true): this {
    for (const [, m] of this.namedModules()) m.training = on;
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  /** Stops (or restarts) gradients for every parameter of this subtree. */
  freeze(frozen = true): this {
    for (const p of this.parameters()) p.requiresGrad = !frozen;
    return this;
  }

  zeroGrad(): void {
    for (const p of this.parameters()) {
      p.grad?.dispose();
      p.grad = null;
    }
  }

  dispose(): void {
    for (const [, t] of [...this.namedParameters(), ...this.namedBuffers()]) t.dispose();
  }
}
