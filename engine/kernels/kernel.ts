/**
 * One launcher type for all kernels: a kernel is WGSL text plus a named list of scalar uniforms.
 * The uniform struct is generated from that list, so the TypeScript side packs values by name and
 * one compiled pipeline serves every call whatever the shapes (shapes travel in uniforms).
 * WGSL that varies with a specialisation (workgroup size, tile sizes) is a different source string
 * and gets its own cached pipeline.
 */
export type ScalarType = 'u32' | 'i32' | 'f32';

export interface KernelDef {
  /** Shown in every error that concerns this kernel. */
  name: string;
  /** Uniform fields in order; available in WGSL as `u.<name>`. */
  uniforms: readonly (readonly [string, ScalarType])[];
  /** Storage bindings in order: `read` -> read-only storage, `write` -> read_write storage. */
  storage: readonly (readonly [string, 'read' | 'write', string])[];
  /** The body: helper functions and the `@compute` entry point named `main`. */
  body: string;
  /** WGSL extensions the body needs (`enable NAME;` lines first), e.g. `subgroups`. */
  enables?: readonly string[];
}

export type UniformValues = Record<string, number>;

/** The full WGSL module for a kernel: uniform struct, bindings, then the body. */
export function kernelSource(def: KernelDef): string {
  const lines: string[] = (def.enables ?? []).map((name) => `enable ${name};`);
  if (def.uniforms.length > 0) {
    lines.push('struct Params {');
    for (const [name, type] of def.uniforms) lines.push(`  ${name}: ${type},`);
    lines.push('}');
    lines.push('@group(0) @binding(0) var<uniform> u: Params;');
  }
  def.storage.forEach(([name, access, type], i) => {
    const mode = access === 'read' ? 'read' : 'read_write';
    lines.push(`@group(0) @binding(${i + 1}) var<storage, ${mode}> ${name}: ${type};`);
  });
  return `${lines.join('\n')}\n${def.body}`;
}

/** Bytes of a kernel's uniform block, rounded to the 16-byte size rule of uniform buffers. */
export function uniformByteSize(def: KernelDef): number {
  return Math.max(16, Math.ceil((def.uniforms.length * 4) / 16) * 16);
}

/** Packs uniform values by name; a missing or non-finite value is a bug in the launcher. */
export function packUniforms(def: KernelDef, values: UniformValues, out: DataView, offset: number): void {
  def.uniforms.forEach(([name, type], i) => {
    const v = values[name];
    if (v === undefined || !Number.isFinite(v)) {
      throw new Error(`kernel ${def.name}: uniform '${name}' is ${v}`);
    }
    const at = offset + i * 4;
    if (type === 'f32') out.setFloat32(at, v, true);
    else if (type === 'i32') out.setInt32(at, v, true);
    else {
      if (v < 0 || v > 0xffffffff || !Number.isInteger(v)) throw new Error(`kernel ${def.name}: uniform '${name}' = ${v} is not a u32`);
      out.setUint32(at, v, true);
    }
  });
}

/**
 * WGSL helper for 2-D dispatch: a flat invocation index from a grid whose x extent is capped at
 * 65,535 workgroups. Use with `@builtin(global_invocation_id) gid` and
 * `@builtin(num_workgroups) nwg` and the kernel's workgroup size `WG`.
 */
export function flatIndex(workgroupSize: number): string {
  return `(gid.x + gid.y * nwg.x * ${workgroupSize}u)`;
}

/** Workgroup counts covering `threads` invocations in 1-D, folded into y past the x cap. */
export function grid1d(threads: number, workgroupSize: number, maxPerDim = 65535): [number, number, number] {
  const groups = Math.max(1, Math.ceil(threads / workgroupSize));
  if (groups <= maxPerDim) return [groups, 1, 1];
  const y = Math.ceil(groups / maxPerDim);
  const x = Math.ceil(groups / y);
  if (y > maxPerDim) throw new Error(`dispatch of ${threads} invocations exceeds the 2-D grid`);
  return [x, y, 1];
}
