/**
 * ImageNet weights in torchvision's naming, from a safetensors file (see README for the few lines
 * of Python that write one from torchvision's .pth), loaded into the image encoder:
 *
 * - VGG-16: `features.{0,2,5,7,10,12,14,17,19,21,24,26,28}` -> `encoder.image.conv1_1 .. conv5_3`,
 *   `classifier.0` (fc6, 4096 x 25088) reshaped to 4096 x 512 x 7 x 7 -> `encoder.image.fc6`.
 *   For the 4-channel VGG (vgg16-4ch) conv1_1 gets ImageNet's three input channels and keeps its
 *   fresh initialisation for the 4th (trimap) channel. For vgg16-dual the trimap branch also takes
 *   every layer whose shape matches (all but its 1-channel conv1_1), as the seed does.
 * - ResNet-50: torchvision's own names under `encoder.image.` (and `encoder.trimap.` where shapes
 *   match); `fc.*` is ignored.
 *
 * Shape mismatches and missing layers are reported by name and shape; nothing is written unless every
 * mapped tensor fits.
 */
import { readSafetensors } from '../engine/io/safetensors-read.ts';
import { toFloat32 } from '../engine/io/safetensors-common.ts';
import type { MattingModel } from './graph/model.ts';

const VGG_FEATURE_INDEX = [0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28];
const VGG_NAMES = ['conv1_1', 'conv1_2', 'conv2_1', 'conv2_2', 'conv3_1', 'conv3_2', 'conv3_3', 'conv4_1', 'conv4_2', 'conv4_3', 'conv5_1', 'conv5_2', 'conv5_3'];

export interface PretrainedReport {
  loaded: string[];
  warnings: string[];
}

/** torchvision name -> our name (without the branch prefix), for VGG-16. */
export function vggNameMap(): Map<string, string> {
  const m = new Map<string, string>();
  VGG_FEATURE_INDEX.forEach((idx, i) => {
    m.set(`features.${idx}.weight`, `${VGG_NAMES[i]}.weight`);
    m.set(`features.${idx}.bias`, `${VGG_NAMES[i]}.bias`);
  });
  m.set('classifier.0.weight', 'fc6.weight');
  m.set('classifier.0.bias', 'fc6.bias');
  return m;
}

export async function loadPretrained(model: MattingModel, path: string): Promise<PretrainedReport> {
  const file = await readSafetensors(path);
  const own = model.stateDict();
  const values = new Map<string, Float32Array>();
  const problems: string[] = [];
  const warnings: string[] = [];
  const loaded: string[] = [];
  const isVgg = model.config.encoder !== 'resnet50-dual';
  const branches = model.config.encoder === 'vgg16-4ch' ? ['image'] : ['image', 'trimap'];

  const mapped: [string, string][] = []; // [source name, our suffix]
  if (isVgg) {
    for (const [src, dst] of vggNameMap()) mapped.push([src, dst]);
  } else {
    for (const name of file.tensors.keys()) if (!name.startsWith('fc.')) mapped.push([name, name]);
  }
  for (const [src, suffix] of mapped) {
    const entry = file.tensors.get(src);
    if (!entry) {
      problems.push(`${src}: missing from ${path} (needed for encoder.image.${suffix})`);
      continue;
    }
    const data = toFloat32(entry);
    let shape = [...entry.shape];
    if (suffix === 'fc6.weight' && shape.length === 2) {
      // torchvision's classifier.0 flattens [512, 7, 7] in C, H, W order: a plain reshape.
      shape = [shape[0]!, shape[1]! / 49, 7, 7];
    }
    for (const branch of branches) {
      const name = `encoder.${branch}.${suffix}`;
      const target = own.get(name);
      if (!target) {
        if (branch === 'image') problems.push(`${name}: not in this model (config ${model.config.encoder})`);
        continue;
      }
      const want = target.shape;
      if (want.join() === shape.join()) {
        values.set(name, data);
        loaded.push(name);
      } else if (suffix === 'conv1_1.weight' && model.config.encoder === 'vgg16-4ch' && want[1] === 4 && shape[1] === 3 && want[0] === shape[0]) {
        // ImageNet's RGB filters for channels 0..2, the model's own fresh init for channel 3.
        const current = await target.data();
        const merged = Float32Array.from(current);
        const k = want[2]! * want[3]!;
        for (let o = 0; o < want[0]!; o++) for (let c = 0; c < 3; c++) merged.set(data.subarray((o * 3 + c) * k, (o * 3 + c + 1) * k), (o * 4 + c) * k);
        values.set(name, merged);
        loaded.push(`${name} (3 of 4 input channels)`);
      } else if (branch === 'trimap') {
        warnings.push(`pretrained: ${name} kept its random initialisation ([${want}] vs ImageNet's [${shape}])`);
      } else {
        problems.push(`${name}: the file's ${src} has shape [${shape}], the model expects [${want}]`);
      }
    }
  }
  if (problems.length) throw new Error(mismatchMessage(path, problems, file.tensors.get(isVgg ? 'features.0.weight' : 'conv1.weight')?.shape, model.config.width));
  model.loadStateDict(values, { strict: false });
  return { loaded, warnings };
}

/**
 * One line for a failed load: how many tensors do not fit, the first problem, and (when the first
 * convolution tells) which --width would fit: a width mismatch makes every layer differ, and a list
 * of 26 shapes does not say what to change.
 */
export function mismatchMessage(path: string, problems: string[], firstConvShape: readonly number[] | undefined, modelWidth: number): string {
  let hint = '';
  if (firstConvShape && firstConvShape[0]) {
    const fileWidth = firstConvShape[0] / 64;
    if (Math.abs(fileWidth - modelWidth) > 1e-9) {
      hint = `; the file's weights are width ${fileWidth} and the model is width ${modelWidth}: give --width ${fileWidth}${fileWidth === 1 ? ' (as the paper and resnet50 presets do)' : ''}`;
    }
  }
  const more = problems.length > 1 ? ` (${problems.length} tensors do not fit; the first: ${problems[0]})` : `: ${problems[0]}`;
  return `cannot load pretrained weights from ${path}${more}${hint}`;
}
