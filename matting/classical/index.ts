/** Classical matting on the GPU: closed-form alpha (Levin et al.) and foreground estimation (Germer et al.). */
export {
  estimateForeground,
  estimateForegroundTensor,
  estimateForegroundBackgroundTensor,
  foregroundLevels,
  type ForegroundOptions,
  type RgbArray,
} from './foreground.ts';
export { closedFormMatte, isKnown, type ClosedFormOptions, type ClosedFormResult } from './closed-form.ts';
export { setupLaplacian, LaplacianOperator, type LaplacianSetup } from './laplacian.ts';
export { JacobiPreconditioner, pcgSolve, type PcgOptions, type PcgPreconditioner, type PcgResult } from './cg.ts';
export { MultigridPreconditioner, type MultigridOptions } from './multigrid.ts';
export { AggregationPreconditioner } from './amg.ts';
export { aggregationHierarchy, type AggregationLevel, type AggregationOptions } from './aggregation.ts';
export { coarsen, fineStencil, stencilHierarchy, type StencilLevel } from './stencil.ts';
export { closedFormPlanar, cutoutRgba } from './planar.ts';
