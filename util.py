"""Shared helpers for the DCGAN and CycleGAN homework.

Layer builders (`conv`, `deconv`), image helpers, checkpoints, seeding, the
CLI boolean parser, device selection and CycleGAN's image history buffer.
Nothing here is a student TODO: read it, then use it.
"""
from __future__ import annotations

import argparse
import json
import os
import random
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torchvision.utils as vutils


class KitError(RuntimeError):
    """An error the user can fix (missing file, wrong flag). CLIs print it in one line."""


# ----------------------------------------------------------------------------- layers
def _norm_layer(norm: str | None, channels: int) -> list[nn.Module]:
    if norm is None:
        return []
    if norm == "bn":
        return [nn.BatchNorm2d(channels)]
    if norm == "in":
        # CycleGAN uses non-affine instance norm (no learnable scale/shift).
        return [nn.InstanceNorm2d(channels, affine=False)]
    raise ValueError(f"norm must be 'bn', 'in' or None, got {norm!r}")


def _activation(activation: str | None) -> list[nn.Module]:
    table = {
        "lrelu": lambda: nn.LeakyReLU(0.2, inplace=True),
        "relu": lambda: nn.ReLU(inplace=True),
        "tanh": nn.Tanh,
        "sigmoid": nn.Sigmoid,
    }
    if activation is None:
        return []
    if activation not in table:
        raise ValueError(f"activation must be one of {sorted(table)} or None, got {activation!r}")
    return [table[activation]()]


def conv(c_in: int, c_out: int, k_size: int, stride: int = 2, pad: int = 1, bias: bool = False,
         norm: str | None = "bn", activation: str | None = None) -> nn.Sequential:
    """Conv2d [+ norm] [+ activation] as one nn.Sequential."""
    layers: list[nn.Module] = [nn.Conv2d(c_in, c_out, k_size, stride, pad, bias=bias)]
    return nn.Sequential(*layers, *_norm_layer(norm, c_out), *_activation(activation))


def deconv(c_in: int, c_out: int, k_size: int, stride: int = 2, pad: int = 1, output_padding: int = 0,
           bias: bool = False, norm: str | None = "bn", activation: str | None = None) -> nn.Sequential:
    """ConvTranspose2d [+ norm] [+ activation] as one nn.Sequential."""
    layers: list[nn.Module] = [nn.ConvTranspose2d(c_in, c_out, k_size, stride, pad,
                                                  output_padding=output_padding, bias=bias)]
    return nn.Sequential(*layers, *_norm_layer(norm, c_out), *_activation(activation))


# ----------------------------------------------------------------------------- images
def denorm(x: torch.Tensor) -> torch.Tensor:
    """Map a tanh output in [-1, 1] back to [0, 1] for saving."""
    return ((x + 1) / 2).clamp(0, 1)


def save_image_grid(images: torch.Tensor, path: str | Path, nrow: int = 8) -> Path:
    """Save a batch of [-1, 1] images as one PNG grid; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    vutils.save_image(images.detach().cpu(), path, nrow=nrow, padding=2, normalize=True, value_range=(-1, 1))
    return path


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """[-1, 1] float images -> uint8 [0, 255], the input the Inception metrics expect."""
    return (denorm(images.detach().cpu()) * 255).round().to(torch.uint8)


def save_images(images: torch.Tensor, folder: str | Path, start: int = 0, names: list[str] | None = None) -> None:
    """Save every image of a [-1, 1] batch as its own PNG: folder/<name or index>.png."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for i, img in enumerate(images.detach().cpu()):
        vutils.save_image(img, folder / f"{names[i] if names else f'{start + i:05d}'}.png",
                          normalize=True, value_range=(-1, 1))


