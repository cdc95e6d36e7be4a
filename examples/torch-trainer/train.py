#!/usr/bin/env python3
"""A small PyTorch trainer that runs a trainkit training payload (the `payload` dialect).

    python3 train.py --payload <run>/payload.json     # or: TRAINKIT_PAYLOAD=<file> python3 train.py

payload.json is `{"kind": "training", "config": {"model", "training", "execution"}}` with camelCase
fields (legacy-params.json beside it is not needed). The model is a few convolutions mapping a
diffraction amplitude to the complex object patch; `model.modelType` "supervised" fits the ground
truth `Y` of the data, "pinn" fits |FFT(probe * object)| to the measured amplitude
(`training.torchLossMode` poisson or mae). Writes `metrics.csv` (epoch, lr, step, train_loss
[, val_loss]), `model.pt` (the state_dict), `checkpoints/best.pt` and `settings-used.json` (every setting it read,
as it read it, and the ones it settled differently at run time, such as checkpointMonitor val_loss
without test data) to `training.outputDir`, and one line per epoch on stdout.

A setting it cannot honour stops it before training: exit code 2 and a message on stderr.
"""

import argparse, contextlib, csv, json, math, os, signal, sys

import numpy as np
import torch
from torch import nn

# Every field of the payload is HONOURED, INERT (no effect on what this trainer computes: FNO knobs,
# probe-mask shape while probeMask is false, neighbour search at gridsize 1, loader tuning of data that
# sit in memory, upstream's dispatcher `backend`, nphotons (the data are normalised amplitudes and the
# intensity scale is fitted to them), inference-only settings) or RESTRICTED to what it can honour.
# Upstream geometry knobs with no counterpart here (objectBig, probeBig, padObject, probeScale)
# accept only their defaults. A field in none of the lists gets a warning on stderr.
HONOURED = {
    "model": "N gridsize nFiltersScale modelType architecture generatorOutputMode ampActivation probeMask",
    "training": "trainDataFile testDataFile batchSize nepochs nGroups subsampleSeed sequentialSampling "
                "probeTrainable intensityScaleTrainable outputDir torchLossMode foldCount foldIndex",
    "execution": "accelerator computeThreads precision deterministic seed optimizer learningRate momentum weightDecay adamBeta1 "
                 "adamBeta2 scheduler lrGamma lrMilestones lrMilestoneFactor lrWarmupEpochs lrMinRatio plateauFactor "
                 "plateauPatience plateauMinLr plateauThreshold gradientClipVal gradientClipAlgorithm "
                 "accumulateGradBatches enableCheckpointing checkpointSaveTopK checkpointMonitor checkpointMode "
                 "earlyStopPatience checkValEveryNEpoch logger",
}
INERT = {
    "model": "fnoModes fnoWidth fnoBlocks fnoCnnBlocks learnedInputChannels maxHiddenChannels resnetWidth "
             "fnoInputTransform probeMaskSigma probeMaskDiameter",
    "training": "neighborCount neighborPoolSize backend nphotons",
    "execution": "numWorkers pinMemory persistentWorkers prefetchFactor enableProgressBar mlflowTrackingUri "
                 "inferenceBatchSize middleTrim padEval",
}


def only(*values):
    same = lambda v, x: v == x and isinstance(v, bool) == isinstance(x, bool)  # noqa: E731
    return lambda v, c: any(same(v, x) for x in values), " or ".join(json.dumps(x) for x in values)


RESTRICTED = {  # path -> (accepts(value, config), what is supported)
    "model.architecture": only("cnn"), "model.gridsize": only(1),
    "model.generatorOutputMode": only("real_imag", "amp_phase"),
    "model.ampActivation": (lambda v, c: v == "sigmoid" or c["model"]["generatorOutputMode"] == "amp_phase",
                            '"sigmoid" unless model.generatorOutputMode is "amp_phase"'),
    "model.probeMask": only(False), "model.gaussianSmoothingSigma": only(0), "model.objectBig": only(True),
    "model.probeBig": only(True), "model.padObject": only(True), "model.probeScale": only(4),
    "training.nSubsample": only(None), "training.enableOversampling": only(False),
    "training.positionsProvided": only(True), "training.maeWeight": only(0), "training.nllWeight": only(1),
    "training.realspaceMaeWeight": only(0), "training.realspaceWeight": only(0),
    "training.torchMaePredL2MatchTarget": only(False),
    "training.probeTrainable": (lambda v, c: not v or c["model"]["modelType"] == "pinn",
                                'false unless model.modelType is "pinn"'),
    "execution.devices": only(1, "auto"), "execution.strategy": only("auto"),
    "execution.precision": only("32-true", "bf16-mixed"),
    "execution.gradientClipAlgorithm": (lambda v, c: v != "agc" or c["execution"]["gradientClipVal"] is None,
                                        '"norm" or "value"'),
    "execution.checkpointSaveTopK": only(1), "execution.checkpointMonitor": only("val_loss", "train_loss"),
    "execution.logger": only("csv", "none"),
}


