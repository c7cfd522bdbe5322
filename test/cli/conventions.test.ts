/**
 * The command line as users expect it (issue: conventions, safe defaults, trimaps from a mask):
 * help and errors, resume semantics, which output predict/eval use, progress on stderr, folder runs
 * with skipped files, output formats, the trimap verb, info without the device. Exact messages.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cli, usageError } from './run-cli.ts';
import { generateSyntheticDataset } from '../../matting/data/synthetic-files.ts';
import { readGrey, encodePng } from '../../matting/data/image-io.ts';
import { paramTable, countParams } from '../model/param-table.ts';
import { ALPHAMATTING } from '../data/helpers.ts';
import { benchOutFile } from '../../cli/bench.ts';

const dir = mkdtempSync(join(tmpdir(), 'matting-cli-'));
const data = join(dir, 'data');
const ed = join(dir, 'ed');
const edCkpt = join(ed, 'last.safetensors');
const small = ['--input-size', '32', '--width', '0.03125', '--batch-size', '2', '--workers', '0'];
// Commands that must fail before touching the GPU run with a backend that does not exist: had they
// started the device, the message would be "unknown backend".
const NO_GPU = { MATTING_BACKEND: 'no-such-backend' };
const E = 'matting-engine: ';
const evalImages = () => join(data, 'eval', 'image');
const evalTrimaps = () => join(data, 'eval', 'trimap');
const firstEval = () => readdirSync(evalImages()).sort()[0]!;

function writeMask(path: string, w: number, h: number, f: (x: number, y: number) => number): void {
  writeFileSync(path, encodePng({ width: w, height: h, channels: 1, data: Float32Array.from({ length: w * h }, (_, i) => f(i % w, Math.floor(i / w))) }));
}

beforeAll(async () => {
  await generateSyntheticDataset(data, { train: 4, eval: 2, size: 64, seed: 5 });
  // An encoder-decoder (stage 1) run: its refinement never trained.
  const t = cli(['train', '--data', join(data, 'train'), ...small, '--stage', 'encoder-decoder', '--steps', '4', '--log-every', '2', '--checkpoint-every', '2', '--out', ed]);
  if (t.code !== 0) throw new Error(t.stderr);
}, 240_000);

describe('help, version, suggestions', () => {
  it('--version, help <verb>, defaults and placeholders in the help', () => {
    const pkg = JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', 'package.json'), 'utf8')) as { version: string };
    expect(cli(['--version']).stdout).toBe(`matting-engine ${pkg.version}\n`);
    const h = cli(['help', 'train']);
    expect(h.code).toBe(0);
    expect(h.stdout).toBe(cli(['train', '--help']).stdout);
    expect(h.stdout).toMatch(/--steps <n> +the total number of training steps .*\(default: preset: tiny 300, paper 100000, resnet50 100000\)/);
    expect(h.stdout).toMatch(/--batch-size <n> +images per step \(default: preset: tiny 4, paper 1, resnet50 2\)/);
    expect(h.stdout).toMatch(/--data <dir> /);
    expect(h.stdout).toMatch(/--encoder <name> +encoder: vgg16-dual, vgg16-4ch, resnet50-dual \(default: preset: tiny vgg16-dual, paper vgg16-dual, resnet50 resnet50-dual\)/);
    expect(h.stdout).toMatch(/--resume <file> /);
    expect(h.stdout).toMatch(/tiny +vgg16-dual at 1\/16 width[^\n]*\n +batch 4, lr 0.001, 300 steps/);
    expect(h.stdout).not.toMatch(/<string>|<number>/);
    expect(cli(['help', 'predict']).stdout).toMatch(/--\[no-\]post-process/);
    expect(cli(['help', 'trimap']).stdout).toMatch(/--band <px\|N%> .*\(default: 3%, at least 2 px\)/);
  });

  it('did you mean, kebab-case names', () => {
    expect(usageError(['trian'])).toMatch(/^matting-engine: unknown command 'trian'; did you mean 'train'\? \(commands: train, predict, eval, .*trimap.*\)$/);
    expect(usageError(['train', '--step', '5'])).toBe(`${E}train: unknown option '--step'; did you mean '--steps'? (see 'matting-engine train --help')`);
    expect(usageError(['train', '--batch-size', '2.5'])).toBe(`${E}train: --batch-size must be a positive integer, got 2.5`);
    expect(usageError(['train', '--input-size', '100'])).toBe(`${E}train: --input-size must be a multiple of 32, got 100`);
    expect(usageError(['predict', '--no-tile'])).toBe(`${E}predict: --no-tile: --tile is not an on/off option, so it has no --no- form`);
    expect(usageError(['predict', '--stage', 'raw'])).toBe(`${E}predict: --stage was renamed --head (auto, raw, refined): it chooses the model's output; train --stage chooses what is trained`);
    expect(usageError(['eval', '--stage', 'raw'])).toMatch(/^matting-engine: eval: --stage was renamed --head/);
  });
});

describe('wrong files are one clear line, before the GPU starts', () => {
  it('a non-checkpoint --model, a directory, a text file', () => {
    const png = join(dir, 'image.png');
    writeMask(png, 4, 4, () => 0);
    const args = (m: string) => ['predict', '--model', m, '--image', png, '--trimap', png, '--out', join(dir, 'o.png')];
    expect(usageError(args(png), NO_GPU)).toBe(`${E}predict: --model ${png} is a PNG image, not a checkpoint (a .safetensors file written by train)`);
    expect(usageError(args(dir), NO_GPU)).toBe(`${E}predict: --model ${dir} is a folder, not a checkpoint (a .safetensors file written by train, e.g. runs/<name>/last.safetensors)`);
    const txt = join(dir, 'notes.txt');
    writeFileSync(txt, 'hello there, not weights');
    expect(usageError(['eval', '--model', txt, '--data', join(data, 'eval')], NO_GPU)).toBe(`${E}eval: --model ${txt} is a text file, not a checkpoint (a .safetensors file written by train)`);
  });

  it('train --data in the evaluation layout is refused and no run folder is made', () => {
    const out = join(dir, 'never');
    expect(usageError(['train', '--data', join(data, 'eval'), '--out', out], NO_GPU)).toBe(
      `${E}train: --data ${join(data, 'eval')} has the evaluation layout (image/, trimap/, alpha/); training needs fg/, alpha/ and bg/ (Composition-1k layout). Give this folder as --val-data instead`,
    );
    expect(existsSync(out)).toBe(false);
  });

  it('--out: a file name for a folder input, a .webp, a JPEG trimap', () => {
    expect(usageError(['predict', edCkpt, evalImages(), evalTrimaps(), join(dir, 'x.png')], NO_GPU)).toBe(`${E}predict: the input is a folder, so --out must be a folder too, not the file name '${join(dir, 'x.png')}'`);
    expect(existsSync(join(dir, 'x.png'))).toBe(false);
    const img = join(evalImages(), firstEval());
    expect(usageError(['predict', edCkpt, img, join(evalTrimaps(), firstEval()), join(dir, 'a.webp')], NO_GPU)).toBe(`${E}predict: --out ${join(dir, 'a.webp')}: can write .png or .jpg files (or give a folder)`);
    expect(usageError(['eval', '--baseline', '--data', join(data, 'eval'), '--csv', dir + '/'], NO_GPU)).toBe(`${E}eval: --csv ${dir}/ is a folder; give a file name (e.g. ${join(dir, 'scores.csv')})`);
    expect(usageError(['trimap', img, join(dir, 't.jpg')])).toBe(`${E}trimap: --out ${join(dir, 't.jpg')}: JPEG would blur the exact 0/128/255 values; write a .png`);
  });
});

describe('resume semantics', () => {
  it('--steps is the total: a reached total is a clear message', () => {
    expect(usageError(['train', '--data', join(data, 'train'), ...small, '--resume', edCkpt, '--steps', '4'], NO_GPU)).toBe(
      `${E}train: ${edCkpt} is at step 4 and --steps 4 is the total, so there is nothing to train; give --steps N with N > 4, or --more-steps N`,
    );
    expect(usageError(['train', '--more-steps', '3'], NO_GPU)).toBe(`${E}train: --more-steps continues a run: give --resume CHECKPOINT too (or use --steps)`);
  });

  it('an existing run folder is refused without --resume or --force', () => {
    expect(usageError(['train', '--data', join(data, 'train'), ...small, '--out', ed], NO_GPU)).toBe(
      `${E}train: ${ed} already holds a run (last.safetensors, metrics.jsonl, loss.svg); continue it with --resume ${edCkpt}, or pass --force to start over in it`,
    );
  });

  it("continues in the checkpoint's own folder and stage, with --more-steps; --force starts over", () => {
    const run = join(dir, 'resumed');
    cpSync(ed, run, { recursive: true });
    const r = cli(['train', '--data', join(data, 'train'), ...small, '--resume', join(run, 'last.safetensors'), '--more-steps', '2', '--log-every', '2']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/stage encoder-decoder, batch 2, lr 0.001, steps 4->6 from /);
    expect(r.stdout).toContain(`output folder: ${run}\n`);
    expect(r.stdout).toMatch(/starting at step 4/);
    const steps = () => readFileSync(join(run, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { step: number }).step);
    expect(steps()).toEqual([2, 4, 6]);
    expect(readdirSync(join(dir)).filter((f) => f.startsWith('runs'))).toEqual([]);
    const f = cli(['train', '--data', join(data, 'train'), ...small, '--out', run, '--force', '--steps', '2', '--log-every', '1']);
    expect(f.code, f.stderr).toBe(0);
    expect(steps()).toEqual([1, 2]);
  });
});

describe('predict and eval use the output that was trained', () => {
  it('raw after an encoder-decoder stage unless told; --no-post-process works; positional arguments', () => {
    const img = join(evalImages(), firstEval()), tri = join(evalTrimaps(), firstEval());
    const auto = cli(['predict', edCkpt, img, tri, join(dir, 'auto.png'), '--json']);
    expect(auto.code, auto.stderr).toBe(0);
    expect(JSON.parse(auto.stdout.trim())).toMatchObject({ type: 'prediction', head: 'raw' });
    const refined = cli(['predict', edCkpt, img, tri, join(dir, 'refined.png'), '--head', 'refined']);
    expect(refined.stdout).toBe(`wrote ${join(dir, 'refined.png')} (refined alpha)\n`);
    expect(readFileSync(join(dir, 'auto.png')).equals(readFileSync(join(dir, 'refined.png')))).toBe(false);
    const raw = cli(['predict', edCkpt, img, tri, join(dir, 'nopp.png'), '--no-post-process']);
    expect(raw.code).toBe(0);
    const a = readGrey(join(dir, 'auto.png')).data, b = readGrey(join(dir, 'nopp.png')).data;
    const t = readGrey(tri).data;
    // Post-processing only changes the trimap's known pixels, where it writes 0 or 255.
    let changedKnown = 0;
    for (let i = 0; i < t.length; i++) {
      if (t[i] === 128) expect(b[i]).toBe(a[i]);
      else {
        expect(a[i]).toBe(t[i]);
        if (b[i] !== a[i]) changedKnown++;
      }
    }
    expect(changedKnown).toBeGreaterThan(0);
    const e = cli(['eval', '--model', edCkpt, '--data', join(data, 'eval'), '--quiet']);
    expect(e.code).toBe(0);
    const j = cli(['eval', '--model', edCkpt, '--data', join(data, 'eval'), '--json']);
    expect((JSON.parse(j.stdout) as { title: string }).title).toMatch(/\(raw alpha\)/);
  });
});

describe('folder runs, outputs, progress on stderr', () => {
  it('reports every skipped file and a summary; one bad file does not stop the batch', () => {
    const imgs = join(dir, 'imgs'), tris = join(dir, 'tris'), out = join(dir, 'out');
    cpSync(evalImages(), imgs, { recursive: true });
    cpSync(evalTrimaps(), tris, { recursive: true });
    cpSync(join(imgs, firstEval()), join(imgs, 'x.webp'));
    writeFileSync(join(imgs, 'broken.png'), Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.from('truncated')]));
    cpSync(join(tris, firstEval()), join(tris, 'broken.png'));
    const r = cli(['predict', edCkpt, imgs, tris, out]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(new RegExp(`^wrote 2 alpha mattes to ${out}, skipped 2: x\\.webp \\(WebP is not supported; convert to PNG\\), broken\\.png \\(.+\\)\\n$`));
    expect(r.stderr).toContain('warning: skipped x.webp: WebP is not supported; convert to PNG\n');
    expect(r.stderr).toMatch(/warning: skipped broken\.png: /);
    expect(readdirSync(out).sort()).toEqual(readdirSync(evalImages()).sort());
    // progress went to stderr as plain lines (not a terminal), never to stdout
    expect(r.stderr).toMatch(/^3\/3 \[=+\] done/m);
    expect(r.stdout).not.toMatch(/\[[=> ]+\]/);
    const ff = cli(['predict', edCkpt, imgs, tris, join(dir, 'out2'), '--fail-fast']);
    expect(ff.code).toBe(1);
    expect(ff.stderr.trim().split('\n').at(-1)).toMatch(/^matting-engine: .*broken\.png: /);
  });

  it('--out a.jpg writes JPEG, --out DIR/ writes DIR/<name>.png', () => {
    const img = join(evalImages(), firstEval()), tri = join(evalTrimaps(), firstEval());
    expect(cli(['predict', edCkpt, img, tri, join(dir, 'a.jpg')]).code).toBe(0);
    expect([...readFileSync(join(dir, 'a.jpg')).subarray(0, 3)]).toEqual([0xff, 0xd8, 0xff]);
    const r = cli(['predict', edCkpt, img, tri, join(dir, 'newdir') + '/']);
    expect(r.code, r.stderr).toBe(0);
    expect(readdirSync(join(dir, 'newdir'))).toEqual([firstEval().replace(/\.\w+$/, '.png')]);
  });

  it('eval > file keeps only the table on stdout', () => {
    const r = cli(['eval', '--pred', evalTrimaps(), '--data', join(data, 'eval')]);
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n')[0]).toMatch(/^eval of /);
    expect(r.stdout).not.toMatch(/\[[=> ]+\]/);
    expect(r.stderr).toMatch(/^2\/2 \[=+\] /m);
  });
});

describe('trimap verb', () => {
  it('makes a band of --band pixels across a known edge (px and % of the shorter side)', () => {
    const mask = join(dir, 'mask.png');
    writeMask(mask, 60, 40, (x) => (x < 25 ? 255 : 0));
    const r = cli(['trimap', '--mask', mask, '--out', join(dir, 't20.png'), '--band', '20']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(`trimap ${join(dir, 't20.png')}: 60x40, band 20 px; 25.0% foreground, 33.3% unknown, 41.7% background\n`);
    const t = readGrey(join(dir, 't20.png'));
    for (let y = 0; y < 40; y++) {
      const row = Array.from(t.data.slice(y * 60, y * 60 + 60));
      expect(row.map((v, x) => (v === 128 ? x : -1)).filter((x) => x >= 0)).toEqual(Array.from({ length: 20 }, (_, i) => 15 + i));
    }
    expect(cli(['trimap', mask, join(dir, 't10p.png'), '--band', '10%']).code).toBe(0);
    expect(Array.from(readGrey(join(dir, 't10p.png')).data.slice(0, 60)).filter((v) => v === 128)).toHaveLength(4);
    expect(usageError(['trimap', mask, join(dir, 'x.png'), '--band', 'wide'])).toBe(`${E}trimap: --band takes pixels (20) or a percentage of the shorter side (3%), got 'wide'`);
  });

  it('folders, with skipped files reported', () => {
    const masks = join(dir, 'masks');
    mkdirSync(masks);
    writeMask(join(masks, 'a.png'), 20, 20, (x, y) => (x + y < 20 ? 255 : 0));
    writeFileSync(join(masks, 'b.gif'), 'GIF89a');
    const r = cli(['trimap', masks, join(dir, 'tris-out'), '--band', '4']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`wrote 1 trimap to ${join(dir, 'tris-out')}, skipped 1: b.gif (GIF is not supported; convert to PNG)\n`);
    expect(readdirSync(join(dir, 'tris-out'))).toEqual(['a.png']);
  });

  it('predict warns about trimaps that are masks or soft mattes, and takes --mask', () => {
    const img = join(evalImages(), firstEval());
    const bin = join(dir, 'binary.png');
    writeMask(bin, 64, 64, (x) => (x < 30 ? 255 : 0));
    const r = cli(['predict', edCkpt, img, bin, join(dir, 'pb.png')]);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe(`warning: ${bin} has no unknown (128) pixels: it looks like a binary mask, and the matte will be the mask itself; make a trimap with: matting-engine trimap --mask ${bin} --out <trimap.png> (or pass it to predict as --mask)\n`);
    const soft = join(data, 'eval', 'alpha', firstEval());
    const s = cli(['predict', edCkpt, img, soft, join(dir, 'ps.png')]);
    expect(s.stderr).toMatch(new RegExp(`^warning: ${soft}: \\d+ pixels \\([\\d.]+%\\) are not 0/128/255 \\(e\\.g\\. [\\d, ]+\\); read as trimap by thresholds \\(<64 background, >191 foreground, else unknown\\)\\. If it is a mask or a soft alpha, make a trimap with: matting-engine trimap --mask `));
    const m = cli(['predict', '--model', edCkpt, '--image', img, '--mask', bin, '--band', '6', '--out', join(dir, 'pm.png')]);
    expect(m.code, m.stderr).toBe(0);
    expect(m.stderr).toBe('');
    const out = readGrey(join(dir, 'pm.png')).data;
    expect(out[5 * 64 + 2]).toBe(255);
    expect(out[5 * 64 + 60]).toBe(0);
  });

  it('real data: trimap from a ground-truth alpha, then predict with it', (ctx) => {
    if (!existsSync(join(ALPHAMATTING, 'image', 'GT01.png'))) ctx.skip(`real data absent: ${ALPHAMATTING} not found`);
    const t = join(dir, 'GT01-trimap.png');
    const r = cli(['trimap', '--mask', join(ALPHAMATTING, 'alpha', 'GT01.png'), '--out', t, '--band', '20']);
    expect(r.code, r.stderr).toBe(0);
    const p = cli(['predict', '--model', edCkpt, '--image', join(ALPHAMATTING, 'image', 'GT01.png'), '--trimap', t, '--out', join(dir, 'GT01-alpha.png')]);
    expect(p.code, p.stderr).toBe(0);
    expect(p.stderr).toBe('');
    const a = readGrey(join(dir, 'GT01-alpha.png'));
    expect([a.width, a.height]).toEqual([800, 497]);
  });
});

describe('info and bench', () => {
  it('info --model builds the parameter table without the device', () => {
    const r = cli(['info', '--model', 'vgg16-dual', '--json'], NO_GPU);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout) as { total: number; tensors: { name: string; shape: number[] }[] };
    const want = paramTable('vgg16-dual', 'deconv', 'sigmoid', 1);
    expect(j.total).toBe(countParams(want));
    expect(j.tensors.map((t) => t.name).sort()).toEqual(want.map((e) => e.name).sort());
    const c = cli(['info', '--model', edCkpt], NO_GPU);
    expect(c.code, c.stderr).toBe(0);
    expect(c.stdout).toMatch(/^model vgg16-dual \/ deconv \/ refine sigmoid, width 0.03125: [\d,]+ parameters/);
  });

  it('bench --out defaults to the current folder, not the package', () => {
    expect(benchOutFile('.', 'llvmpipe', '2026-01-02')).toBe(join(process.cwd(), 'bench-llvmpipe-2026-01-02.json'));
    expect(benchOutFile('/tmp/r', 'x', 'd')).toBe('/tmp/r/bench-x-d.json');
    expect(benchOutFile('/tmp/r/mine.json', 'x', 'd')).toBe('/tmp/r/mine.json');
  });
});