# ----------------------------------------------------------------------------- checkpoints
def _torch_save_atomic(obj: object, path: str | Path) -> None:
    """torch.save through a temporary file, so a crash never leaves a half-written checkpoint."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def save_checkpoint(model: nn.Module, path: str | Path, device: torch.device | str | None = None) -> None:
    """Save a model's state_dict (on the CPU, so it loads anywhere; never a DDP wrapper's). Written atomically."""
    _torch_save_atomic({k: v.detach().cpu() for k, v in unwrap(model).state_dict().items()}, path)


def load_checkpoint(model: nn.Module, path: str | Path, device: torch.device | str | None = None) -> nn.Module:
    """Load a state_dict into `model`. A missing or mismatched file is an error, never random weights."""
    path = Path(path)
    if not path.is_file():
        raise KitError(f"checkpoint not found: {path} (train first with --train true, "
                       f"or pass the right --results folder)")
    try:
        state = torch.load(path, map_location=device or "cpu", weights_only=True)
    except Exception as exc:  # corrupt or non-torch file
        raise KitError(f"checkpoint {path} could not be read: {exc}") from exc
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[0]
        raise KitError(f"checkpoint {path} does not match {type(model).__name__}: {first}") from exc
    return model


def save_run_settings(ckpt_dir: str | Path, **settings) -> None:
    """What training used (dataset, image size) beside the checkpoints, so `--train false` finds it."""
    path = Path(ckpt_dir) / "run.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(settings, indent=2) + "\n")


def run_settings(ckpt_dir: str | Path) -> dict:
    """The settings training recorded ({} for checkpoints without them)."""
    path = Path(ckpt_dir) / "run.json"
    try:
        return json.loads(path.read_text()) if path.is_file() else {}
    except (OSError, ValueError):
        return {}


# ----------------------------------------------------------------------------- runtime
def default_workers(device: torch.device) -> int:
    """Loader workers when none are asked for. On a CPU 0: its cores already run torch's threads (2
    workers + 2 threads on a 2-core machine made a step 4x slower). Beside a GPU up to 4, leaving a core
    for the training loop: a worker core decodes and augments ~40 256px CycleGAN pairs/s
    (benchmarks/bench_loader.py), and the fast path's CycleGAN step wants about that many."""
    return max(1, min(4, (os.cpu_count() or 2) - 1)) if device.type == "cuda" else 0


