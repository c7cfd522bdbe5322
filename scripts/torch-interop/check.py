"""
check.py CKPT INPUTS.safetensors OUTPUTS.safetensors [options]

Forward direction (engine -> PyTorch): loads a matting-engine checkpoint (model config from its
metadata 'config' JSON; every tensor not starting with 'optimizer.'; num_batches_tracked as I64)
into the PyTorch mirror of dim_torch.py with load_state_dict(strict=True), runs it in eval mode on
INPUTS ('image' [N,3,S,S] 0..255, 'trimap' [N,1,S,S]) and compares with the engine's OUTPUTS
('rawAlpha', and 'refinedAlpha' unless the model has no refinement).
Error = max |engine - torch| / max |torch| per output, against PyTorch run in float64 (PyTorch's own
float32 error against its float64 run is printed beside it for scale).

Reverse direction (PyTorch -> engine), with --torch-state/--torch-outputs: builds a fresh module of
the same config initialised by PyTorch (seeded; see init_torch_model), writes its state_dict (F32,
num_batches_tracked I64; metadata format + config, so the file is also an engine checkpoint that
`matting-engine predict --model` takes) and its eval-mode outputs on the same INPUTS, for run.ts to
load into the engine and compare.

Exit code 0 when every error is within --tol, 1 otherwise (2 for bad usage).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ beside the sources
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402

import dim_torch  # noqa: E402
from dim_torch import MattingModel, read_safetensors, write_safetensors  # noqa: E402


def rel_error(got: torch.Tensor, want: torch.Tensor) -> float:
    got, want = got.double(), want.double()
    if got.shape != want.shape:
        return math.inf
    scale = max(want.abs().max().item(), 1e-6)
    d = (got - want).abs().max().item()
    return d / scale if math.isfinite(d) else math.inf


def unsaturated(a: torch.Tensor) -> float:
    """Share of outputs strictly inside (0.01, 0.99): a comparison of all-0/all-1 outputs proves little."""
    return ((a > 0.01) & (a < 0.99)).double().mean().item()


def run_model(model: nn.Module, image: torch.Tensor, trimap: torch.Tensor, dtype: torch.dtype):
    model = model.to(dtype).eval()
    with torch.no_grad():
        raw, refined = model(image.to(dtype), trimap.to(dtype))
    return raw, refined


def load_checkpoint(path: str):
    tensors, meta = read_safetensors(path)
    if "config" not in meta:
        raise SystemExit(f"{path}: no 'config' in the metadata (format: {meta.get('format')!r})")
    config = json.loads(meta["config"])
    sd = {k: v for k, v in tensors.items() if not k.startswith("optimizer.")}
    problems = []
    for k, v in sd.items():
        want = torch.int64 if k.endswith("num_batches_tracked") else torch.float32
        if v.dtype != want:
            problems.append(f"{k}: dtype {v.dtype}, PyTorch's state_dict has {want}")
    if problems:
        raise SystemExit("checkpoint dtypes differ from PyTorch's:\n  " + "\n  ".join(problems))
    return config, sd, meta


def _std(t: torch.Tensor) -> float:
    return t.double().std().item() if t.numel() > 1 else 0.0


def init_torch_model(config: dict, seed: int, image: torch.Tensor, trimap: torch.Tensor) -> MattingModel:
    """A PyTorch-initialised model whose outputs are neither constant nor saturated:
    - torch.nn.init.kaiming_normal_ (fan_in, ReLU) on every conv/deconv weight (PyTorch's default
      kaiming_uniform(a=sqrt(5)) shrinks activations ~2.4x per layer, leaving a constant output after
      ~20 layers, which would compare nothing), PyTorch's default uniform biases;
    - batch norm: random affine parameters, running statistics measured on the inputs (one train-mode
      pass with momentum=None, as PyTorch users calibrate BN), so num_batches_tracked = 1;
    - the two 1-channel heads rescaled so their logits have std 2 (sigmoid) or the residual std 0.15:
      on 0..255 inputs they would otherwise be in the hundreds (every alpha exactly 0 or 1)."""
    torch.manual_seed(seed)
    m = MattingModel(config)
    g = torch.Generator().manual_seed(seed + 1)
    bns = []
    with torch.no_grad():
        for mod in m.modules():
            if isinstance(mod, (nn.Conv2d, nn.ConvTranspose2d)):
                nn.init.kaiming_normal_(mod.weight, mode="fan_in", nonlinearity="relu", generator=g)
            elif isinstance(mod, nn.BatchNorm2d):
                mod.weight.uniform_(0.5, 1.5, generator=g)
                mod.bias.uniform_(-0.2, 0.2, generator=g)
                bns.append(mod)
        if bns:
            for bn in bns:
                bn.reset_running_stats()
                bn.momentum = None
            m.train()(image, trimap)
            for bn in bns:
                bn.momentum = 0.1
        m.eval()
        heads = [(m.decoder.alpha, 2.0)]
        if m.refine is not None:
            heads.append((m.refine.alpha, 2.0 if m.refine.kind == "sigmoid" else 0.15))
        for head, target in heads:
            seen = {}
            hook = head.register_forward_hook(lambda mod, inp, out: seen.__setitem__("z", out))
            m(image, trimap)
            hook.remove()
            z = seen["z"] - (head.bias.view(1, -1, 1, 1) if head.bias is not None else 0)
            if _std(z) > 0:
                head.weight.mul_(target / _std(z))
    return m


class PyTorchIdiomaticDeconv(nn.ConvTranspose2d):
    """What a PyTorch user would likely write for a 'same' transposed conv:
    padding=(k-1)//2, output_padding=s-1. Used as a negative control only."""

    def __init__(self, src: nn.ConvTranspose2d):
        k, s = src.kernel_size[0], src.stride[0]
        super().__init__(src.in_channels, src.out_channels, k, stride=s, padding=(k - 1) // 2, output_padding=s - 1)
        self.load_state_dict(src.state_dict())


def negative_control(model: MattingModel, image, trimap, raw64) -> float | None:
    """Error of the PyTorch-idiomatic transposed convs against the TF-SAME ones (None without them)."""
    dec = model.decoder
    if not isinstance(dec, dim_torch.DeconvDecoder):
        return None
    import copy

    alt = copy.deepcopy(model)
    for name in alt.decoder.names:
        setattr(alt.decoder, name, PyTorchIdiomaticDeconv(getattr(alt.decoder, name)))
    raw, _ = run_model(alt, image, trimap, torch.float64)
    return rel_error(raw, raw64)


def train_mode_check(config, sd, image, trimap, path, tol, result) -> bool:
    """One train-mode forward (no grad) from the checkpoint's state: batch norm normalises with the
    batch statistics and updates running_mean/running_var (unbiased)/num_batches_tracked. Compares the
    engine's outputs and buffers afterwards (file entries 'rawAlpha', 'refinedAlpha', 'state.<name>')."""
    theirs, _ = read_safetensors(path)
    m = MattingModel(config)
    m.load_state_dict(sd, strict=True)
    m = m.double().train()
    with torch.no_grad():
        raw, refined = m(image.double(), trimap.double())
    ok = True
    res = {}
    for name, t in (("rawAlpha", raw), ("refinedAlpha", refined)):
        if t is not None and name in theirs:
            res[name] = rel_error(theirs[name], t)
    worst_buf, worst_name, counters_ok = 0.0, "", True
    state = m.state_dict()
    for k, v in theirs.items():
        if not k.startswith("state."):
            continue
        name = k[len("state."):]
        if name.endswith("num_batches_tracked"):
            counters_ok &= int(v.item()) == int(state[name].item())
        else:
            e = rel_error(v, state[name])
            if e > worst_buf:
                worst_buf, worst_name = e, name
    n_buffers = sum(1 for k in theirs if k.startswith("state."))
    res["buffers"] = worst_buf
    ok = all(v <= tol for v in res.values()) and counters_ok
    result["train_mode"] = {**res, "counters_exact": counters_ok, "ok": ok}
    print(f"[torch] train mode (1 forward): outputs " + ", ".join(f"{k} {v:.3e}" for k, v in res.items() if k != "buffers")
          + (f"; {n_buffers} batch-norm buffers: running stats worst {worst_buf:.3e} ({worst_name}), "
             f"num_batches_tracked {'equal' if counters_ok else 'DIFFER'}" if n_buffers else "; no batch norm")
          + f"  {'OK' if ok else 'FAIL'}")
    return ok


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoint")
    ap.add_argument("inputs")
    ap.add_argument("outputs")
    ap.add_argument("--tol", type=float, default=1e-3, help="max relative error accepted (default 1e-3)")
    ap.add_argument("--torch-state", help="write a PyTorch-initialised state_dict here (reverse direction)")
    ap.add_argument("--torch-outputs", help="write that model's outputs on INPUTS here")
    ap.add_argument("--train", help="engine's train-mode outputs and buffers after one train-mode forward from CKPT (see run.ts)")
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--json", help="append the results as one JSON line to this file")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    config, sd, _ = load_checkpoint(args.checkpoint)
    label = f"{config['encoder']}+{config['decoder']}+{config['refine']} (width {config['width']}, imageMean {config.get('imageMean')})"
    model = MattingModel(config)
    model.load_state_dict(sd, strict=True)  # raises on any missing/unexpected name or shape
    print(f"[torch] {label}: load_state_dict(strict=True) OK, {len(sd)} tensors, "
          f"{sum(v.numel() for k, v in sd.items() if not k.endswith('num_batches_tracked'))} values")

    inputs, _ = read_safetensors(args.inputs)
    ours, _ = read_safetensors(args.outputs)
    image, trimap = inputs["image"], inputs["trimap"]

    raw64, ref64 = run_model(model, image, trimap, torch.float64)
    raw32, ref32 = run_model(model, image, trimap, torch.float32)
    result = {"config": label, "forward": {}, "ok": True}
    ok = True
    for name, t64, t32 in (("rawAlpha", raw64, raw32), ("refinedAlpha", ref64, ref32)):
        if t64 is None:
            if name in ours:
                print(f"[torch] {name}: engine wrote one but the model has no refinement")
                ok = False
            continue
        if name not in ours:
            print(f"[torch] {name}: missing from {args.outputs}")
            ok = False
            continue
        e = rel_error(ours[name], t64)
        e32 = rel_error(t32, t64)
        u = unsaturated(t64)
        good = e <= args.tol
        ok &= good
        result["forward"][name] = {"engine_vs_torch64": e, "torch32_vs_torch64": e32, "unsaturated": u}
        print(f"[torch] forward {name:12s} max rel err engine vs torch(f64) = {e:.3e}   "
              f"(torch f32 vs f64 = {e32:.3e}; {100 * u:.0f}% of outputs in (0.01, 0.99))  {'OK' if good else 'FAIL'}")
    model = model.float()

    ctrl = negative_control(model, image, trimap, raw64)
    if ctrl is not None:
        result["control_pytorch_idiomatic_deconv"] = ctrl
        print(f"[torch] negative control: ConvTranspose2d(padding=(k-1)//2, output_padding=s-1) instead of TF SAME "
              f"-> rawAlpha rel err {ctrl:.3e} (must be far above the tolerance)")

    if args.train:
        ok &= train_mode_check(config, sd, image, trimap, args.train, args.tol, result)

    if args.torch_state or args.torch_outputs:
        tm = init_torch_model(config, args.seed, image, trimap)
        raw32, refined32 = run_model(tm, image, trimap, torch.float32)
        raw, refined = run_model(tm, image, trimap, torch.float64)
        tm = tm.float()
        result["reverse_torch32_vs_torch64"] = {"rawAlpha": rel_error(raw32, raw)}
        if refined is not None:
            result["reverse_torch32_vs_torch64"]["refinedAlpha"] = rel_error(refined32, refined)
        if args.torch_state:
            write_safetensors(args.torch_state, {k: v for k, v in tm.state_dict().items()},
                              {"format": "matting-engine-checkpoint/1", "config": json.dumps(config),
                               "source": "pytorch " + torch.__version__})
            print(f"[torch] wrote PyTorch-initialised state_dict ({len(tm.state_dict())} tensors) to {args.torch_state}")
        if args.torch_outputs:
            outs = {"rawAlpha": raw.float()}
            if refined is not None:
                outs["refinedAlpha"] = refined.float()
            write_safetensors(args.torch_outputs, outs)
            result["reverse_unsaturated"] = {k: unsaturated(v.double()) for k, v in outs.items()}
            print(f"[torch] wrote its outputs (computed in f64) to {args.torch_outputs}; "
                  + ", ".join(f"{k}: {100 * v:.0f}% in (0.01, 0.99), torch f32 vs f64 {result['reverse_torch32_vs_torch64'][k]:.3e}"
                              for k, v in result["reverse_unsaturated"].items()))

    result["ok"] = bool(ok)
    if args.json:
        with open(args.json, "a") as f:
            f.write(json.dumps(result) + "\n")
    print(f"[torch] {label}: {'PASS' if ok else 'FAIL'} (tol {args.tol:g})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
