/** Loading a trained model from a checkpoint for predict/eval, and image plane conversions. */
export { loadModel as modelFromCheckpoint } from '../matting/checkpoint.ts';
export { toPlanar } from '../matting/planar.ts';
