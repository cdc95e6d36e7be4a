"""The embedded engine's network and training step in PyTorch, for the step benchmark's comparison.

Same shape as packages/engine/src/tf/model.ts at the benchmark's settings (N 64, gridsize 1,
nFiltersScale 2: widths 32-64-128; padObject and probeBig; sigmoid amplitude, pi*tanh phase), the
same physics (probe * object, |fftshift(fft2)|^2 times a learned intensity scale) and the Poisson
negative log-likelihood. Prints one JSON line: step and forward medians in ms, samples/s, params.

    /usr/bin/python3 torch_step.py [threads] [batch] [iterations]
"""

import json
import math
import sys
import time

import torch
from torch import nn
import torch.nn.functional as F

threads = int(sys.argv[1]) if len(sys.argv) > 1 else 2
batch = int(sys.argv[2]) if len(sys.argv) > 2 else 16
iterations = int(sys.argv[3]) if len(sys.argv) > 3 else 10
torch.set_num_threads(threads)
torch.manual_seed(1)
N, f = 64, 32


def conv(ci, co):
    return nn.Conv2d(ci, co, 3, padding=1)


class Decoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.d1a, self.d1b = conv(4 * f, 2 * f), conv(2 * f, 2 * f)
        self.d2a, self.d2b = conv(2 * f, f), conv(f, f)
        self.inner = conv(f - 4, 1)
        self.outer_a, self.outer_b, self.outer_out = conv(4, f), conv(f, f), conv(f, 1)

    def forward(self, h, activation, border):
        up = lambda t: F.interpolate(t, scale_factor=2, mode="nearest")
        x = up(F.relu(self.d1b(F.relu(self.d1a(h)))))
        x = up(F.relu(self.d2b(F.relu(self.d2a(x)))))
        centre = F.pad(activation(self.inner(x[:, : f - 4])), (N // 4,) * 4)
        outer = up(F.relu(self.outer_b(F.relu(self.outer_a(x[:, f - 4 :])))))
        return centre + F.silu(self.outer_out(outer)) * border


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc = nn.ModuleList([conv(1, f), conv(f, f), conv(f, 2 * f), conv(2 * f, 2 * f), conv(2 * f, 4 * f), conv(4 * f, 4 * f)])
        self.amp, self.phase = Decoder(), Decoder()
        self.log_scale = nn.Parameter(torch.tensor(math.log(100.0)))
        r = torch.hypot(*torch.meshgrid(torch.arange(N) - N / 2 + 0.5, torch.arange(N) - N / 2 + 0.5, indexing="ij"))
        self.register_buffer("probe", torch.complex(1 / (1 + torch.exp((r - N / 4) / 1.5)), torch.zeros(N, N)))
        border = torch.ones(1, 1, N, N)
        border[..., N // 4 : 3 * N // 4, N // 4 : 3 * N // 4] = 0
        self.register_buffer("border", border)

    def forward(self, x):
        h = x
        for level in range(3):
            h = F.max_pool2d(F.relu(self.enc[2 * level + 1](F.relu(self.enc[2 * level](h)))), 2)
        amplitude = self.amp(h, torch.sigmoid, self.border)
        phase = self.phase(h, lambda t: math.pi * torch.tanh(t), self.border)
        obj = torch.polar(amplitude, phase)[:, 0]
        spectrum = torch.fft.fftshift(torch.fft.fft2(self.probe * obj, norm="ortho"), dim=(-2, -1))
        return (spectrum.abs() ** 2) * torch.exp(2 * self.log_scale)


model = Model()
params = sum(p.numel() for p in model.parameters())
x = torch.rand(batch, 1, N, N)
observed = torch.rand(batch, N, N) * 100
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)


def step():
    optimizer.zero_grad(set_to_none=True)
    predicted = model(x)
    loss = torch.mean(predicted - observed * torch.log(predicted + 1e-6))
    loss.backward()
    return loss.item()


def forward():
    with torch.no_grad():
        model(x).sum().item()


def median_ms(fn, warmup=2):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(iterations):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return sorted(times)[len(times) // 2]


step_ms = median_ms(step)
forward_ms = median_ms(forward)
print(json.dumps({
    "torch": torch.__version__,
    "threads": torch.get_num_threads(),
    "batch": batch,
    "parameters": params,
    "stepMs": step_ms,
    "forwardMs": forward_ms,
    "samplesPerSecond": batch * 1000 / step_ms,
}))
