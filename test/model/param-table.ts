/**
 * The Deep Image Matting model's parameter table written out INDEPENDENTLY of the model code, from
 * the channel tables of docs/dim-model.md (VGG-16, torchvision's ResNet-50, the seed's decoder,
 * the paper's unpooling decoder, the refinement), with PyTorch's names and layouts:
 *   conv weight [out, in, kh, kw] + bias [out]; transposed conv weight [in, out, kh, kw] + bias [out];
 *   batch norm weight/bias [c] and buffers running_mean/running_var [c], num_batches_tracked [].
 * Nothing here imports the model: the counts are plain arithmetic over this list.
 *
 * Run it to print the table of a configuration (no GPU needed):
 *   npx tsx test/model/param-table.ts [encoder] [decoder] [refine] [width]
 *   npx tsx test/model/param-table.ts --summary        # totals of every combination at width 1
 */
export type Encoder = 'vgg16-dual' | 'vgg16-4ch' | 'resnet50-dual';
export type Decoder = 'deconv' | 'unpool' | 'unet';
export type Refine = 'sigmoid' | 'residual' | 'none';

export const ENCODER_KINDS: Encoder[] = ['vgg16-dual', 'vgg16-4ch', 'resnet50-dual'];
export const DECODER_KINDS: Decoder[] = ['deconv', 'unpool', 'unet'];
export const REFINE_KINDS: Refine[] = ['sigmoid', 'residual', 'none'];

export interface Entry {
  name: string;
  shape: number[];
  kind: 'param' | 'buffer';
}

/** The width multiplier's rule (the docs' "small test models"): round, never below one channel. */
export const ch = (c: number, width: number): number => Math.max(1, Math.round(c * width));

class Table {
  readonly entries: Entry[] = [];
  conv(name: string, cin: number, cout: number, k: number, bias = true): void {
    this.entries.push({ name: `${name}.weight`, shape: [cout, cin, k, k], kind: 'param' });
    if (bias) this.entries.push({ name: `${name}.bias`, shape: [cout], kind: 'param' });
  }
  deconv(name: string, cin: number, cout: number, k: number): void {
    this.entries.push({ name: `${name}.weight`, shape: [cin, cout, k, k], kind: 'param' });
    this.entries.push({ name: `${name}.bias`, shape: [cout], kind: 'param' });
  }
  bn(name: string, c: number): void {
    this.entries.push({ name: `${name}.weight`, shape: [c], kind: 'param' });
    this.entries.push({ name: `${name}.bias`, shape: [c], kind: 'param' });
    this.entries.push({ name: `${name}.running_mean`, shape: [c], kind: 'buffer' });
    this.entries.push({ name: `${name}.running_var`, shape: [c], kind: 'buffer' });
    this.entries.push({ name: `${name}.num_batches_tracked`, shape: [], kind: 'buffer' });
  }
}

/** VGG-16 conv1_1 .. conv5_3 (3x3) then fc6 (7x7, 4096). Returns fc6's channel count. */
function vgg16(t: Table, p: string, cin: number, w: number, withFc6 = true): number {
  const blocks = [[64, 64], [128, 128], [256, 256, 256], [512, 512, 512], [512, 512, 512]];
  let c = cin;
  blocks.forEach((block, b) =>
    block.forEach((out, i) => {
      t.conv(`${p}conv${b + 1}_${i + 1}`, c, ch(out, w), 3);
      c = ch(out, w);
    }),
  );
  if (!withFc6) return c;
  t.conv(`${p}fc6`, c, ch(4096, w), 7);
  return ch(4096, w);
}

/** torchvision's resnet50 without avgpool/fc. Returns the output channel count (4 x layer4's width). */
function resnet50(t: Table, p: string, cin: number, w: number): number {
  const stem = ch(64, w);
  t.conv(`${p}conv1`, cin, stem, 7, false);
  t.bn(`${p}bn1`, stem);
  let c = stem;
  const layers: [number, number][] = [[64, 3], [128, 4], [256, 6], [512, 3]];
  layers.forEach(([mid, blocks], li) => {
    const m = ch(mid, w);
    for (let b = 0; b < blocks; b++) {
      const q = `${p}layer${li + 1}.${b}.`;
      t.conv(`${q}conv1`, c, m, 1, false);
      t.bn(`${q}bn1`, m);
      t.conv(`${q}conv2`, m, m, 3, false);
      t.bn(`${q}bn2`, m);
      t.conv(`${q}conv3`, m, 4 * m, 1, false);
      t.bn(`${q}bn3`, 4 * m);
      if (b === 0) {
        // every first block has a projection shortcut (layer1: 64 -> 256 channels; others: stride 2)
        t.conv(`${q}downsample.0`, c, 4 * m, 1, false);
        t.bn(`${q}downsample.1`, 4 * m);
      }
      c = 4 * m;
    }
  });
  return c;
}

