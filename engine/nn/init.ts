/**
 * Weight initialisation with PyTorch's definitions of fan-in and fan-out (dimension 1 is fan-in,
 * dimension 0 fan-out, times the receptive field; for a transposed conv's [in, out, kh, kw] weight that
 * makes fan-in = out*kh*kw, as torch.nn.init computes it). Drawn on the CPU from a seeded generator,
 * so a seed gives the same weights on every adapter.
 */
import { Tensor } from '../tensor.ts';
import { tensor } from '../creation.ts';
import { Generator } from '../random.ts';
import { shapeSize, inShapesOnly } from '../tensor.ts';

export function fans(shape: readonly number[]): { fanIn: number; fanOut: number } {
  if (shape.length < 2) throw new Error(`fan-in/fan-out need a weight of rank >= 2, got [${shape}]`);
  const receptive = shapeSize(shape.slice(2));
  return { fanIn: shape[1]! * receptive, fanOut: shape[0]! * receptive };
}

export type InitKind = 'kaiming-normal' | 'kaiming-uniform' | 'xavier-normal' | 'xavier-uniform' | 'zeros' | 'ones';

export interface InitOptions {
  /** Kaiming: 'fan_in' (default, preserves forward variance) or 'fan_out'. */
  mode?: 'fan_in' | 'fan_out';
  /** Gain: sqrt(2) for ReLU (default for Kaiming), 1 for Xavier unless given. */
  gain?: number;
}

/** Values for a tensor of `shape` drawn with the given scheme. */
export function initValues(kind: InitKind, shape: readonly number[], rng: Generator, o: InitOptions = {}): Float32Array {
  const out = new Float32Array(shapeSize(shape));
  if (kind === 'zeros') return out;
  if (kind === 'ones') return out.fill(1);
  const { fanIn, fanOut } = fans(shape);
  if (kind.startsWith('kaiming')) {
    const fan = (o.mode ?? 'fan_in') === 'fan_in' ? fanIn : fanOut;
    const std = (o.gain ?? Math.SQRT2) / Math.sqrt(fan);
    return kind === 'kaiming-normal' ? rng.fillNormal(out, 0, std) : rng.fillUniform(out, -Math.sqrt(3) * std, Math.sqrt(3) * std);
  }
  const std = (o.gain ?? 1) * Math.sqrt(2 / (fanIn + fanOut));
  return kind === 'xavier-normal' ? rng.fillNormal(out, 0, std) : rng.fillUniform(out, -Math.sqrt(3) * std, Math.sqrt(3) * std);
}

export function initTensor(kind: InitKind, shape: readonly number[], rng: Generator, o: InitOptions = {}): Tensor {
  if (inShapesOnly()) return Tensor.empty(shape);
  return tensor(initValues(kind, shape, rng, o), shape);
}
