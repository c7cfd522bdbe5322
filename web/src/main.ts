/**
 * The page: open or drop an image, give a trimap (a file, brushes, or a rough mask and a band
 * width), run the model on this page's WebGPU device, look at and download the alpha and the
 * cut-out, and fine-tune the model on a corrected alpha. Uses the same core entries as the CLI.
 */
import { parseCheckpoint, modelFromCheckpoint, disposeCheckpoint, predictAlpha, estimateForeground, type MattingModel } from '../../matting/index.ts';
import { startEngine, NoWebGpu } from './gpu.ts';
import { decodeImageFile, rgbPlanes, greyPlane, alphaBytes, type Rgba } from './images.ts';
import { encodePng } from './png.ts';
import { TrimapEditor, type Tool } from './trimap-editor.ts';
import { drawResult, drawLoss, parseColour, type View, type Backdrop } from './result-view.ts';
import { fineTune } from './finetune.ts';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const setText = (id: string, text: string, error = false) => {
  const el = $(id);
  el.textContent = text;
  el.classList.toggle('error', error);
};

const state = {
  gpu: false,
  model: null as MattingModel | null,
  modelName: '',
  image: null as Rgba | null,
  imageName: 'image',
  alpha8: null as Uint8Array | null,
  target: null as Float32Array | null,
  busy: false,
};
const editor = new TrimapEditor($('trimap-canvas'));

function refreshButtons(): void {
  const ready = state.gpu && !!state.model && !!state.image && !!editor.trimap && !state.busy;
  ($('run') as HTMLButtonElement).disabled = !ready;
  ($('finetune') as HTMLButtonElement).disabled = !ready || !state.target;
  ($('download-trimap') as HTMLButtonElement).disabled = !editor.trimap;
  ($('download-alpha') as HTMLButtonElement).disabled = !state.alpha8;
  ($('download-cutout') as HTMLButtonElement).disabled = !state.alpha8;
  document.body.dataset.ready = ready ? '1' : '0';
}

function describeTrimap(): void {
  const r = editor.regions();
  if (!state.image) return setText('trimap-status', 'Open an image first.');
  if (!r) return setText('trimap-status', 'No trimap yet: load one, paint one, or draw a rough mask.');
  const n = r.bg + r.unknown + r.fg;
  const pct = (v: number) => `${((100 * v) / n).toFixed(1)}%`;
  setText('trimap-status', `Trimap: ${pct(r.fg)} foreground, ${pct(r.unknown)} unknown, ${pct(r.bg)} background.${r.unknown ? '' : ' (No unknown pixels: the alpha will be the trimap itself.)'}`);
}
editor.onChange = () => {
  describeTrimap();
  refreshButtons();
};

// --- model -------------------------------------------------------------------------------------

async function loadModel(bytes: ArrayBuffer, name: string): Promise<void> {
  const ckpt = parseCheckpoint(bytes, name);
  try {
    const model = modelFromCheckpoint(ckpt);
    state.model?.dispose();
    state.model = model;
    state.modelName = name;
    const c = model.config;
    setText('model-status', `Model: ${name} (${c.encoder}/${c.decoder}, refine ${c.refine}, ${(model.parameterCount() / 1e6).toFixed(2)}M parameters).`);
  } finally {
    disposeCheckpoint(ckpt);
  }
  refreshButtons();
}

/** The model `serve` offers (its --model, or the shipped default), when there is one. */
async function loadServedModel(): Promise<void> {
  const res = await fetch('model.safetensors');
  if (!res.ok) {
    setText('model-status', `The server offers no model (${res.status}${res.status === 404 ? ': start it with --model CKPT, or load a checkpoint here' : ''}).`);
    return;
  }
  setText('model-status', 'Loading the served model...');
  await loadModel(await res.arrayBuffer(), res.headers.get('x-model-name') ?? 'model.safetensors');
}

$('model-file').addEventListener('change', async (e) => {
  const f = (e.target as HTMLInputElement).files?.[0];
  if (!f || !state.gpu) return;
  setText('model-status', `Loading ${f.name}...`);
  try {
    await loadModel(await f.arrayBuffer(), f.name);
  } catch (err) {
    setText('model-status', `${f.name}: ${(err as Error).message}`, true);
  }
});

// --- image and trimap --------------------------------------------------------------------------

async function openImage(f: File): Promise<void> {
  try {
    const img = await decodeImageFile(f);
    state.image = img;
    state.imageName = f.name.replace(/\.[^.]*$/, '') || 'image';
    state.alpha8 = null;
    state.target = null;
    setText('target-status', 'none');
    editor.setImage(img);
    // Small images are shown enlarged (pixelated) so they can be painted on; large ones shrink to fit.
    const zoom = Math.max(1, Math.min(8, Math.floor(480 / Math.max(img.width, img.height))));
    for (const id of ['trimap-canvas', 'result-canvas']) $(id).style.width = `${img.width * zoom}px`;
    setText('image-status', `${f.name}: ${img.width}x${img.height}`);
    describeTrimap();
  } catch (err) {
    setText('image-status', (err as Error).message, true);
  }
  refreshButtons();
}

