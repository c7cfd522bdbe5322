/** Errors the GPU reported, turned into JS errors that name the kernel or operation involved. */
export class GpuError extends Error {
  override name = 'GpuError';
}

export class KernelCompileError extends GpuError {
  override name = 'KernelCompileError';
}

export class DeviceLostError extends GpuError {
  override name = 'DeviceLostError';
}

/** Formats WGSL compilation messages with the offending source line. */
export function describeCompileMessages(kernel: string, source: string, messages: readonly GPUCompilationMessage[]): string {
  const lines = source.split('\n');
  const parts = messages
    .filter((m) => m.type === 'error')
    .map((m) => {
      const text = lines[m.lineNum - 1] ?? '';
      return `  line ${m.lineNum}:${m.linePos}: ${m.message}\n    ${text.trim()}`;
    });
  return `WGSL compile error in kernel '${kernel}':\n${parts.join('\n')}`;
}
