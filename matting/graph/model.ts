/**
 * The Deep Image Matting network: encoder (dual VGG-16, 4-channel VGG-16 or dual ResNet-50), decoder
 * (transposed convs or unpooling), optional refinement. Parameter names follow
 * docs/dim-model.md (`encoder.image.conv1_1.weight`, `decoder.deconv6.weight`,
 * `refine.conv1.weight`, ...), with PyTorch layouts, so weights move to and from PyTorch unchanged.
 *
 * Inputs: image [N, 3, S, S] in 0..255, trimap [N, 1, S, S] in 0/128/255 (S a multiple of 32); with
 * config.inputs 'normalised' the model rescales them itself (see config.ts).
 */
import { Module } from '../../engine/nn/module.ts';
import { Generator } from '../../engine/random.ts';
import { Tensor } from '../../engine/tensor.ts';
import { concat } from '../../engine/ops/concat.ts';
import { affine, mul, sub } from '../../engine/ops/arith.ts';
import { tensor } from '../../engine/creation.ts';
import { keep } from '../../engine/scope.ts';
import { makeConfig, type ModelConfig } from './config.ts';
import { Vgg16Branch, type EncoderOutput } from './vgg16.ts';
import { ResNet50Branch } from './resnet50.ts';
import { DeconvDecoder, UnetDecoder, UnpoolDecoder } from './decoder.ts';
import { Refinement } from './refine.ts';

/** The Caffe / TF-slim VGG mean (0..255 RGB). */
export const IMAGENET_MEAN = [123.68, 116.779, 103.939];
/** torchvision's ImageNet normalisation, on the 0..255 scale. */
export const TORCHVISION_MEAN = [123.675, 116.28, 103.53];
export const TORCHVISION_STD = [58.395, 57.12, 57.375];

class Encoder extends Module {
  readonly image: Vgg16Branch | ResNet50Branch;
  readonly trimap: Vgg16Branch | ResNet50Branch | null;
  readonly outChannels: number;

  constructor(readonly config: ModelConfig, rng: Generator) {
    super();
    const w = config.width;
    if (config.encoder === 'vgg16-4ch') {
      this.image = this.addModule('image', new Vgg16Branch(4, w, rng));
      this.trimap = null;
    } else if (config.encoder === 'vgg16-dual') {
      this.image = this.addModule('image', new Vgg16Branch(3, w, rng));
      this.trimap = this.addModule('trimap', new Vgg16Branch(1, w, rng));
    } else {
      this.image = this.addModule('image', new ResNet50Branch(3, w, rng));
      this.trimap = this.addModule('trimap', new ResNet50Branch(1, w, rng));
    }
    this.outChannels = this.image.outChannels + (this.trimap?.outChannels ?? 0);
  }

  forward(image: Tensor, trimap: Tensor, withIndices: boolean): EncoderOutput {
    if (this.config.encoder === 'vgg16-4ch') return (this.image as Vgg16Branch).forward(concat([image, trimap], 1), withIndices);
    if (this.image instanceof Vgg16Branch) {
      const a = this.image.forward(image, withIndices);
      const b = (this.trimap as Vgg16Branch).forward(trimap, false);
      return { features: concat([a.features, b.features], 1), pools: a.pools, skips: a.skips };
    }
    const a = this.image.forward(image);
    const b = (this.trimap as ResNet50Branch).forward(trimap);
    return { features: concat([a, b], 1), pools: [], skips: [] };
  }
}

export interface MattingOutput {
  /** Stage-1 alpha [N, 1, S, S] in 0..1. */
  rawAlpha: Tensor;
  /** Stage-2 alpha (null without refinement). */
  refinedAlpha: Tensor | null;
}

export class MattingModel extends Module {
  readonly config: ModelConfig;
  readonly encoder: Encoder;
  readonly decoder: DeconvDecoder | UnpoolDecoder | UnetDecoder;
  readonly refine: Refinement | null;
  private normalisation: { mean: Tensor; invStd: Tensor | null } | null = null;

  constructor(config: Partial<ModelConfig> = {}) {
    super();
    this.config = makeConfig(config);
    const rng = new Generator(this.config.seed);
    this.encoder = this.addModule('encoder', new Encoder(this.config, rng));
    const w = this.config.width;
    this.decoder = this.addModule(
      'decoder',
      this.config.decoder === 'deconv' ? new DeconvDecoder(this.encoder.outChannels, w, rng)
      : this.config.decoder === 'unpool' ? new UnpoolDecoder(this.encoder.outChannels, w, rng)
      : new UnetDecoder(this.encoder.outChannels, 4, w, rng),
    );
    this.refine = this.config.refine === 'none' ? null : this.addModule('refine', new Refinement(this.config.refine, w, rng, this.config.inputs === 'normalised'));
  }

  private checkInputs(image: Tensor, trimap: Tensor): void {
    const [n, c, h, w] = image.shape;
    if (image.rank !== 4 || c !== 3) throw new Error(`model input image must be [N, 3, H, W], got [${image.shape}]`);
    if (trimap.rank !== 4 || trimap.shape[0] !== n || trimap.shape[1] !== 1 || trimap.shape[2] !== h || trimap.shape[3] !== w) {
      throw new Error(`model input trimap must be [${n}, 1, ${h}, ${w}], got [${trimap.shape}]`);
    }
    if (h! % 32 !== 0 || w! % 32 !== 0) throw new Error(`model input size ${h}x${w} must be a multiple of 32 (pad it; see matting/inference.ts)`);
  }

  /** `o.refine: false` skips stage 2 (the encoder-decoder training stage does not need it). */
  forward(image: Tensor, trimap: Tensor, o: { refine?: boolean } = {}): MattingOutput {
    this.checkInputs(image, trimap);
    const normalised = this.config.inputs === 'normalised';
    let x = image;
    if (this.config.imageMean !== 'none') {
      this.normalisation ??= makeNormalisation(this.config.imageMean);
      x = sub(image, this.normalisation.mean);
      if (this.normalisation.invStd) x = mul(x, this.normalisation.invStd);
    } else if (normalised) x = affine(image, 1 / 127.5, -1);
    const t = normalised ? affine(trimap, 1 / 127.5, -1) : trimap;
    const enc = this.encoder.forward(x, t, this.config.decoder !== 'deconv');
    const rawAlpha = this.decoder instanceof UnetDecoder ? this.decoder.forward(enc, concat([x, t], 1)) : this.decoder.forward(enc);
    const refineImage = normalised && this.config.imageMean === 'none' ? x : normalised ? affine(image, 1 / 127.5, -1) : image;
    const refinedAlpha = this.refine && o.refine !== false ? this.refine.forward(refineImage, rawAlpha) : null;
    return { rawAlpha, refinedAlpha };
  }

  override dispose(): void {
    super.dispose();
    this.normalisation?.mean.dispose();
    this.normalisation?.invStd?.dispose();
  }
}

/** Created lazily, possibly inside the caller's tidy scope: kept for the model's life. */
function makeNormalisation(kind: 'imagenet' | 'torchvision'): { mean: Tensor; invStd: Tensor | null } {
  const c = (v: number[]) => keep(tensor(Float32Array.from(v), [1, 3, 1, 1]));
  return kind === 'imagenet'
    ? { mean: c(IMAGENET_MEAN), invStd: null }
    : { mean: c(TORCHVISION_MEAN), invStd: c(TORCHVISION_STD.map((s) => 1 / s)) };
}
