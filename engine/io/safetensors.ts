/**
 * safetensors checkpoints: reader and writer for CPU typed arrays (no GPU involved).
 *
 * Format (huggingface safetensors):
 *   [8 bytes]  N, the header length, unsigned 64-bit little-endian
 *   [N bytes]  UTF-8 JSON object:
 *                { "__metadata__": { string: string },            (optional)
 *                  "<tensor name>": { "dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end] },
 *                  ... }
 *              padded with spaces (0x20) so that 8 + N is a multiple of 8
 *   [rest]     data section: the tensors' raw bytes, little-endian, row-major, packed back to
 *              back with no gaps; data_offsets are relative to the start of this section.
 *   Scalars have shape [] (one element); a 0 anywhere in the shape means an empty tensor.
 *   Supported dtypes: F64 F32 F16 BF16 I64 I32 I16 I8 U8 BOOL (others are rejected).
 *
 * Writer guarantees (writeSafetensors):
 *   - Deterministic: tensors are laid out and listed in insertion order (Map order, or
 *     Object.keys order for a record: beware integer-like keys, which JS puts first), with
 *     `__metadata__` first and omitted when empty; compact JSON identical to the reference
 *     implementation's for the same order. Same input => byte-identical file, and
 *     write(read(file)) reproduces a file this module wrote byte for byte.
 *   - Streaming: tensor data is written with positional handle writes, one tensor at a time in
 *     chunks of at most 64 MiB; only the header is assembled in memory.
 *   - Atomic: everything goes to `<path>.tmp-<pid>-<random>` in the same folder, which is
 *     fsynced, renamed over `path`, then the folder is fsynced. A crash or SIGKILL at any point
 *     leaves the previous `path` intact (at worst a stray temp file, which never has the
 *     checkpoint's name and is itself rejected by the reader if incomplete; see
 *     removeStaleTempFiles). All inputs are validated before the temp file is created.
 *   - Refuses tensor names '__metadata__' and '__proto__', metadata key '__proto__', strings
 *     with lone surrogates, wrong byte counts and unknown dtypes.
 *
 * In memory (safetensors-bytes.ts, no file system): parseSafetensors(bytes) applies the reader's
 * validation to an ArrayBuffer / Uint8Array; serializeSafetensors gives the writer's bytes.
 *
 * Reader guarantees (readSafetensorsHeader / readSafetensors):
 *   - The whole header is validated before any tensor is returned (no partial loads): file
 *     length, header length (<= 100 MB and inside the file), strict UTF-8, strict JSON with no
 *     duplicate keys at any depth, header and entries are objects, __metadata__ maps strings to
 *     strings, each entry has exactly dtype/shape/data_offsets with the right types, known
 *     dtype, shape of non-negative safe integers (not "2.0"), product(shape) * size ==
 *     end - begin, begin <= end <= data size, and the ranges tile the data section exactly
 *     (overlaps, gaps and uncovered trailing bytes are all rejected, by name).
 *   - Prototype safety: the JSON is parsed into Maps (never plain objects); any key
 *     '__proto__' anywhere in the header is rejected; 'constructor', 'prototype' and other
 *     names are ordinary tensor names in the returned Map; metadata is a null-prototype object.
 *   - The 8-byte alignment of data is NOT required when reading (older reference files lack
 *     the padding); the JSON may be followed by any JSON whitespace.
 *   - Tensor data is read per tensor with positional FileHandle.read calls (never one
 *     whole-file buffer), each tensor into its own ArrayBuffer.
 *   - Problems with the file's content throw SafetensorsError with the message
 *     `<file>: <what is wrong> (tensor '<name>')`; plain I/O failures (ENOENT, EACCES...) are
 *     Node's own errors.
 */

export {
  DTYPES,
  HOST_IS_LITTLE_ENDIAN,
  SafetensorsError,
  bf16Entry,
  boolEntry,
  dtypeSize,
  f16Entry,
  f32Entry,
  f64Entry,
  i16Entry,
  i32Entry,
  i64Entry,
  i8Entry,
  isDtype,
  tensorByteLength,
  toFloat32,
  toTypedArray,
  u8Entry,
  type Dtype,
  type DtypeArrays,
  type TensorEntry,
} from './safetensors-common.ts';
export {
  readSafetensors,
  readSafetensorsHeader,
  validateHeader,
  type SafetensorsHeader,
  type TensorInfo,
} from './safetensors-read.ts';
export { removeStaleTempFiles, writeSafetensors } from './safetensors-write.ts';
export { parseSafetensors, serializeSafetensors, type SafetensorsContent } from './safetensors-bytes.ts';
