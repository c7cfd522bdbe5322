"""
A plain PyTorch mirror of matting-engine's Deep Image Matting network (matting/graph/*.ts), with
exactly the engine's parameter names, so that an engine checkpoint loads with
`load_state_dict(strict=True)` and the two give the same outputs.

Semantics copied from the TypeScript sources (see docs/dim-model.md for the design):
  * channels: scaled(c, width) = max(1, Math.round(c * width)); JavaScript's Math.round rounds
    halves up (2.5 -> 3), Python's round() to even (2.5 -> 2), so js_round() below is used.
  * VGG-16 branch: conv3x3 (padding 1) + ReLU, max-pool 2x2/2 after each of 5 blocks, fc6 = 7x7 conv
    with TensorFlow SAME padding + ReLU.
  * ResNet-50 branch: torchvision's layout (conv1 7x7/2 pad 3, bn1, ReLU, max-pool 3x3/2 pad 1,
    bottlenecks with the stride on the 3x3 conv), no pooling/fc at the end. BatchNorm eps 1e-5.
  * deconv decoder: ConvTranspose2d with TF SAME semantics (output = input * stride; the crop before
    is floor(max((in-1)*s + k - out, 0) / 2), the rest of the crop after), ReLU after each; the
    1x1/2 deconv6 gives 2H rows of which the last gets no input (bias only).
  * unpool decoder: deconv6 = 1x1 conv (no stride), then 5x [max-unpool with the image branch's
    pooling indices, 5x5 SAME conv + ReLU].
  * alpha: 5x5 SAME conv to 1 channel + sigmoid.
  * refinement: on cat(image (0..255, never mean-subtracted), raw_alpha * 255): 3x [conv3x3 pad 1 +
    ReLU], conv3x3 to 1; 'sigmoid' -> sigmoid(r), 'residual' -> clamp(raw_alpha + r, 0, 1).
  * imageMean 'imagenet': the VGG mean is subtracted from the image fed to the encoder only;
    'torchvision': (x - mean) / std with torchvision's constants (0..255 scale), encoder only.
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

IMAGENET_MEAN = [123.68, 116.779, 103.939]
TORCHVISION_MEAN = [123.675, 116.28, 103.53]
TORCHVISION_STD = [58.395, 57.12, 57.375]
VGG16_BLOCKS = [[64, 64], [128, 128], [256, 256, 256], [512, 512, 512], [512, 512, 512]]
FC6_CHANNELS = 4096
RESNET50_LAYERS = [(64, 3), (128, 4), (256, 6), (512, 3)]
EXPANSION = 4
DECONV_CHANNELS = [  # name, channels, kernel, stride
    ("deconv6", 512, 1, 2),
    ("deconv5", 512, 5, 2),
    ("deconv4", 256, 5, 2),
    ("deconv3", 128, 5, 2),
    ("deconv2", 64, 5, 2),
    ("deconv1", 64, 5, 1),
]
UNPOOL_CHANNELS = [("deconv5", 512), ("deconv4", 256), ("deconv3", 128), ("deconv2", 64), ("deconv1", 64)]


def js_round(x: float) -> int:
    """JavaScript's Math.round: halves go up (towards +infinity)."""
    return int(math.floor(x + 0.5))


def scaled(channels: int, width: float) -> int:
    return max(1, js_round(channels * width))