/** A same-size grey file (trimap, mask, alpha): its first channel, or a clear error. */
async function openGrey(f: File, what: string): Promise<Float32Array | null> {
  if (!state.image) {
    setText('trimap-status', `Open the image before its ${what}.`, true);
    return null;
  }
  try {
    const img = await decodeImageFile(f);
    if (img.width !== state.image.width || img.height !== state.image.height) {
      throw new Error(`${f.name} is ${img.width}x${img.height} but the image is ${state.image.width}x${state.image.height}`);
    }
    return greyPlane(img);
  } catch (err) {
    setText(what === 'corrected alpha' ? 'target-status' : 'trimap-status', (err as Error).message, true);
    return null;
  }
}

const fileOf = (e: Event) => (e.target as HTMLInputElement).files?.[0];
$('image-file').addEventListener('change', (e) => fileOf(e) && openImage(fileOf(e)!));
$('trimap-file').addEventListener('change', async (e) => {
  const v = fileOf(e) && (await openGrey(fileOf(e)!, 'trimap'));
  if (v) editor.setTrimap(v);
});
$('mask-file').addEventListener('change', async (e) => {
  const v = fileOf(e) && (await openGrey(fileOf(e)!, 'mask'));
  if (v) editor.setMask(v);
});
const drop = $('drop-zone');
drop.addEventListener('dragover', (e) => (e.preventDefault(), drop.classList.add('over')));
drop.addEventListener('dragleave', () => drop.classList.remove('over'));
drop.addEventListener('drop', (e) => {
  e.preventDefault();
  drop.classList.remove('over');
  const f = e.dataTransfer?.files[0];
  if (f) openImage(f);
});
for (const r of document.querySelectorAll<HTMLInputElement>('input[name=tool]')) {
  r.addEventListener('change', () => {
    editor.tool = r.value as Tool;
    editor.draw();
  });
}
const slider = (id: string, apply: (v: number) => void) => {
  const el = $(id) as HTMLInputElement;
  const update = () => {
    setText(`${id}-value`, el.value);
    apply(Number(el.value));
  };
  el.addEventListener('input', update);
  update();
};
slider('band', (v) => editor.setBand(v));
slider('brush', (v) => (editor.brushRadius = v / 2));
$('trimap-clear').addEventListener('click', () => editor.clear());

// --- running the model -------------------------------------------------------------------------

async function run(): Promise<void> {
  if (!state.model || !state.image || !editor.trimap) return;
  state.busy = true;
  refreshButtons();
  const progress = $('progress') as HTMLProgressElement;
  progress.hidden = false;
  progress.removeAttribute('value');
  const t0 = performance.now();
  const ticker = setInterval(() => setText('run-status', `Running the network... ${((performance.now() - t0) / 1000).toFixed(0)} s`), 500);
  try {
    const { width, height } = state.image;
    const alpha = await predictAlpha(
      state.model,
      { width, height, data: rgbPlanes(state.image) },
      { width, height, data: editor.trimap },
      { tileSize: 1024, tileOverlap: 64, onProgress: (done, total) => ((progress.max = total), (progress.value = done)) },
    );
    state.alpha8 = alphaBytes(alpha);
    showResult();
    setText('run-status', `Done in ${((performance.now() - t0) / 1000).toFixed(1)} s (${width}x${height}).`);
    document.body.dataset.matted = String(Number(document.body.dataset.matted ?? 0) + 1);
  } catch (err) {
    setText('run-status', `The model failed: ${(err as Error).message}`, true);
  } finally {
    clearInterval(ticker);
    progress.hidden = true;
    state.busy = false;
    refreshButtons();
  }
}
$('run').addEventListener('click', run);

function showResult(): void {
  if (!state.image || !state.alpha8) return;
  const view = (document.querySelector<HTMLInputElement>('input[name=view]:checked')?.value ?? 'cutout') as View;
  const kind = document.querySelector<HTMLInputElement>('input[name=backdrop]:checked')?.value;
  const backdrop: Backdrop = kind === 'colour' ? { kind: 'colour', rgb: parseColour(($('backdrop-colour') as HTMLInputElement).value) } : { kind: 'checker' };
  drawResult($('result-canvas'), state.image, state.alpha8, view, backdrop);
}
for (const el of document.querySelectorAll<HTMLInputElement>('input[name=view], input[name=backdrop], #backdrop-colour')) el.addEventListener('input', showResult);

