/**
 * The recorded graph: each differentiable op that sees an input requiring grad attaches a node to
 * its output. A node keeps the op's inputs (for identity), the tensors its backward needs (retained
 * aliases, released as soon as the node's backward has run) and the backward function written
 * beside the forward in the op's own file.
 */
import type { Tensor } from '../tensor.ts';

export interface GradNode {
  op: string;
  output: Tensor;
  inputs: readonly (Tensor | null)[];
  saved: Tensor[];
  /** Gradients for `inputs` (null where an input needs none), given the output's gradient. */
  backward: (gy: Tensor, saved: Tensor[]) => (Tensor | null)[];
}

let gradDepth = 0;

/**
 * A graph that is dropped without a backward (a forward run outside `noGrad`) would pin its saved
 * tensors forever; when its nodes are garbage collected, their saved storage goes back to the pool.
 */
const orphanedSaves = new FinalizationRegistry<Tensor[]>((saved) => {
  for (const t of saved) t.dispose();
});

export function gradEnabled(): boolean {
  return gradDepth === 0;
}

/** Runs `fn` without recording a graph (evaluation, optimiser updates, backward itself). */
export function noGrad<T>(fn: () => T): T {
  gradDepth++;
  try {
    return fn();
  } finally {
    gradDepth--;
  }
}

export async function noGradAsync<T>(fn: () => Promise<T>): Promise<T> {
  gradDepth++;
  try {
    return await fn();
  } finally {
    gradDepth--;
  }
}

export function needsGrad(t: Tensor | null | undefined): boolean {
  return !!t && (t.requiresGrad || t.node !== null);
}

/**
 * Attaches a node to `output` when grad is enabled and some input needs a gradient.
 * `save` lists what backward reads; they are retained, so tidy may dispose the originals.
 */
/** Called once a node's backward has run and released its saved tensors. */
export function forgetNode(node: GradNode): void {
  orphanedSaves.unregister(node);
}

export function record(
  op: string,
  output: Tensor,
  inputs: readonly (Tensor | null)[],
  save: readonly Tensor[],
  backward: GradNode['backward'],
): Tensor {
  if (!gradEnabled() || !inputs.some(needsGrad)) return output;
  const saved = save.map((t) => t.retainAlias());
  output.node = { op, output, inputs: inputs.map((t) => (needsGrad(t) ? t : null)), saved, backward };
  orphanedSaves.register(output.node, saved, output.node);
  return output;
}