def tf_same_pad(size: int, k: int, s: int, d: int = 1) -> tuple[int, int]:
    """TensorFlow's SAME padding of one axis: (before, after), the odd extra pixel after."""
    out = -(-size // s)
    total = max((out - 1) * s + (k - 1) * d + 1 - size, 0)
    return total // 2, total - total // 2


class SameConv2d(nn.Conv2d):
    """nn.Conv2d with TensorFlow SAME padding (asymmetric when needed), applied with F.pad."""

    def __init__(self, cin: int, cout: int, k: int, stride: int = 1, bias: bool = True):
        super().__init__(cin, cout, k, stride=stride, padding=0, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        kh, kw = self.kernel_size
        sh, sw = self.stride
        dh, dw = self.dilation
        t, b = tf_same_pad(x.shape[2], kh, sh, dh)
        l, r = tf_same_pad(x.shape[3], kw, sw, dw)
        if t or b or l or r:
            x = F.pad(x, (l, r, t, b))
        return super().forward(x)


class SameConvTranspose2d(nn.ConvTranspose2d):
    """TensorFlow's conv2d_transpose with SAME padding: output = input * stride.

    The full (padding 0) transposed conv has (in-1)*s + k rows; TF keeps rows
    [before, before + out) with before = floor(max((in-1)*s + k - out, 0) / 2), and rows past the full
    output (when k < s) are zero before the bias. NOTE: this is not PyTorch's usual
    `ConvTranspose2d(k=5, s=2, padding=2, output_padding=1)`, which keeps rows [2, 2H+2): one pixel
    shifted from TF's [1, 2H+1).
    """

    def __init__(self, cin: int, cout: int, k: int, stride: int, bias: bool = True):
        super().__init__(cin, cout, k, stride=stride, padding=0, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        kh, kw = self.kernel_size
        sh, sw = self.stride
        dh, dw = self.dilation
        h, w = x.shape[2], x.shape[3]
        oh, ow = h * sh, w * sw
        full = F.conv_transpose2d(x, self.weight, None, stride=self.stride, dilation=self.dilation)
        t = max((h - 1) * sh + (kh - 1) * dh + 1 - oh, 0) // 2
        l = max((w - 1) * sw + (kw - 1) * dw + 1 - ow, 0) // 2
        need_h, need_w = t + oh - full.shape[2], l + ow - full.shape[3]
        if need_h > 0 or need_w > 0:
            full = F.pad(full, (0, max(need_w, 0), 0, max(need_h, 0)))
        y = full[:, :, t:t + oh, l:l + ow]
        if self.bias is not None:
            y = y + self.bias.view(1, -1, 1, 1)
        return y


# ---------------------------------------------------------------------------------------------- VGG


class Vgg16Branch(nn.Module):
    def __init__(self, in_channels: int, width: float):
        super().__init__()
        c = in_channels
        self.names: list[list[str]] = []
        for b, block in enumerate(VGG16_BLOCKS):
            row = []
            for i, ch in enumerate(block):
                out = scaled(ch, width)
                name = f"conv{b + 1}_{i + 1}"
                setattr(self, name, nn.Conv2d(c, out, 3, padding=1))
                row.append(name)
                c = out
            self.names.append(row)
        self.out_channels = scaled(FC6_CHANNELS, width)
        self.fc6 = SameConv2d(c, self.out_channels, 7)

    def forward(self, x: torch.Tensor, with_indices: bool):
        pools = []
        h = x
        for row in self.names:
            for name in row:
                h = F.relu(getattr(self, name)(h))
            size = (h.shape[2], h.shape[3])
            if with_indices:
                h, idx = F.max_pool2d(h, 2, 2, return_indices=True)
                pools.append((idx, size))
            else:
                h = F.max_pool2d(h, 2, 2)
        return F.relu(self.fc6(h)), pools


# ------------------------------------------------------------------------------------------- ResNet


class Bottleneck(nn.Module):
    def __init__(self, cin: int, mid: int, stride: int):
        super().__init__()
        out = mid * EXPANSION
        self.conv1 = nn.Conv2d(cin, mid, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(mid)
        self.conv2 = nn.Conv2d(mid, mid, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(mid)
        self.conv3 = nn.Conv2d(mid, out, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out)
        self.downsample = (
            nn.Sequential(nn.Conv2d(cin, out, 1, stride=stride, bias=False), nn.BatchNorm2d(out))
            if stride != 1 or cin != out
            else None
        )

    def forward(self, x):
        h = F.relu(self.bn1(self.conv1(x)))
        h = F.relu(self.bn2(self.conv2(h)))
        h = self.bn3(self.conv3(h))
        skip = self.downsample(x) if self.downsample is not None else x
        return F.relu(h + skip)


class ResNet50Branch(nn.Module):
    def __init__(self, in_channels: int, width: float):
        super().__init__()
        stem = scaled(64, width)
        self.conv1 = nn.Conv2d(in_channels, stem, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(stem)
        c = stem
        for i, (mid, count) in enumerate(RESNET50_LAYERS):
            m = scaled(mid, width)
            blocks = []
            for j in range(count):
                blocks.append(Bottleneck(c if j == 0 else m * EXPANSION, m, (1 if i == 0 else 2) if j == 0 else 1))
            setattr(self, f"layer{i + 1}", nn.Sequential(*blocks))
            c = m * EXPANSION
        self.out_channels = c

    def forward(self, x):
        h = F.relu(self.bn1(self.conv1(x)))
        h = F.max_pool2d(h, 3, 2, 1)
        for i in range(4):
            h = getattr(self, f"layer{i + 1}")(h)
        return h


# ------------------------------------------------------------------------------------------ encoder


class Encoder(nn.Module):
    def __init__(self, encoder: str, width: float):
        super().__init__()
        self.kind = encoder
        if encoder == "vgg16-4ch":
            self.image = Vgg16Branch(4, width)
            self.trimap = None
        elif encoder == "vgg16-dual":
            self.image = Vgg16Branch(3, width)
            self.trimap = Vgg16Branch(1, width)
        elif encoder == "resnet50-dual":
            self.image = ResNet50Branch(3, width)
            self.trimap = ResNet50Branch(1, width)
        else:
            raise ValueError(f"unknown encoder {encoder!r}")
        self.out_channels = self.image.out_channels + (self.trimap.out_channels if self.trimap is not None else 0)

    def forward(self, image, trimap, with_indices: bool):
        if self.kind == "vgg16-4ch":
            return self.image(torch.cat([image, trimap], 1), with_indices)
        if self.kind == "vgg16-dual":
            a, pools = self.image(image, with_indices)
            b, _ = self.trimap(trimap, False)
            return torch.cat([a, b], 1), pools
        return torch.cat([self.image(image), self.trimap(trimap)], 1), []


# ----------------------------------------------------------------------------------------- decoders


class DeconvDecoder(nn.Module):
    def __init__(self, in_channels: int, width: float):
        super().__init__()
        c = in_channels
        self.names = []
        for name, ch, k, s in DECONV_CHANNELS:
            out = scaled(ch, width)
            setattr(self, name, SameConvTranspose2d(c, out, k, s))
            self.names.append(name)
            c = out
        self.alpha = SameConv2d(c, 1, 5)

    def forward(self, features, pools):
        h = features
        for name in self.names:
            h = F.relu(getattr(self, name)(h))
        return torch.sigmoid(self.alpha(h))


def max_unpool2d(x: torch.Tensor, indices: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """F.max_unpool2d(x, indices, 2, 2, output_size=size) written as a scatter: the same result, without
    the output-size check that imports sympy (Debian's python3-sympy 1.11 is too old for torch 2.13)."""
    n, c = x.shape[:2]
    out = x.new_zeros(n, c, size[0] * size[1])
    out.scatter_(2, indices.reshape(n, c, -1), x.reshape(n, c, -1))
    return out.view(n, c, size[0], size[1])


class UnpoolDecoder(nn.Module):
    def __init__(self, in_channels: int, width: float):
        super().__init__()
        pool_channels = [scaled(c, width) for c in [512, 512, 256, 128, 64]]
        self.deconv6 = nn.Conv2d(in_channels, pool_channels[0], 1)
        self.names = []
        for i, (name, ch) in enumerate(UNPOOL_CHANNELS):
            setattr(self, name, SameConv2d(pool_channels[i], scaled(ch, width), 5))
            self.names.append(name)
        self.alpha = SameConv2d(scaled(64, width), 1, 5)

    def forward(self, features, pools):
        h = F.relu(self.deconv6(features))
        for i, name in enumerate(self.names):
            idx, size = pools[4 - i]
            h = max_unpool2d(h, idx, size)
            h = F.relu(getattr(self, name)(h))
        return torch.sigmoid(self.alpha(h))


# --------------------------------------------------------------------------------------- refinement


class Refinement(nn.Module):
    def __init__(self, kind: str, width: float):
        super().__init__()
        self.kind = kind
        c = scaled(64, width)
        self.conv1 = nn.Conv2d(4, c, 3, padding=1)
        self.conv2 = nn.Conv2d(c, c, 3, padding=1)
        self.conv3 = nn.Conv2d(c, c, 3, padding=1)
        self.alpha = nn.Conv2d(c, 1, 3, padding=1)

    def forward(self, image, raw_alpha):
        h = torch.cat([image, raw_alpha * 255], 1)
        for conv in (self.conv1, self.conv2, self.conv3):
            h = F.relu(conv(h))
        r = self.alpha(h)
        return torch.sigmoid(r) if self.kind == "sigmoid" else torch.clamp(raw_alpha + r, 0, 1)


# ------------------------------------------------------------------------------------------- model


class MattingModel(nn.Module):
    """config: the engine's ModelConfig (a dict: encoder, decoder, refine, width, imageMean, ...)."""

    def __init__(self, config: dict):
        super().__init__()
        self.config = dict(config)
        width = float(config.get("width", 1))
        dec = config.get("decoder", "deconv")
        ref = config.get("refine", "sigmoid")
        if dec == "unpool" and config.get("encoder") == "resnet50-dual":
            raise ValueError("decoder 'unpool' needs a VGG encoder")
        self.encoder = Encoder(config.get("encoder", "vgg16-dual"), width)
        self.decoder = (DeconvDecoder if dec == "deconv" else UnpoolDecoder)(self.encoder.out_channels, width)
        self.refine = None if ref == "none" else Refinement(ref, width)
        tv = config.get("imageMean", "none") == "torchvision"
        self.register_buffer(
            "_mean", torch.tensor(TORCHVISION_MEAN if tv else IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False
        )
        self.register_buffer(
            "_std", torch.tensor(TORCHVISION_STD if tv else [1.0, 1.0, 1.0]).view(1, 3, 1, 1), persistent=False
        )

    def forward(self, image: torch.Tensor, trimap: torch.Tensor):
        """image [N,3,S,S] 0..255, trimap [N,1,S,S] 0/128/255 -> (raw_alpha, refined_alpha or None)."""
        norm = self.config.get("imageMean", "none")
        x = (image - self._mean.to(image.dtype)) / self._std.to(image.dtype) if norm != "none" else image
        features, pools = self.encoder(x, trimap, self.config.get("decoder", "deconv") == "unpool")
        raw = self.decoder(features, pools)
        refined = self.refine(image, raw) if self.refine is not None else None
        return raw, refined


# -------------------------------------------------------------------------------------- safetensors
# A tiny reader/writer of the format (the `safetensors` package is not needed): 8-byte little-endian
# header length N, N bytes of JSON ({name: {dtype, shape, data_offsets}, "__metadata__": {...}}),
# then the raw little-endian row-major data.

import json
import struct

_DTYPES = {
    "F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
    "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8, "U8": torch.uint8,
    "BOOL": torch.bool,
}
_NAMES = {v: k for k, v in _DTYPES.items()}


def read_safetensors(path: str) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n].decode("utf-8"))
    meta = header.pop("__metadata__", {}) or {}
    base = 8 + n
    out = {}
    for name, info in header.items():
        b, e = info["data_offsets"]
        dt = _DTYPES[info["dtype"]]
        buf = bytearray(raw[base + b:base + e])
        t = torch.frombuffer(buf, dtype=dt) if e > b else torch.empty(0, dtype=dt)
        out[name] = t.reshape(info["shape"]).clone()
    return out, meta


def _tensor_bytes(t: torch.Tensor) -> bytes:
    if t.numel() == 0:
        return b""
    flat = t.reshape(-1).view(torch.uint8)
    try:
        return flat.numpy().tobytes()
    except Exception:  # torch without numpy
        return bytes(flat.tolist())


def write_safetensors(path: str, tensors: dict[str, torch.Tensor], metadata: dict[str, str] | None = None) -> None:
    header: dict = {}
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    blobs = []
    at = 0
    for name, t in tensors.items():
        t = t.detach().contiguous().cpu()
        data = _tensor_bytes(t)
        header[name] = {"dtype": _NAMES[t.dtype], "shape": list(t.shape), "data_offsets": [at, at + len(data)]}
        blobs.append(data)
        at += len(data)
    js = json.dumps(header, separators=(",", ":")).encode("utf-8")
    js += b" " * ((8 - (8 + len(js)) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(js)))
        f.write(js)
        for b in blobs:
            f.write(b)