export function paramTable(encoder: Encoder, decoder: Decoder, refine: Refine, w: number): Entry[] {
  const t = new Table();
  let enc: number;
  if (encoder === 'vgg16-dual') enc = vgg16(t, 'encoder.image.', 3, w) + vgg16(t, 'encoder.trimap.', 1, w);
  else if (encoder === 'vgg16-4ch') enc = vgg16(t, 'encoder.image.', 4, w);
  else enc = resnet50(t, 'encoder.image.', 3, w) + resnet50(t, 'encoder.trimap.', 1, w);

  if (decoder === 'deconv') {
    // the seed: transposed convs deconv6 (1x1) 512, deconv5..2 (5x5) 512/256/128/64, deconv1 (5x5) 64
    let c = enc;
    for (const [name, out, k] of [['deconv6', 512, 1], ['deconv5', 512, 5], ['deconv4', 256, 5], ['deconv3', 128, 5], ['deconv2', 64, 5], ['deconv1', 64, 5]] as const) {
      t.deconv(`decoder.${name}`, c, ch(out, w), k);
      c = ch(out, w);
    }
    t.conv('decoder.alpha', c, 1, 5);
  } else if (decoder === 'unet') {
    // ours: deconv6 a 1x1 conv to block 5's 512; up5..up1 3x3 convs on concat(unpooled, block skip)
    // with outputs 512/256/128/64/64 (block b-1's channels); up1 also takes the 4 input channels
    const block = [64, 128, 256, 512, 512].map((c) => ch(c, w));
    t.conv('decoder.deconv6', enc, block[4]!, 1);
    t.conv('decoder.up5', 2 * block[4]!, block[3]!, 3);
    t.conv('decoder.up4', 2 * block[3]!, block[2]!, 3);
    t.conv('decoder.up3', 2 * block[2]!, block[1]!, 3);
    t.conv('decoder.up2', 2 * block[1]!, block[0]!, 3);
    t.conv('decoder.up1', 2 * block[0]! + 4, block[0]!, 3);
    t.conv('decoder.alpha', block[0]!, 1, 3);
  } else {
    // the paper: deconv6 a 1x1 conv to 512, then (unpool, 5x5 conv) x5 with 512/256/128/64/64
    let c = enc;
    for (const [name, out, k] of [['deconv6', 512, 1], ['deconv5', 512, 5], ['deconv4', 256, 5], ['deconv3', 128, 5], ['deconv2', 64, 5], ['deconv1', 64, 5]] as const) {
      t.conv(`decoder.${name}`, c, ch(out, w), k);
      c = ch(out, w);
    }
    t.conv('decoder.alpha', c, 1, 5);
  }

  if (refine !== 'none') {
    const c = ch(64, w);
    t.conv('refine.conv1', 4, c, 3);
    t.conv('refine.conv2', c, c, 3);
    t.conv('refine.conv3', c, c, 3);
    t.conv('refine.alpha', c, 1, 3);
  }
  return t.entries;
}

export const sizeOf = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

export function countParams(entries: readonly Entry[]): number {
  return entries.filter((e) => e.kind === 'param').reduce((n, e) => n + sizeOf(e.shape), 0);
}

/** Parameters of the bare VGG-16 conv stack (conv1_1..conv5_3, no fc6) on `cin` channels. */
export function vgg16ConvCount(cin: number, w = 1): number {
  const t = new Table();
  vgg16(t, '', cin, w, false);
  return countParams(t.entries);
}

/** Parameters of a torchvision ResNet-50 trunk (no fc) on `cin` channels. */
export function resnet50Count(cin: number, w = 1): number {
  const t = new Table();
  resnet50(t, '', cin, w);
  return countParams(t.entries);
}

export function validCombos(): [Encoder, Decoder, Refine][] {
  const out: [Encoder, Decoder, Refine][] = [];
  for (const e of ENCODER_KINDS) for (const d of DECODER_KINDS) for (const r of REFINE_KINDS) if (!(e === 'resnet50-dual' && d !== 'deconv')) out.push([e, d, r]);
  return out;
}

export function formatTable(entries: readonly Entry[]): string {
  const wName = Math.max(...entries.map((e) => e.name.length));
  const lines = entries.map((e) => `${e.name.padEnd(wName)}  ${`[${e.shape.join(', ')}]`.padEnd(20)}  ${String(sizeOf(e.shape)).padStart(11)}${e.kind === 'buffer' ? '  (buffer)' : ''}`);
  lines.push(`${'total parameters'.padEnd(wName)}  ${''.padEnd(20)}  ${countParams(entries).toLocaleString('en-US').padStart(11)}`);
  return lines.join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2);
  if (args[0] === '--summary' || args.length === 0) {
    const w = Number(args[1] ?? 1);
    for (const [e, d, r] of validCombos()) console.log(`${`${e} + ${d} + ${r}`.padEnd(36)} ${countParams(paramTable(e, d, r, w)).toLocaleString('en-US').padStart(13)}`);
  } else {
    const [e, d = 'deconv', r = 'sigmoid', w = '1'] = args as [Encoder, Decoder?, Refine?, string?];
    console.log(formatTable(paramTable(e, d as Decoder, r as Refine, Number(w))));
  }
}
