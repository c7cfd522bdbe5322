/**
 * The Deep Image Matting network of matting/graph (dual VGG-16 encoder, transposed-conv decoder,
 * sigmoid refinement) and its three Charbonnier losses, written with tfjs ops in NHWC, for the
 * training-step benchmark. Variables are copied from a MattingModel's parameters: conv weights
 * [O, C, K, K] -> [K, K, C, O]; transposed-conv weights [in, out, k, k] -> [k, k, out, in] (tfjs's
 * conv2dTranspose filter layout). Convs use tf.fused.conv2d (bias and ReLU fused where tfjs fuses them;
 * under a gradient tape tfjs falls back to conv2d + add + relu for the ReLU ones).
 */
import type * as TF from '@tensorflow/tfjs-core';
import type { Tensor } from '../engine/tensor.ts';
import type { ModelConfig } from '../matting/graph/config.ts';
import { scaled } from '../matting/graph/config.ts';
import { VGG16_BLOCKS, FC6_CHANNELS } from '../matting/graph/vgg16.ts';
import { DECONV_CHANNELS } from '../matting/graph/decoder.ts';
import { CHARBONNIER_EPS } from '../matting/losses.ts';
import { hwioToOihw, oihwToHwio } from './tfjs-peer.ts';

export interface TfBatch {
  image: TF.Tensor4D;
  trimap: TF.Tensor4D;
  alpha: TF.Tensor4D;
  fg: TF.Tensor4D;
  bg: TF.Tensor4D;
}

function supported(c: ModelConfig): void {
  if (c.encoder !== 'vgg16-dual' || c.decoder !== 'deconv' || c.refine !== 'sigmoid' || c.imageMean !== 'none') {
    throw new Error(`the tfjs peer model covers vgg16-dual / deconv / refine sigmoid / imageMean none, not ${c.encoder}/${c.decoder}/${c.refine}/${c.imageMean}`);
  }
}

export class TfjsMattingModel {
  private readonly vars = new Map<string, TF.Variable>();
  private readonly shapes = new Map<string, readonly number[]>();

  private constructor(
    private readonly tf: typeof TF,
    readonly config: ModelConfig,
  ) {}

  /** Copies our parameters (read back from the GPU) into tfjs variables. */
  static async fromParameters(tf: typeof TF, config: ModelConfig, params: [string, Tensor][]): Promise<TfjsMattingModel> {
    supported(config);
    const m = new TfjsMattingModel(tf, config);
    for (const [name, p] of params) {
      const d = await p.data();
      const shape = p.shape;
      m.shapes.set(name, shape);
      const value = shape.length === 4 ? tf.tensor4d(oihwToHwio(d, shape), [shape[2]!, shape[3]!, shape[1]!, shape[0]!]) : tf.tensor(d, [...shape]);
      m.vars.set(name, tf.variable(value, true, m.variableName(name)));
      value.dispose();
    }
    return m;
  }

  /** tfjs variable names must be unique in the process: ours, prefixed. */
  variableName(name: string): string {
    return `bench/${name}`;
  }

  get variables(): TF.Variable[] {
    return [...this.vars.values()];
  }

  /** A gradient (or value) of parameter `name` from tfjs's layout to ours. */
  toOursLayout(name: string, d: Float32Array): Float32Array {
    const shape = this.shapes.get(name)!;
    return shape.length === 4 ? hwioToOihw(d, shape) : d;
  }

  private v(name: string): TF.Variable {
    const t = this.vars.get(name);
    if (!t) throw new Error(`tfjs peer model: no parameter '${name}'`);
    return t;
  }

  private conv(x: TF.Tensor4D, name: string, activation: 'relu' | 'linear'): TF.Tensor4D {
    return this.tf.fused.conv2d({ x, filter: this.v(`${name}.weight`) as TF.Tensor4D, strides: 1, pad: 'same', bias: this.v(`${name}.bias`), activation });
  }

