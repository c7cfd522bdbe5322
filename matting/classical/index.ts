/** Classical matting on the GPU: foreground estimation (and, next, closed-form alpha). */
export {
  estimateForeground,
  estimateForegroundTensor,
  estimateForegroundBackgroundTensor,
  foregroundLevels,
  type ForegroundOptions,
  type RgbArray,
} from './foreground.ts';
