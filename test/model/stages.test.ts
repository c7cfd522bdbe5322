/**
 * The paper's training stages (matting/train/stages.ts): which parameters train, which loss terms
 * count, and which modules run in eval mode, checked through one real optimiser step.
 */
import { describe, expect, it } from 'vitest';
import { useEngine } from '../helpers/gpu.ts';
import { MattingModel } from '../../matting/graph/model.ts';
import { applyStage } from '../../matting/train/stages.ts';
import { mattingLosses } from '../../matting/losses.ts';
import { Adam } from '../../engine/optim/adam.ts';
import { backward } from '../../engine/autograd/backward.ts';
import { keep, tidy } from '../../engine/scope.ts';
import type { ModelConfig } from '../../matting/graph/config.ts';
import { syntheticBatch } from './helpers.ts';

useEngine();

const SIZE = 32;

/** Every parameter's and buffer's values, by name. */
async function snapshot(model: MattingModel): Promise<Map<string, Float32Array>> {
  const out = new Map<string, Float32Array>();
  for (const [name, t] of [...model.namedParameters(), ...model.namedBuffers()]) out.set(name, await t.data());
  return out;
}

function changed(before: Map<string, Float32Array>, after: Map<string, Float32Array>): string[] {
  return [...before].filter(([name, v]) => !v.every((x, i) => x === after.get(name)![i])).map(([name]) => name);
}

/** One optimiser step of the stage's loss; returns the loss terms' values. */
async function stepOnce(model: MattingModel, stage: Parameters<typeof applyStage>[1], cfg: { lr?: number } = {}) {
  const weights = applyStage(model, stage);
  const batch = syntheticBatch(3, SIZE);
  // Adam over ALL parameters: frozen ones get no gradient, so the optimiser must skip them.
  const opt = new Adam(model.parameters(), { lr: cfg.lr ?? 1e-2 });
  const terms = tidy(() => {
    const l = mattingLosses(model.forward(batch.image, batch.trimap), batch, weights);
    backward(l.total);
    return { alpha: l.alpha && keep(l.alpha), composition: l.composition && keep(l.composition), refined: l.refined && keep(l.refined) };
  });
  const withGrad = model.namedParameters().filter(([, p]) => p.grad).map(([n]) => n);
  opt.step();
  const values = {
    alpha: terms.alpha ? await terms.alpha.item() : null,
    composition: terms.composition ? await terms.composition.item() : null,
    refined: terms.refined ? await terms.refined.item() : null,
  };
  Object.values(terms).forEach((t) => t?.dispose());
  opt.dispose();
  batch.dispose();
  return { weights, values, withGrad };
}

const tiny = (c: Partial<ModelConfig>) => new MattingModel({ width: 1 / 32, inputSize: SIZE, ...c });

describe('training stages', () => {
  it("'encoder-decoder' freezes the refinement and drops its loss term", async () => {
    const model = tiny({ encoder: 'vgg16-dual', refine: 'sigmoid', lossWeights: { alpha: 1, composition: 0.5, refined: 2 } });
    const before = await snapshot(model);
    const { weights, values, withGrad } = await stepOnce(model, 'encoder-decoder');
    expect(weights).toEqual({ alpha: 1, composition: 0.5, refined: 0 });
    expect(values.refined).toBeNull();
    expect(values.alpha).toBeGreaterThan(0);
    expect(values.composition).toBeGreaterThan(0);
    for (const [name, p] of model.namedParameters()) expect(p.requiresGrad, name).toBe(!name.startsWith('refine.'));
    expect(withGrad.filter((n) => n.startsWith('refine.'))).toEqual([]);
    const moved = changed(before, await snapshot(model));
    expect(moved.filter((n) => n.startsWith('refine.'))).toEqual([]);
    // everything else trains (with a 1e-2 Adam step every parameter with a gradient moves)
    const others = model.namedParameters().map(([n]) => n).filter((n) => !n.startsWith('refine.'));
    expect(others.filter((n) => !moved.includes(n))).toEqual([]);
    expect(model.training && model.encoder.training && model.decoder.training).toBe(true);
    model.dispose();
  });

  it("'refine' trains only refine.* parameters, on the refined loss alone, encoder and decoder in eval mode", async () => {
    const model = tiny({ encoder: 'vgg16-dual', decoder: 'unpool', refine: 'sigmoid' });
    const before = await snapshot(model);
    const { weights, values, withGrad } = await stepOnce(model, 'refine');
    expect(weights).toEqual({ alpha: 0, composition: 0, refined: 1 });
    expect(values.alpha).toBeNull();
    expect(values.composition).toBeNull();
    expect(values.refined).toBeGreaterThan(0);
    expect(withGrad.length).toBeGreaterThan(0);
    expect(withGrad.filter((n) => !n.startsWith('refine.'))).toEqual([]);
    const moved = changed(before, await snapshot(model));
    expect(moved.length).toBeGreaterThan(0);
    expect(moved.filter((n) => !n.startsWith('refine.'))).toEqual([]);
    for (const [name, m] of model.namedModules()) {
      if (name.startsWith('encoder') || name.startsWith('decoder')) expect(m.training, name).toBe(false);
      if (name.startsWith('refine')) expect(m.training, name).toBe(true);
    }
    model.dispose();
  });

  it("'refine' with a ResNet encoder leaves the batch-norm running statistics alone", async () => {
    // eval mode: a single 32x32 image runs (training-mode BN would refuse layer4's 1x1 maps)
    const model = tiny({ encoder: 'resnet50-dual', refine: 'residual' });
    const before = await snapshot(model);
    const { withGrad } = await stepOnce(model, 'refine');
    expect(withGrad.filter((n) => !n.startsWith('refine.'))).toEqual([]);
    const moved = changed(before, await snapshot(model));
    expect(moved.filter((n) => !n.startsWith('refine.'))).toEqual([]);
    model.dispose();
  });

  it("'joint' trains everything on all three terms; stages can follow each other", async () => {
    const model = tiny({ encoder: 'vgg16-4ch', refine: 'sigmoid' });
    await stepOnce(model, 'refine');
    const before = await snapshot(model);
    const { weights, values, withGrad } = await stepOnce(model, 'joint');
    expect(weights).toEqual({ alpha: 1, composition: 1, refined: 1 });
    expect(Object.values(values).every((v) => v !== null && v > 0)).toBe(true);
    for (const [name, p] of model.namedParameters()) expect(p.requiresGrad, name).toBe(true);
    for (const [name, m] of model.namedModules()) expect(m.training, name).toBe(true);
    expect(withGrad.length).toBe(model.namedParameters().length);
    expect(changed(before, await snapshot(model)).length).toBe(model.namedParameters().length);
    model.dispose();
  });

  it("'refine' needs a refinement; a stage with no active loss term is refused", () => {
    const model = tiny({ refine: 'none' });
    expect(() => applyStage(model, 'refine')).toThrow(/needs a model with refinement/);
    const w = applyStage(model, 'encoder-decoder');
    expect(w.refined).toBe(0);
    const batch = syntheticBatch(3, SIZE);
    expect(() => tidy(() => mattingLosses(model.forward(batch.image, batch.trimap), batch, { alpha: 0, composition: 0, refined: 1 }))).toThrow(/no loss term is active/);
    batch.dispose();
    model.dispose();
  });
});