  private vgg(prefix: string, x: TF.Tensor4D): TF.Tensor4D {
    let h = x;
    VGG16_BLOCKS.forEach((block, b) => {
      block.forEach((_, i) => (h = this.conv(h, `${prefix}.conv${b + 1}_${i + 1}`, 'relu')));
      h = this.tf.maxPool(h, 2, 2, 'valid');
    });
    return this.conv(h, `${prefix}.fc6`, 'relu');
  }

  forward(image: TF.Tensor4D, trimap: TF.Tensor4D): { raw: TF.Tensor4D; refined: TF.Tensor4D } {
    const tf = this.tf;
    let h = tf.concat([this.vgg('encoder.image', image), this.vgg('encoder.trimap', trimap)], 3);
    for (const [name, , , stride] of DECONV_CHANNELS) {
      const w = this.v(`decoder.${name}.weight`) as TF.Tensor4D; // [k, k, out, in]
      const [N, H, W] = h.shape;
      h = tf.relu(tf.add(tf.conv2dTranspose(h, w, [N, H * stride, W * stride, w.shape[2]], stride, 'same'), this.v(`decoder.${name}.bias`)));
    }
    const raw = tf.sigmoid(this.conv(h, 'decoder.alpha', 'linear'));
    let r = tf.concat([image, tf.mul(raw, 255)], 3) as TF.Tensor4D;
    for (const c of ['conv1', 'conv2', 'conv3']) r = this.conv(r, `refine.${c}`, 'relu');
    const refined = tf.sigmoid(this.conv(r, 'refine.alpha', 'linear'));
    return { raw, refined };
  }

  /** total = w1 alpha + w2 composition + w3 refined, as matting/losses.ts. */
  loss(b: TfBatch, weights: ModelConfig['lossWeights']): TF.Scalar {
    const tf = this.tf;
    const { raw, refined } = this.forward(b.image, b.trimap);
    const w = tf.cast(tf.logicalAnd(tf.greaterEqual(b.trimap, 64), tf.lessEqual(b.trimap, 191)), 'float32');
    const eps = tf.scalar(CHARBONNIER_EPS);
    const denom = tf.add(tf.sum(w), eps);
    const charb = (p: TF.Tensor, t: TF.Tensor) => tf.div(tf.sum(tf.mul(w, tf.sqrt(tf.add(tf.square(tf.sub(p, t)), eps)))), denom);
    const composite = tf.add(b.bg, tf.mul(raw, tf.sub(b.fg, b.bg)));
    let total = tf.mul(charb(raw, b.alpha), weights.alpha);
    total = tf.add(total, tf.mul(tf.div(charb(composite, b.image), 255), weights.composition));
    total = tf.add(total, tf.mul(charb(refined, b.alpha), weights.refined));
    return total as TF.Scalar;
  }

  dispose(): void {
    for (const v of this.vars.values()) v.dispose();
    this.vars.clear();
  }
}

/** Forward multiply-add FLOPs (x2) of every conv and transposed conv of the model at batch N. */
export function modelConvFlops(c: ModelConfig, N: number): number {
  supported(c);
  const w = c.width;
  let flops = 0;
  const conv = (cin: number, cout: number, k: number, outHW: number) => (flops += 2 * N * outHW * outHW * cout * cin * k * k);
  for (const cin0 of [3, 1]) {
    let cin = cin0, s = c.inputSize;
    for (const block of VGG16_BLOCKS) {
      for (const ch of block) {
        conv(cin, scaled(ch, w), 3, s);
        cin = scaled(ch, w);
      }
      s /= 2;
    }
    conv(cin, scaled(FC6_CHANNELS, w), 7, s);
  }
  // A transposed conv's multiply-adds: input pixels x cin x cout x k x k.
  let cin = 2 * scaled(FC6_CHANNELS, w), s = c.inputSize / 32;
  for (const [, ch, k, stride] of DECONV_CHANNELS) {
    conv(cin, scaled(ch, w), k, s);
    cin = scaled(ch, w);
    s *= stride;
  }
  conv(cin, 1, 5, s);
  const r = scaled(64, w);
  conv(4, r, 3, s);
  conv(r, r, 3, s);
  conv(r, r, 3, s);
  conv(r, 1, 3, s);
  return flops;
}
