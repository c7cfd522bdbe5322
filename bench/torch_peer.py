"""PyTorch CPU peer for the conv kernel rows of `matting-engine bench` (optional).

A long-lived process: one JSON request per line on stdin, one JSON answer per line on stdout.
Request: {"N", "C", "H", "O", "K", "S", "dir", "kernels": ["xy", "yx", "w"], "minReps", "maxReps", "budgetMs"}
with x [N, C, H, H], y [N, O, OH, OH] and w [O, C, K, K] as raw little-endian float32 files
dir/x.bin, dir/y.bin, dir/w.bin (NCHW, PyTorch's own layouts), TF SAME padding, stride S.
Kernels (the three the engine's conv rows time, see bench/kernels.ts):
  xy: conv2d(x, w)                 -> dir/out-xy.bin  [N, O, OH, OH]
  yx: conv2d_input (backward-data) -> dir/out-yx.bin  [N, C, H, H]
  w:  conv2d_weight                -> dir/out-w.bin   [O, C, K, K]
conv2d_input / conv2d_weight are torch.nn.grad's, which call aten.convolution_backward, the kernel
autograd runs. Asymmetric SAME padding (stride 2) is an explicit F.pad (inside the timed call) or a
crop of the padded input gradient. Each kernel: one untimed run (its output is written for the
agreement check), then minReps..maxReps timed runs while under budgetMs.
Answer: {"ok": true, "torch": version, "threads": n, "results": {kernel: {"samplesMs": [...]}}}
or {"ok": false, "error": "..."}.
"""
import json
import os
import sys
import time

import torch
import torch.nn.functional as F
from torch.nn.grad import conv2d_input, conv2d_weight

torch.set_grad_enabled(False)
# As many threads as the software adapter runs on (bench/torch-peer.ts passes llvmpipe's count).
if os.environ.get("MATTING_BENCH_TORCH_THREADS"):
    torch.set_num_threads(int(os.environ["MATTING_BENCH_TORCH_THREADS"]))


def same_pad(size, k, s):
    out = -(-size // s)
    total = max((out - 1) * s + k - size, 0)
    return total // 2, total - total // 2, out


def load(path, shape):
    with open(path, "rb") as f:
        data = bytearray(f.read())
    return torch.frombuffer(data, dtype=torch.float32).reshape(shape).clone()


def save(path, t):
    t = t.contiguous()
    try:
        payload = t.numpy().tobytes()
    except Exception:  # torch without numpy
        payload = bytes(t.view(torch.uint8).flatten().tolist())
    with open(path, "wb") as f:
        f.write(payload)


def timed(fn, min_reps, max_reps, budget_ms):
    out = fn()
    samples, spent = [], 0.0
    for rep in range(max_reps):
        if rep >= min_reps and spent >= budget_ms:
            break
        t0 = time.perf_counter()
        fn()
        ms = (time.perf_counter() - t0) * 1000.0
        samples.append(ms)
        spent += ms
    return out, samples


def handle(req):
    N, C, H, O, K, S = (int(req[k]) for k in ("N", "C", "H", "O", "K", "S"))
    d = req["dir"]
    pt, pb, OH = same_pad(H, K, S)
    x = load(os.path.join(d, "x.bin"), (N, C, H, H))
    y = load(os.path.join(d, "y.bin"), (N, O, OH, OH))
    w = load(os.path.join(d, "w.bin"), (O, C, K, K))
    sym = pt == pb
    P = pt if sym else 0
    Hp = H if sym else H + pt + pb

    def padded(t):
        return t if sym else F.pad(t, (pt, pb, pt, pb))

    def xy():
        return F.conv2d(padded(x), w, stride=S, padding=P)

    def yx():
        dx = conv2d_input((N, C, Hp, Hp), w, y, stride=S, padding=P)
        return dx if sym else dx[:, :, pt:pt + H, pt:pt + H]

    def wgrad():
        return conv2d_weight(padded(x), w.shape, y, stride=S, padding=P)

    fns = {"xy": xy, "yx": yx, "w": wgrad}
    results = {}
    for k in req["kernels"]:
        out, samples = timed(fns[k], int(req["minReps"]), int(req["maxReps"]), float(req["budgetMs"]))
        save(os.path.join(d, "out-%s.bin" % k), out)
        results[k] = {"samplesMs": samples}
    return {"ok": True, "torch": torch.__version__, "threads": torch.get_num_threads(), "results": results}


def main():
    print(json.dumps({"ready": True, "torch": torch.__version__, "threads": torch.get_num_threads()}), flush=True)
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        try:
            answer = handle(json.loads(line))
        except Exception as e:  # reported, the process goes on
            answer = {"ok": False, "error": "%s: %s" % (type(e).__name__, e)}
        print(json.dumps(answer), flush=True)


if __name__ == "__main__":
    main()