def set_seed(seed: int) -> None:
    """Seed python, numpy and torch (CPU and CUDA) for a reproducible run."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.cuda.manual_seed_all(seed)


def str2bool(value: str | bool) -> bool:
    """argparse type so `--train false` means False (argparse's bool('false') is True)."""
    if isinstance(value, bool):
        return value
    lowered = value.strip().lower()
    if lowered in {"true", "t", "yes", "y", "1"}:
        return True
    if lowered in {"false", "f", "no", "n", "0"}:
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {value!r}")


def get_device(name: str | torch.device | None = None) -> torch.device:
    """'cuda' when available unless a device is named; 'cuda' without a GPU is an error."""
    if isinstance(name, torch.device):
        name = str(name)
    if name in (None, "", "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise KitError(f"--device {name}: CUDA is not available on this machine; use --device cpu")
    return device


# ----------------------------------------------------------------------------- CycleGAN
class ImagePool:
    """History of generated images (Shrivastava et al.; CycleGAN uses 50).

    `query(images)` returns a batch of the same size: while the pool fills, the new
    images themselves; afterwards each image is, with probability 1/2, swapped for a
    random stored one (the new image takes its place in the pool). Size 0 returns the
    latest fakes unchanged.
    """

    def __init__(self, pool_size: int = 50):
        self.pool_size = pool_size
        self.images: list[torch.Tensor] = []

    def query(self, images: torch.Tensor) -> torch.Tensor:
        if self.pool_size == 0:
            return images
        out = []
        for image in images.detach():
            image = image.unsqueeze(0)
            if len(self.images) < self.pool_size:
                self.images.append(image.clone())        # a copy: the fast path's CUDA graphs reuse fakes' memory
                out.append(image)
            elif random.random() > 0.5:
                idx = random.randrange(self.pool_size)
                out.append(self.images[idx].clone())
                self.images[idx] = image.clone()
            else:
                out.append(image)
        return torch.cat(out, 0)


# ----------------------------------------------------------------------------- several processes (torchrun)
def world_size() -> int:
    import torch.distributed as dist
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def rank() -> int:
    import torch.distributed as dist
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def is_main_process() -> bool:
    """The one process that prints, shows progress and writes grids and checkpoints."""
    return rank() == 0


def init_distributed(device: torch.device | str | None = None) -> torch.device:
    """Under torchrun (WORLD_SIZE > 1): join the process group (NCCL on GPUs, gloo on the CPU) and
    return this process's device (cuda:LOCAL_RANK). A plain `python` run: get_device(device), nothing else."""
    import torch.distributed as dist
    device = get_device(device)
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return device
    if device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return device


def close_distributed() -> None:
    import torch.distributed as dist
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def distributed(net: nn.Module, device: torch.device, sync_bn: bool = False) -> nn.Module:
    """`net` as DistributedDataParallel when several processes train (else `net` itself): gradients are
    averaged over processes, so W processes of batch b step like one process of batch W*b whenever the
    network has no BatchNorm (or with sync_bn: BatchNorm statistics over all W*b images)."""
    if world_size() == 1:
        return net
    from torch.nn.parallel import DistributedDataParallel
    if sync_bn:
        if device.type != "cuda":
            raise KitError("--sync_bn true needs GPUs: torch's SyncBatchNorm runs on CUDA only")
        net = nn.SyncBatchNorm.convert_sync_batchnorm(net)     # keeps the same Parameter objects
    return DistributedDataParallel(net, device_ids=[device.index] if device.type == "cuda" else None)


def unwrap(net: nn.Module) -> nn.Module:
    """The network inside DistributedDataParallel and torch.compile wrappers (what checkpoints and grids use)."""
    while True:
        if isinstance(net, nn.parallel.DistributedDataParallel):
            net = net.module
        elif getattr(net, "_orig_mod", None) is not None:          # torch.compile's OptimizedModule
            net = net._orig_mod
        else:
            return net


def add_distributed_arguments(parser: argparse.ArgumentParser, sync_bn: bool = False) -> None:
    """The flags of a torchrun run (both solvers)."""
    parser.add_argument("--base_lr", type=float, default=None,
                        help="linear scaling rule: the lr of the reference setting (with --base_batch); the lr "
                             "used is base_lr x (processes x --batch_size) / base_batch, and it is printed")
    parser.add_argument("--base_batch", type=int, default=None, help="the global batch of the reference setting")
    if sync_bn:
        parser.add_argument("--sync_bn", type=str2bool, default=False,
                            help="torchrun only: BatchNorm statistics over all processes' batches (GPUs only); "
                                 "default false: each process normalises its own batch (the DCGAN default)")


def scaled_lr(args: argparse.Namespace) -> float:
    """--lr, or the linear scaling rule (Goyal et al., 2017) when --base_lr and --base_batch are given:
    the lr grows in proportion to the global batch (processes x per-process batch)."""
    if (args.base_lr is None) != (args.base_batch is None):
        raise KitError("--base_lr and --base_batch go together (the reference setting's lr and global batch)")
    if args.base_lr is None:
        return args.lr
    if args.base_batch < 1:
        raise KitError(f"--base_batch must be at least 1, got {args.base_batch}")
    global_batch = world_size() * args.batch_size
    lr = args.base_lr * global_batch / args.base_batch
    if is_main_process():
        print(f"linear scaling rule: global batch {world_size()} x {args.batch_size} = {global_batch} "
              f"(base {args.base_batch}): lr {args.base_lr:g} x {global_batch}/{args.base_batch} = {lr:g}")
    return lr


# ----------------------------------------------------------------------------- training state
def save_training_state(path: str | Path, epoch: int, parts: dict[str, nn.Module | torch.optim.Optimizer]) -> None:
    """Everything needed to resume: state_dicts of networks and optimizers, and the epoch done."""
    _torch_save_atomic({"epoch": epoch, **{name: part.state_dict() for name, part in parts.items()}}, path)


def load_training_state(path: str | Path, parts: dict[str, nn.Module | torch.optim.Optimizer],
                        device: torch.device | str | None = None) -> int:
    """Restore what `save_training_state` wrote; returns the number of epochs already done."""
    path = Path(path)
    if not path.is_file():
        raise KitError(f"nothing to resume: {path} not found (train without --resume first)")
    state = torch.load(path, map_location=device or "cpu", weights_only=True)
    missing = [name for name in parts if name not in state]
    if missing:
        raise KitError(f"{path} has no state for {missing}")
    for name, part in parts.items():
        part.load_state_dict(state[name])
    return int(state["epoch"])


# ----------------------------------------------------------------------------- fast path (given)
class FastPath:
    """Speed-ups of the given training loops for launch-bound steps; nothing a student writes changes.

    A step of these small networks launches hundreds of small kernels, and on a GPU the Python and
    launch overhead, not the arithmetic, sets its time. The levers:
      * torch.compile of each network: fused kernels (inductor), and on CUDA mode "reduce-overhead",
        which replays each compiled graph as one CUDA graph;
      * fused Adam: one kernel per parameter group instead of several per tensor;
      * CUDA only: cudnn.benchmark (the fastest conv algorithm for the fixed sizes) and TF32 matmuls.
    Everything stays float32 (no autocast: BCE on probabilities is not autocast-safe, and bf16 would
    change what the handout's numbers mean). On by default on CUDA, off on a CPU; `--fast false` turns it off.

    The first step is a trial: if it raises (code torch.compile cannot take, e.g. a double backward),
    what it changed (weights, optimizer states, image pools, random states) is restored, every lever is
    undone and training goes on eagerly with a one-line notice naming the reason."""

    def __init__(self, solver: object, networks: list[str], optimizers: list[str], pools: list[str] = (),
                 enabled: bool | None = None):
        self.solver, self.networks, self.optimizers, self.pools = solver, list(networks), list(optimizers), list(pools)
        self.device = solver.device
        self.enabled = self.device.type == "cuda" if enabled is None else enabled      # default: on with CUDA
        self.trial_done = False
        self.eager = {name: getattr(solver, name) for name in self.networks}
        self.saved_flags = (torch.backends.cudnn.benchmark, torch.get_float32_matmul_precision())
        self.saved_groups = {name: [(g.get("fused"), g.get("foreach")) for g in getattr(solver, name).param_groups]
                             for name in self.optimizers}
        if self.enabled:
            self._turn_on()

    def _turn_on(self) -> None:
        cuda = self.device.type == "cuda"
        if cuda:
            torch.backends.cudnn.benchmark = True
            torch.set_float32_matmul_precision("high")          # TF32 matmuls (cudnn convs use TF32 already)
        for name in self.optimizers:
            for group in getattr(self.solver, name).param_groups:
                group["fused"], group["foreach"] = True, False
        mode = "reduce-overhead" if cuda else None
        for name, net in self.eager.items():
            setattr(self.solver, name, torch.compile(net, mode=mode))

    def off(self) -> None:
        """Back to the eager networks, unfused Adam and the global flags as they were."""
        for name, net in self.eager.items():
            setattr(self.solver, name, net)
        for name, flags in self.saved_groups.items():
            for group, (fused, foreach) in zip(getattr(self.solver, name).param_groups, flags):
                group["fused"], group["foreach"] = fused, foreach
        torch.backends.cudnn.benchmark, precision = self.saved_flags
        torch.set_float32_matmul_precision(precision)
        self.enabled = False

    def _snapshot(self) -> dict:
        import copy
        return {"state": {name: copy.deepcopy(unwrap(getattr(self.solver, name)).state_dict())
                          for name in self.networks + self.optimizers},
                "pools": {name: list(getattr(self.solver, name).images) for name in self.pools},
                "rng": (random.getstate(), torch.get_rng_state(),
                        torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None)}

    def _restore(self, snapshot: dict) -> None:
        for name in self.networks:
            unwrap(self.eager[name]).load_state_dict(snapshot["state"][name])
        for name in self.optimizers:
            getattr(self.solver, name).load_state_dict(snapshot["state"][name])
        for name, images in snapshot["pools"].items():
            getattr(self.solver, name).images = images
        py, cpu, cuda = snapshot["rng"]
        random.setstate(py)
        torch.set_rng_state(cpu)
        if cuda is not None:
            torch.cuda.set_rng_state_all(cuda)

    def step(self, train_step, *args):
        """train_step(*args) on the fast path; the first call is the trial."""
        if self.enabled and self.device.type == "cuda":
            torch.compiler.cudagraph_mark_step_begin()        # outputs of the last replay may be reused
        if not self.enabled or self.trial_done:
            return train_step(*args)
        snapshot = self._snapshot()
        try:
            out = train_step(*args)
        except Exception as exc:            # noqa: BLE001 - any failure of the fast path means: go eager
            self._restore(snapshot)
            self.off()
            out = train_step(*args)         # the student's own error, if any, surfaces here, eagerly
            reason = " ".join(f"{type(exc).__name__}: {exc}".split())
            print(f"fast path off, training eagerly: {reason[:300]}")
        self.trial_done = True
        return out


def add_fast_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--fast", type=str2bool, default=None,
                        help="fast path of the training loop: torch.compile (CUDA graphs on a GPU), fused Adam, "
                             "cudnn.benchmark, TF32 matmuls, all float32 (default: on with CUDA, off on a CPU); "
                             "false: plain eager PyTorch")


def cli_main(main, argv: list[str] | None = None) -> None:
    """Run a CLI's main(); a KitError becomes one clear line on stderr and exit code 2."""
    import sys
    try:
        main(argv)
    except KitError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