/**
 * The RGBA cut-out as `predict --cutout` writes it: the foreground colours estimated on the GPU
 * (multi-level foreground estimation), so the old background does not bleed into soft edges.
 */
async function cutoutWithForeground(img: Rgba, alpha8: Uint8Array): Promise<Uint8Array> {
  const n = img.width * img.height;
  const planes = rgbPlanes(img).map((v) => v / 255);
  const alpha = Float32Array.from(alpha8, (v) => v / 255);
  const F = await estimateForeground({ width: img.width, height: img.height, data: planes, layout: 'chw' }, alpha);
  const rgb = new Uint8Array(4 * n);
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < 3; c++) rgb[i * 4 + c] = Math.round(F[c * n + i]! * 255);
    rgb[i * 4 + 3] = alpha8[i]!;
  }
  return rgb;
}

async function download(kind: 'alpha' | 'cutout' | 'trimap'): Promise<void> {
  if (!state.image) return;
  const { width, height } = state.image;
  let png: Uint8Array;
  if (kind === 'trimap') {
    if (!editor.trimap) return;
    png = await encodePng(width, height, 1, Uint8Array.from(editor.trimap));
  } else {
    if (!state.alpha8) return;
    png = kind === 'alpha' ? await encodePng(width, height, 1, state.alpha8) : await encodePng(width, height, 4, await cutoutWithForeground(state.image, state.alpha8));
  }
  const a = document.createElement('a');
  a.href = URL.createObjectURL(new Blob([png as BlobPart], { type: 'image/png' }));
  a.download = `${state.imageName}.${kind}.png`;
  a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
}
$('download-alpha').addEventListener('click', () => download('alpha'));
$('download-trimap').addEventListener('click', () => download('trimap'));
$('download-cutout').addEventListener('click', () => download('cutout'));

// --- fine-tuning -------------------------------------------------------------------------------

$('target-file').addEventListener('change', async (e) => {
  const v = fileOf(e) && (await openGrey(fileOf(e)!, 'corrected alpha'));
  if (!v) return;
  state.target = v.map((x) => x / 255);
  setText('target-status', fileOf(e)!.name);
  refreshButtons();
});

$('finetune').addEventListener('click', async () => {
  if (!state.model || !state.image || !editor.trimap || !state.target) return;
  const steps = Number(($('ft-steps') as HTMLInputElement).value);
  const lr = Number(($('ft-lr') as HTMLInputElement).value);
  const crop = Number(($('ft-crop') as HTMLInputElement).value);
  if (!(steps >= 1 && steps <= 1000) || !(lr > 0) || !(crop >= 32 && crop % 32 === 0)) {
    setText('ft-status', 'Steps must be 1-1000, the learning rate above 0, the crop a multiple of 32.', true);
    return;
  }
  state.busy = true;
  refreshButtons();
  const losses: number[] = [];
  try {
    const { width, height } = state.image;
    await fineTune(state.model, { width, height, data: rgbPlanes(state.image) }, editor.trimap, state.target, {
      steps,
      lr,
      crop,
      onStep: (step, loss) => {
        losses.push(loss);
        document.body.dataset.losses = JSON.stringify(losses);
        drawLoss($('loss-canvas'), losses);
        setText('ft-status', `step ${step}/${steps}: loss ${loss.toFixed(5)}`);
      },
    });
    setText('ft-status', `Fine-tuned ${steps} steps: loss ${losses[0]!.toFixed(5)} -> ${losses.at(-1)!.toFixed(5)}. Predicting again...`);
    document.body.dataset.finetuned = String(losses.length);
  } catch (err) {
    setText('ft-status', `Fine-tuning failed: ${(err as Error).message}`, true);
  } finally {
    state.busy = false;
    refreshButtons();
  }
  if (losses.length === steps) {
    await run();
    if (state.alpha8) setText('ft-status', `Fine-tuned ${steps} steps: loss ${losses[0]!.toFixed(5)} -> ${losses.at(-1)!.toFixed(5)}; the result above is the tuned model's.`);
  }
});

// --- start -------------------------------------------------------------------------------------

(async () => {
  try {
    setText('gpu-status', await startEngine((why) => setText('gpu-status', why, true)));
    state.gpu = true;
    await loadServedModel().catch((err) => setText('model-status', `The served model did not load: ${(err as Error).message}`, true));
  } catch (err) {
    setText('gpu-status', err instanceof NoWebGpu ? err.message : `WebGPU failed to start: ${(err as Error).message}`, true);
    for (const b of document.querySelectorAll<HTMLButtonElement>('button')) b.disabled = true;
  }
  document.body.dataset.started = state.gpu ? 'ok' : 'failed';
  refreshButtons();
})();