class Used(dict):
    """A payload section that records every setting the trainer reads (for settings-used.json)."""

    def __init__(self, section, values, log):
        super().__init__(values)
        self.section, self.log = section, log

    def __getitem__(self, key):
        value = super().__getitem__(key)
        self.log.setdefault(f"{self.section}.{key}", value)
        return value

    def get(self, key, default=None):
        return self[key] if key in self else default


def refuse(message):
    print(f"torch-trainer: {message}", file=sys.stderr)
    sys.exit(2)


def check_settings(config):
    known = set(RESTRICTED) | {f"{s}.{k}" for table in (HONOURED, INERT) for s in table for k in table[s].split()}
    for path, (accepts, supported) in RESTRICTED.items():
        section, key = path.split(".")
        value = config[section].get(key)
        if not accepts(value, config):
            refuse(f"{path}: this trainer cannot honour {json.dumps(value)} (it supports {supported}); "
                   "change the setting or use another backend.")
    unknown = [f"{s}.{k}" for s in config for k in config[s] if f"{s}.{k}" not in known]
    if unknown:
        print(f"torch-trainer: warning: settings unknown to this trainer, not used: {', '.join(unknown)}",
              file=sys.stderr)


def spatial_folds(x, y, k):
    """The fold of each scan position: k stripes across the longer extent, as @trainkit/data's
    assignSpatialFolds (order by that coordinate, then the other, then index; the first M mod k
    folds one longer)."""
    m = len(x)
    if k > m:
        refuse(f"training.foldCount: {k} folds need at least {k} scan positions; the training file has {m}.")
    along, other = (x, y) if np.ptp(x) >= np.ptp(y) else (y, x)
    order = np.lexsort((np.arange(m), other, along))
    sizes = [m // k + (1 if f < m % k else 0) for f in range(k)]
    folds = np.empty(m, dtype=np.int64)
    folds[order] = np.repeat(np.arange(k), sizes)
    return folds


def set_threads(execution):
    """execution.computeThreads: a number, or auto = the orchestrator's TRAINKIT_THREAD_BUDGET (else torch's default)."""
    threads = execution["computeThreads"]
    if threads == "auto":
        budget = os.environ.get("TRAINKIT_THREAD_BUDGET", "").strip()
        threads = int(budget) if budget.isdigit() and int(budget) > 0 else None
    if threads is not None:
        torch.set_num_threads(threads)
    return torch.get_num_threads()


def load_npz(path, n_expected=None):
    with np.load(path) as d:
        amp = d["diffraction"] if "diffraction" in d else d["diff3d"]
        probe, y = d["probeGuess"], (d["Y"] if "Y" in d else None)
        coords = (d["xcoords"].astype(np.float64), d["ycoords"].astype(np.float64))
    if n_expected is not None and probe.shape[0] != n_expected:
        refuse(f"model.N is {n_expected} but probeGuess in {path} is {probe.shape[0]}x{probe.shape[1]}.")
    return torch.from_numpy(amp.astype(np.float32)), torch.from_numpy(probe.astype(np.complex64)), \
        None if y is None else torch.from_numpy(y.astype(np.complex64)), coords


class Net(nn.Module):
    """Four 3x3 convolutions, diffraction amplitude -> object patch (two channels)."""

    def __init__(self, model, training, probe, amp):
        super().__init__()
        w = 8 * model["nFiltersScale"]
        self.body = nn.Sequential(nn.Conv2d(1, w, 3, padding=1), nn.ReLU(), nn.Conv2d(w, 2 * w, 3, padding=1),
                                  nn.ReLU(), nn.Conv2d(2 * w, w, 3, padding=1), nn.ReLU(), nn.Conv2d(w, 2, 3, padding=1))
        self.mode = model["generatorOutputMode"]
        self.act = {"sigmoid": torch.sigmoid, "swish": nn.functional.silu, "softplus": nn.functional.softplus,
                    "relu": torch.relu}[model["ampActivation"]]
        self.probe_re = nn.Parameter(probe.real.clone(), requires_grad=training["probeTrainable"])
        self.probe_im = nn.Parameter(probe.imag.clone(), requires_grad=training["probeTrainable"])
        # Parseval: with |object| ~ 1, mean |FFT(probe * object)|^2 = mean |probe|^2.
        scale = math.sqrt(float((amp ** 2).mean()) / float((probe.abs() ** 2).mean()))
        self.log_scale = nn.Parameter(torch.tensor(math.log(scale)), requires_grad=training["intensityScaleTrainable"])

    def forward(self, amp):
        out = self.body(amp[:, None]).float()
        if self.mode == "real_imag":
            return torch.complex(out[:, 0], out[:, 1])
        return torch.polar(self.act(out[:, 0]), math.pi * torch.tanh(out[:, 1]))

    def diffraction(self, obj):
        far = torch.fft.fftshift(torch.fft.fft2(torch.complex(self.probe_re, self.probe_im) * obj, norm="ortho"),
                                 dim=(-2, -1))
        return self.log_scale.exp() * far.abs()


def per_sample_loss(net, cfg, amp, y):
    """One loss per pattern, shape (B,)."""
    obj = net(amp)
    if cfg["model"]["modelType"] == "supervised":
        return (obj - y).abs().pow(2).mean(dim=(-2, -1))
    pred = net.diffraction(obj)
    if cfg["training"]["torchLossMode"] == "mae":
        return (pred - amp).abs().mean(dim=(-2, -1))
    return (pred ** 2 - amp ** 2 * torch.log(pred ** 2 + 1e-12)).mean(dim=(-2, -1))


class Schedule:
    """Learning rate of each epoch, as trainkit's engine defines the execution.scheduler kinds."""

    def __init__(self, ex, nepochs):
        self.ex, self.nepochs, self.lr0, self.lr = ex, nepochs, ex["learningRate"], ex["learningRate"]
        self.best, self.bad, self.good, self.maximize = None, 0, 0, ex["checkpointMode"] == "max"

    def at(self, epoch):
        ex, lr0, kind = self.ex, self.lr0, self.ex["scheduler"]
        if kind == "Exponential":
            return lr0 * ex["lrGamma"] ** epoch
        if kind == "MultiStage":
            return lr0 * ex["lrMilestoneFactor"] ** sum(m <= epoch for m in ex["lrMilestones"])
        if kind == "WarmupCosine":
            w, low = ex["lrWarmupEpochs"], lr0 * ex["lrMinRatio"]
            if epoch < w:
                return lr0 * (epoch + 1) / w
            p = min(1.0, (epoch - w) / max(1, self.nepochs - w))
            return low + (lr0 - low) * (1 + math.cos(math.pi * p)) / 2
        if kind in ("ReduceLROnPlateau", "Adaptive"):
            return self.lr
        return lr0  # Default

    def step(self, metric):
        """ReduceLROnPlateau; Adaptive also climbs back (up to lr0) after a run of improving epochs."""
        margin = abs(self.best) * self.ex["plateauThreshold"] if self.best is not None else 0
        better = math.isfinite(metric) and (self.best is None or (
            metric > self.best + margin if self.maximize else metric < self.best - margin))
        self.best, self.bad, self.good = (metric, 0, self.good + 1) if better else (self.best, self.bad + 1, 0)
        if self.bad > self.ex["plateauPatience"]:
            self.lr, self.bad = max(self.lr * self.ex["plateauFactor"], min(self.lr, self.ex["plateauMinLr"])), 0
        elif self.ex["scheduler"] == "Adaptive" and self.good > self.ex["plateauPatience"]:
            self.lr, self.good = min(self.lr / self.ex["plateauFactor"], self.lr0), 0


def pick_device(accelerator):
    cuda = torch.cuda.is_available()
    mps = getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    if accelerator == "auto":
        return torch.device("cuda" if cuda else "cpu")
    if accelerator in ("gpu", "cuda", "mps") and not (mps if accelerator == "mps" else cuda):
        refuse(f'execution.accelerator: "{accelerator}" was asked for but torch {torch.__version__} sees no such '
               'device; use "cpu" or "auto".')
    return torch.device({"gpu": "cuda"}.get(accelerator, accelerator))


def load_data(cfg, device):
    """Training patterns (nGroups of them, drawn as upstream does at gridsize 1) and validation data:
    the test file, or with training.foldCount the positions of fold foldIndex of the training file
    (training then draws from the other folds only); the split goes to folds.json."""
    tr, n_model, supervised = cfg["training"], cfg["model"]["N"], cfg["model"]["modelType"] == "supervised"
    try:
        amp, probe, y, (xs, ys) = load_npz(tr["trainDataFile"], n_model)
        folded = tr["foldCount"] is not None
        val = load_npz(tr["testDataFile"], n_model)[:3] if tr["testDataFile"] and not folded else None
    except (OSError, KeyError, ValueError) as error:
        print(f"torch-trainer: cannot read the data: {error}", file=sys.stderr)
        sys.exit(1)
    if folded:
        folds = spatial_folds(xs, ys, tr["foldCount"])
        held, kept = np.flatnonzero(folds == tr["foldIndex"]), np.flatnonzero(folds != tr["foldIndex"])
        val = (amp[held], probe, None if y is None else y[held])
        amp, y = amp[kept], None if y is None else y[kept]
        with open(os.path.join(tr["outputDir"], "folds.json"), "w") as f:
            json.dump({"trainDataFile": tr["trainDataFile"], "foldCount": tr["foldCount"], "foldIndex": tr["foldIndex"],
                       "trainPositions": kept.tolist(), "validationPositions": held.tolist()}, f)
    for name, data in (("trainDataFile", (amp, probe, y)), ("testDataFile", val)):
        if supervised and data is not None and data[2] is None:
            refuse(f'model.modelType: "supervised" needs ground truth Y, which training.{name} lacks; use "pinn".')
    n = min(tr["nGroups"], amp.shape[0])
    if n < tr["nGroups"]:
        print(f"torch-trainer: training.nGroups is {tr['nGroups']} but the data hold {n} patterns; using all.",
              file=sys.stderr)
    seed = cfg["execution"]["seed"] if tr["subsampleSeed"] is None else tr["subsampleSeed"]
    idx = np.arange(n) if tr["sequentialSampling"] else np.sort(
        np.random.default_rng(seed).choice(amp.shape[0], n, replace=False))
    on = lambda t: None if t is None else t.to(device)  # noqa: E731
    return (on(amp[idx]), probe, on(None if y is None else y[idx])), val and (on(val[0]), None, on(val[2]))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--payload", default=os.environ.get("TRAINKIT_PAYLOAD"), help="payload.json of the run")
    path = parser.parse_args().payload or refuse("no payload: pass --payload <run>/payload.json or set TRAINKIT_PAYLOAD.")
    with open(path) as f:
        payload = json.load(f)
    if payload.get("kind") != "training":
        refuse(f'{path}: kind is {json.dumps(payload.get("kind"))}; this trainer runs "training" payloads only.')
    used, resolved = {}, {}  # what the trainer read; values it settled differently at run time
    cfg = {section: Used(section, values, used) for section, values in payload["config"].items()}
    tr, ex = cfg["training"], cfg["execution"]
    check_settings(cfg)
    device = pick_device(ex["accelerator"])
    threads = set_threads(ex)
    os.makedirs(tr["outputDir"], exist_ok=True)
    (amp, probe, y), val = load_data(cfg, device)
    print(f"torch-trainer: {threads} threads, {amp.shape[0]} training patterns, "
          f"{0 if val is None else val[0].shape[0]} validation patterns", file=sys.stderr, flush=True)
    monitor = ex["checkpointMonitor"]
    if monitor == "val_loss" and val is None:
        monitor = resolved["execution.checkpointMonitor"] = "train_loss"
        print('torch-trainer: execution.checkpointMonitor "val_loss" needs training.testDataFile; monitoring '
              '"train_loss" instead.', file=sys.stderr)
    if ex["deterministic"] is not False:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=ex["deterministic"] == "warn")
    torch.manual_seed(ex["seed"])
    np.random.seed(ex["seed"] % 2**32)
    net = Net(cfg["model"], tr, probe, amp).to(device)
    params = [p for p in net.parameters() if p.requires_grad]
    lr, wd, betas = ex["learningRate"], ex["weightDecay"], (ex["adamBeta1"], ex["adamBeta2"])
    opt = {"adam": lambda: torch.optim.Adam(params, lr=lr, betas=betas, weight_decay=wd),
           "adamw": lambda: torch.optim.AdamW(params, lr=lr, betas=betas, weight_decay=wd),
           "sgd": lambda: torch.optim.SGD(params, lr=lr, momentum=ex["momentum"], weight_decay=wd)}[ex["optimizer"]]()
    schedule, shuffle = Schedule(ex, tr["nepochs"]), torch.Generator().manual_seed(ex["seed"])
    bf16 = ex["precision"] == "bf16-mixed"
    autocast = (lambda: torch.autocast(device.type, dtype=torch.bfloat16)) if bf16 else contextlib.nullcontext
    n, group = amp.shape[0], tr["batchSize"] * ex["accumulateGradBatches"]  # patterns per optimizer step
    out_dir = tr["outputDir"]
    os.makedirs(os.path.join(out_dir, "checkpoints"), exist_ok=True)
    columns = ["epoch", "lr", "step", "train_loss"] + (["val_loss"] if val else [])
    log = open(os.path.join(out_dir, "metrics.csv"), "w", newline="") if ex["logger"] == "csv" else None
    if log:
        csv.writer(log, lineterminator="\n").writerow(columns)
    best, waited, step = None, 0, 0
    for epoch in range(tr["nepochs"]):
        lr = schedule.at(epoch)
        for g in opt.param_groups:
            g["lr"] = lr
        order, total = torch.randperm(n, generator=shuffle).to(device), 0.0
        for start in range(0, n, group):
            members = order[start:start + group]
            opt.zero_grad()
            for micro in members.split(tr["batchSize"]):  # accumulateGradBatches micro-batches
                with autocast():
                    losses = per_sample_loss(net, cfg, amp[micro], None if y is None else y[micro])
                (losses.sum() / len(members)).backward()
                total += float(losses.detach().sum())
            if ex["gradientClipVal"] is not None:
                clip = nn.utils.clip_grad_value_ if ex["gradientClipAlgorithm"] == "value" else nn.utils.clip_grad_norm_
                clip(params, ex["gradientClipVal"])
            opt.step()
            step += 1
        row = {"epoch": epoch, "lr": lr, "step": step, "train_loss": total / n}
        if val and ((epoch + 1) % ex["checkValEveryNEpoch"] == 0 or epoch == tr["nepochs"] - 1):
            with torch.no_grad(), autocast():
                row["val_loss"] = float(per_sample_loss(net, cfg, val[0], val[2]).mean())
        if log:
            csv.writer(log, lineterminator="\n").writerow([row.get(c, "") for c in columns])
            log.flush()
        print(" ".join(f"{k}={v:.6g}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()), flush=True)
        metric = row.get(monitor)
        if metric is None:  # an epoch between validations: nothing to rank, count or step on
            continue
        if best is None or (metric > best if ex["checkpointMode"] == "max" else metric < best):
            best, waited = metric, 0
            if ex["enableCheckpointing"]:
                torch.save(net.state_dict(), os.path.join(out_dir, "checkpoints", "best.pt"))
        else:
            waited += 1
        schedule.step(metric)
        if waited and waited >= ex["earlyStopPatience"]:  # as Lightning's EarlyStopping
            print(f"early stop: {monitor} did not improve for {waited} epochs", flush=True)
            break
    if log:
        log.close()
    torch.save(net.state_dict(), os.path.join(out_dir, "model.pt"))
    # What the program used, for anyone to compare with payload.json (tests/torch-trainer.test.ts).
    with open(os.path.join(out_dir, "settings-used.json"), "w") as f:
        json.dump({"used": used, "resolved": resolved}, f, indent=2, sort_keys=True)
    return 0


def on_sigterm(signum, frame):
    print("torch-trainer: terminated", file=sys.stderr)
    sys.exit(143)


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even when started with SIGINT ignored
    signal.signal(signal.SIGTERM, on_sigterm)
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("torch-trainer: interrupted", file=sys.stderr)
        sys.exit(130)
