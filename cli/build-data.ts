/** `matting-engine build-data`: a photographic training folder (fg/ alpha/ bg/) from real mattes and photographs. */
import { parseArgs, helpText, UsageError } from './args.ts';
import { DEVICE_OPTIONS } from './common-options.ts';
import { initEngine, shutdownEngine } from '../engine/engine.ts';
import { ALPHAMATTING_VALIDATION, DEBIAN_PHOTO_DIRS, buildTrainingData } from '../matting/data/builder.ts';

const SPEC = {
  from: { type: 'string', arg: '<dir>', help: 'folder with image/ and alpha/ (alphamatting.com layout): the real foregrounds' },
  out: { type: 'string', arg: '<dir>', help: 'output training folder (fg/, alpha/, bg/, manifest.json); must be new or empty' },
  exclude: { type: 'string', arg: '<names>', default: ALPHAMATTING_VALIDATION.join(','), help: 'comma-separated names never read (the validation set); "" for none' },
  photos: { type: 'string', arg: '<dirs>', default: DEBIAN_PHOTO_DIRS.join(','), help: 'comma-separated folders of background photographs (scripts/install-backgrounds.sh installs the default)' },
  procedural: { type: 'number', default: 200, arg: '<n>', integer: true, min: 0, help: 'procedural-alpha foregrounds coloured with photo patches' },
  knownBackgrounds: { type: 'number', default: 4, arg: '<n>', integer: true, min: 0, help: "pure-background crops taken from each training image" },
  maxSide: { type: 'number', default: 1024, arg: '<px>', integer: true, min: 64, help: 'long side of the written photographs' },
  seed: { type: 'number', default: 0, arg: '<n>', integer: true, min: 0, help: 'seed of every random choice' },
  linkValidation: { type: 'boolean', help: 'also write OUT/val/ with symbolic links to the excluded images (for eval and train --val-data)' },
  quiet: { type: 'boolean', help: 'print only the result' },
  ...DEVICE_OPTIONS,
} as const;

export async function buildDataCommand(argv: string[]): Promise<number> {
  const o = parseArgs(argv, SPEC, 'build-data');
  if (o.help) {
    process.stdout.write(helpText('build-data', 'Builds a Composition-1k style training folder the way Deep Image Matting does: real foregrounds (colours estimated from image + alpha on the GPU) and procedural alphas coloured with photo patches, to be composited onto photographs and pure-background crops by `train --data OUT`.', SPEC, '--from DIR --out DIR'));
    return 0;
  }
  if (o._.length) throw new UsageError(`build-data: unexpected argument '${o._[0]}'`);
  if (!o.from) throw new UsageError('build-data: --from DIR is required (a folder with image/ and alpha/)');
  if (!o.out) throw new UsageError('build-data: --out DIR is required');
  for (const k of ['procedural', 'knownBackgrounds', 'seed'] as const) {
    if (!(Number.isInteger(o[k]) && o[k] >= 0)) throw new UsageError(`build-data: --${k.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())} must be a non-negative integer, got ${o[k]}`);
  }
  if (!(Number.isInteger(o.maxSide) && o.maxSide >= 64)) throw new UsageError(`build-data: --max-side must be an integer >= 64, got ${o.maxSide}`);
  const list = (s: string | undefined) => (s ?? '').split(',').map((x) => x.trim()).filter(Boolean);
  await initEngine({ backend: o.backend, adapter: o.adapter });
  try {
    const r = await buildTrainingData({
      from: o.from, out: o.out, exclude: list(o.exclude), photoDirs: list(o.photos), procedural: o.procedural,
      knownBackgroundCrops: o.knownBackgrounds, maxSide: o.maxSide, seed: o.seed, linkValidation: o.linkValidation,
      log: o.quiet ? undefined : (m) => process.stderr.write(`build-data: ${m}\n`),
    });
    for (const d of r.missingPhotoDirs) process.stderr.write(`build-data: warning: photo folder ${d} not found (run scripts/install-backgrounds.sh, or pass --photos DIR)\n`);
    process.stdout.write(
      `build-data: wrote ${r.out}: ${r.foregrounds.length} real foregrounds (${r.foregrounds.join(' ')}), ${r.procedural} procedural, ` +
        `${r.photos} photographs + ${r.knownBackgrounds} pure-background crops as backgrounds; never read: ${r.excluded.join(' ') || '(none)'}\n`,
    );
    return 0;
  } finally {
    shutdownEngine();
  }
}
