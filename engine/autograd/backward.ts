/**
 * Reverse-mode walk: a topological order of the nodes reachable from the loss, then one pass in
 * reverse. Each gradient is disposed once its node has consumed it and each node's saved tensors
 * are released right after its backward, so peak memory is the forward's plus one frontier.
 */
import { Tensor } from '../tensor.ts';
import { keep } from '../scope.ts';
import { forgetNode, noGrad, type GradNode } from './graph.ts';
import { EXPR, addInto, copy, fill, mapElementwise } from '../kernels/elementwise.ts';

function topoOrder(root: GradNode): GradNode[] {
  const order: GradNode[] = [];
  const seen = new Set<GradNode>();
  // Iterative DFS: deep networks would overflow a recursive one.
  const stack: [GradNode, number][] = [[root, 0]];
  seen.add(root);
  while (stack.length) {
    const top = stack[stack.length - 1]!;
    const [node, i] = top;
    if (i < node.inputs.length) {
      top[1]++;
      const child = node.inputs[i]?.node;
      if (child && !seen.has(child)) {
        seen.add(child);
        stack.push([child, 0]);
      }
    } else {
      order.push(node);
      stack.pop();
    }
  }
  return order; // inputs before outputs
}

function releaseNode(node: GradNode): void {
  for (const s of node.saved) s.dispose();
  node.saved = [];
  node.output.node = null;
  forgetNode(node);
}

/**
 * Accumulates `g` into the gradient held for `t`, taking ownership of `g`. Out of place: a backward
 * may hand the same storage to several inputs (add's gradient is its output gradient, twice).
 */
function accumulate(store: Map<Tensor, Tensor>, t: Tensor, g: Tensor): void {
  const prev = store.get(t);
  if (!prev) {
    store.set(t, g);
    return;
  }
  store.set(t, mapElementwise('addGrad', EXPR.add, [prev, g]));
  prev.dispose();
  g.dispose();
}

export function backward(loss: Tensor, gradOutput?: Tensor): void {
  if (!gradOutput && loss.size !== 1) {
    throw new Error(`backward() without a gradient needs a scalar, got shape [${loss.shape}]`);
  }
  const root = loss.node;
  if (!root) {
    if (loss.requiresGrad) {
      noGrad(() => accumulateLeaf(loss, gradOutput ? gradOutput.detach() : fill(loss.shape, 1)));
      return;
    }
    throw new Error('backward(): the tensor has no graph (nothing it depends on requires grad, or the graph was already used)');
  }
  noGrad(() => {
    const grads = new Map<Tensor, Tensor>();
    grads.set(loss, gradOutput ? gradOutput.detach() : fill(loss.shape, 1));
    const order = topoOrder(root);
    for (let k = order.length - 1; k >= 0; k--) {
      const node = order[k]!;
      const gy = grads.get(node.output);
      grads.delete(node.output);
      if (!gy) {
        releaseNode(node);
        continue;
      }
      const gins = node.backward(gy, node.saved);
      gy.dispose();
      releaseNode(node);
      node.inputs.forEach((input, i) => {
        const g = gins[i];
        if (!input || !g) {
          g?.dispose();
          return;
        }
        if (g.size !== input.size) {
          throw new Error(`backward of ${node.op}: gradient [${g.shape}] does not match input [${input.shape}]`);
        }
        if (input.node) accumulate(grads, input, g);
        else if (input.requiresGrad) accumulateLeaf(input, g);
        else g.dispose();
      });
    }
    for (const g of grads.values()) g.dispose();
  });
}

function accumulateLeaf(leaf: Tensor, g: Tensor): void {
  if (leaf.grad && !leaf.grad.disposed) {
    addInto(leaf.grad, g);
    g.dispose();
  } else {
    // `.grad` is updated in place later, so it must own its storage.
    leaf.grad = keep(g.storage.shared ? copy(g, leaf.shape) : g.shape.length === leaf.shape.length ? g : g.view(leaf.shape));
    if (leaf.grad !== g) g.dispose();
  }
}
