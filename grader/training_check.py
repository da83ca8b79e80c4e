"""Did you train? The Testing section recomputes each claimed Inception Score from the submitted
generator and checks that the generator beats an untrained one of the same architecture.

Per model (four DCGAN types and CycleGAN), one point each:
  * the claim matches: the judge draws fresh samples from the submitted generator (a grading seed the
    student never sees) and scores j splits of exactly the claim's split size m = N / splits (the IS of
    a split depends on m). With sigma the std of one split's score (the claimed std made unbiased, kept
    within [1, 2] x the judge's bootstrap estimate), |recomputed - claimed| must be <= Q = 5 x
    sigma sqrt(1/S + 1/j) + 0.5% of the claim + 0.005 (fp16 checkpoints, another device's arithmetic).
  * it beats untrained, on the same inputs (same z, same test images) as freshly initialised
    generators of the table:
      - DCGAN, both needed: log IS(trained) >= log IS(untrained) + IS_GAP on the claim's split size; and
        the colour check: the Frechet distance between the per-image mean and std of each colour channel
        of COLOUR_SAMPLES samples and of real training images is <= COLOUR_RATIO x the smallest distance
        of UNTRAINED_INITS untrained inits, each as initialised and with BatchNorm statistics calibrated by
        one train-mode pass on the judge's z (the freedom a submission has without training).
      - CycleGAN, trained as a pair: the FIDs of its translations against the target domains, summed
        over both directions, <= BEAT_RATIO x an untrained pair's (FID_SAMPLES translations each).
Why these rules and their measured margins: INSTRUCTORS.md ("Did you train?") and
benchmarks/fixture_margin.py. Everything here is public (the handout ships it): knowing it is worth
nothing, because the judge draws the samples; the generator classes the judge loads the weights
into are its own (grader/judge/trusted.py).
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from grader.roles import CHECKPOINT_FILES, MAX_FILE_BYTES

MODELS = ("dcgan-gan", "dcgan-lsgan", "dcgan-wgan", "dcgan-wgan-gp", "cyclegan")
CHECKPOINTS = {**{m: (f,) for m, f in zip(MODELS, CHECKPOINT_FILES[:4])}, "cyclegan": CHECKPOINT_FILES[4:]}
DEFAULT_DATASET = {"dcgan": "cifar10", "cyclegan": "summer2winter"}
# the graded copy of dataloader's names (dataloader.py is student code; the judge never imports it)
CYCLEGAN_FOLDERS = {"summer2winter": "summer2winter_yosemite", "seasons": "seasons"}
DCGAN_DATASETS = ("cifar10", "shapes32")
LATENT_DIM = 256

Q = 5.0                     # standard deviations of tolerance
REL_FLOOR, ABS_FLOOR = 0.005, 0.005
MAX_SPLIT = 1000            # a claim with splits of more images than this is not checked (N <= 10000)
MAX_SIZE = 256              # CycleGAN claims: translations at most this size (the homework's; bounds the judge's work)
JUDGED_IMAGES = 60          # j = max(1, JUDGED_IMAGES // m) splits are scored (CycleGAN's m is ~31)
FID_SAMPLES = int(os.environ.get("GRADER_FID_SAMPLES", "32"))
BEAT_RATIO = 0.8           # CycleGAN: FID(trained) <= BEAT_RATIO x FID(untrained)
IS_GAP = 0.02              # DCGAN: log IS(trained) >= log IS(untrained) + IS_GAP
COLOUR_RATIO = 0.8         # DCGAN: colour distance to the data <= COLOUR_RATIO x the best untrained baseline's
COLOUR_SAMPLES = 256       # samples (and real images) whose colour statistics are compared
UNTRAINED_INITS = 3        # untrained baselines of the colour check, each plain and BatchNorm-calibrated
CALIBRATION_Z = 256        # latent vectors of a baseline's one train-mode pass
BOOTSTRAP = 200
GRADER_WORK_SECONDS = 1800  # a Testing check's own limit (the grader's computation): beyond it, a grader error
CODE_DIGEST = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:16]

NUMBER = r"\d+(?:\.\d+)?(?:[eE][-+]?\d+)?"
LINE = re.compile(rf"^(?P<model>dcgan-(?:gan|lsgan|wgan|wgan-gp)|cyclegan): IS = (?P<score>{NUMBER}) "
                  rf"\+- (?P<std>{NUMBER}) \(N=(?P<n>\d+)(?P<details>(?:, [a-z_]+=[A-Za-z0-9_.-]+)*)\)$")
FORMAT = "<model>: IS = <score> +- <std> (N=<count>, splits=10, seed=<seed>, dataset=<name>[, size=<px>])"


class CheckpointError(Exception):
    """A submitted checkpoint that cannot stand for its generator (the student's file)."""


class CannotCheck(Exception):
    """The grader's environment lacks what a check needs (Inception weights, the data): never a grade."""


# ----------------------------------------------------------------------------- claims
@dataclass
class Claim:
    model: str
    score: float
    std: float
    n: int
    splits: int = 10
    seed: int = 0
    dataset: str = ""
    size: int = 256
    line: str = ""

    @property
    def family(self) -> str:
        return self.model.split("-")[0]

    @property
    def split_size(self) -> int:
        return max(1, round(self.n / self.splits))


def parse_claims(text: str) -> tuple[dict[str, Claim], list[str]]:
    """({model: its last claim}, lines that do not parse)."""
    claims, bad = {}, []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = LINE.match(line)
        if not match:
            bad.append(line)
            continue
        details = dict(kv.split("=", 1) for kv in match["details"].split(", ")[1:])
        try:
            claim = Claim(match["model"], float(match["score"]), float(match["std"]), int(match["n"]),
                          int(details.get("splits", 10)), int(details.get("seed", 0)),
                          details.get("dataset", DEFAULT_DATASET[match["model"].split("-")[0]]),
                          int(details.get("size", 256)), line)
        except ValueError:
            bad.append(line)
            continue
        claims[claim.model] = claim
    return claims, bad


def claim_problem(claim: Claim) -> str | None:
    """Why a claim cannot be checked as written (the student's doing), or None."""
    if not (1.0 <= claim.score <= 1008.0) or not math.isfinite(claim.std) or claim.std < 0:
        return f"an Inception Score lies in [1, 1008] with a std >= 0, got {claim.score:g} +- {claim.std:g}"
    if not 2 <= claim.splits <= 100 or claim.n < claim.splits:
        return f"expected N >= splits >= 2, got N={claim.n}, splits={claim.splits}"
    if claim.split_size > MAX_SPLIT:
        return (f"splits of {claim.split_size} images are more than the grader re-checks ({MAX_SPLIT}): "
                f"evaluate with --num_samples <= {MAX_SPLIT * claim.splits}")
    known = DCGAN_DATASETS if claim.family == "dcgan" else tuple(CYCLEGAN_FOLDERS)
    if claim.dataset not in known:
        return f"dataset {claim.dataset!r} is not one of {', '.join(known)}"
    if claim.family == "cyclegan" and not 16 <= claim.size <= MAX_SIZE:
        return f"image size {claim.size} is outside 16..{MAX_SIZE} (the homework evaluates at 256 px)"
    return None


def data_problem(tools: "Tools", claim: Claim) -> str | None:
    """A claim that asks for more than the data it names holds (the student's choice, so the claim's
    loss, never a grader error): a CycleGAN claim counts translations of the test split's images."""
    if claim.family != "cyclegan":
        return None
    available = len(_image_files(tools.data_root / CYCLEGAN_FOLDERS[claim.dataset] / "testA"))
    if claim.n > available:
        return (f"N={claim.n} translations claimed, but {claim.dataset}'s testA holds {available} images "
                f"(each test image is translated once: evaluate with N <= {available})")
    return None


# ----------------------------------------------------------------------------- checkpoints


def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """A plain state dict of float tensors, loaded with weights_only=True; anything else is an error."""
    if not path.is_file() or path.is_symlink():
        raise CheckpointError("the file is missing")
    if path.stat().st_size > MAX_FILE_BYTES:
        raise CheckpointError(f"the file is {path.stat().st_size / 2**20:.0f} MB, over the "
                              f"{MAX_FILE_BYTES // 2**20} MB limit")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - a pickled object, a corrupt file: the student's file
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:120]
        raise CheckpointError(f"it does not load as a plain state dict with weights_only=True ({first})") from None
    if not isinstance(state, dict) or not state or not all(isinstance(k, str) and isinstance(v, torch.Tensor)
                                                           for k, v in state.items()):
        raise CheckpointError("it is not a plain state dict (parameter names -> tensors); save model.state_dict()")
    bad = [k for k, v in state.items() if not (v.is_floating_point() or k.endswith("num_batches_tracked"))]
    if bad:
        raise CheckpointError(f"entry {bad[0]!r} is not a float tensor")
    if not all(torch.isfinite(v).all() for v in state.values() if v.is_floating_point()):
        raise CheckpointError("it holds NaN or infinite weights")
    return {k: (v.float() if v.is_floating_point() else v) for k, v in state.items()}


def _layers(state: dict[str, torch.Tensor]) -> list[tuple[str, str, tuple]]:
    """(module prefix, 'conv' | 'bn', shapes) in the state dict's order; an error for anything else."""
    groups: dict[str, dict[str, torch.Tensor]] = {}
    for key, value in state.items():
        prefix, _, leaf = key.rpartition(".")
        groups.setdefault(prefix, {})[leaf] = value
    bn_keys = {"weight", "bias", "running_mean", "running_var"}
    layers = []
    for prefix, leaves in groups.items():
        weight = leaves.get("weight")
        if weight is not None and weight.dim() == 4 and set(leaves) <= {"weight", "bias"}:
            bias = leaves.get("bias")
            layers.append((prefix, "conv", (tuple(weight.shape), None if bias is None else tuple(bias.shape))))
        elif bn_keys <= set(leaves) <= bn_keys | {"num_batches_tracked"} and weight.dim() == 1:
            layers.append((prefix, "bn", (tuple(weight.shape),)))
        else:
            raise CheckpointError(f"entries {sorted(f'{prefix}.{leaf}' for leaf in leaves)[:3]} are neither a "
                                  f"conv layer nor a BatchNorm layer")
    return layers


def describe(kind: str, shapes: tuple) -> str:
    if kind == "bn":
        return f"BatchNorm2d({shapes[0][0]})"
    weight, bias = shapes
    return f"conv weight {list(weight)}{' + bias' if bias else ' (no bias)'}"


def map_state(state: dict[str, torch.Tensor], net: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The submitted tensors under `net`'s names, matching layers by kind and shape in order (any
    layout: nn.Sequential or attributes, other names, another registration order)."""
    mine, theirs = _layers(net.state_dict()), _layers(state)
    own = net.state_dict()
    used: set[int] = set()
    renamed: dict[str, torch.Tensor] = {}
    for prefix, kind, shapes in mine:
        match = next((i for i, (_, k, s) in enumerate(theirs) if i not in used and (k, s) == (kind, shapes)), None)
        if match is None:
            held = ", ".join(describe(k, s) for _, k, s in theirs[:6])
            raise CheckpointError(f"it has no layer for the table's {describe(kind, shapes)} (it holds {held}"
                                  f"{', ...' if len(theirs) > 6 else ''})")
        used.add(match)
        source = theirs[match][0]
        for key, value in own.items():
            if key.rpartition(".")[0] == prefix:
                leaf = key.rpartition(".")[2]
                renamed[key] = state.get(f"{source}.{leaf}" if source else leaf, value)  # num_batches_tracked
    extra = [describe(k, s) for i, (_, k, s) in enumerate(theirs) if i not in used]
    if extra:
        raise CheckpointError(f"it holds layers the table does not have: {', '.join(extra[:3])}")
    return renamed


def load_into(net: torch.nn.Module, path: Path) -> torch.nn.Module:
    net.load_state_dict(map_state(read_state_dict(path), net), strict=True)
    return net.eval().requires_grad_(False)


# ----------------------------------------------------------------------------- the grader's tools
@dataclass
class Tools:
    """What the checks run on: generator factories, the Inception network, the data root."""
    make_generator: object            # family -> a freshly initialised nn.Module
    inception: object                 # () -> net: uint8 [B,3,H,W] -> (pool3, logits)
    split_score: object               # p(y|x) [m, K] -> the Inception Score of that one split
    fid: object                       # (features a, features b) -> Frechet distance
    data_root: Path
    seed: int
    cache: Path | None = None
    context: str = ""                 # what else the results depend on (data root, weights): cache keys
    memo: dict = field(default_factory=dict, repr=False)   # features kept for this run
    device: str = "cpu"               # where the judge's own passes run (the batch's --device)
    _net: object = field(default=None, repr=False)

    def net(self):
        if self._net is None:
            self._net = self.inception()
        return self._net


@torch.no_grad()
def features(tools: Tools, images: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """(pool3 [N,2048] float64, p(y|x) [N,1008] float64) of uint8 images, in batches of 50."""
    pools, probs = [], []
    for start in range(0, len(images), 50):
        pool, logits = tools.net()(images[start:start + 50].to(tools.device))
        pools.append(pool.double().cpu())
        probs.append(torch.softmax(logits.double(), dim=1).cpu())
    return torch.cat(pools).numpy(), torch.cat(probs).numpy()


def to_uint8(x: torch.Tensor) -> torch.Tensor:
    return ((x.clamp(-1, 1) + 1) / 2 * 255).round().to(torch.uint8)


# ----------------------------------------------------------------------------- data
def _image_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise CannotCheck(f"the data folder {folder} is missing: put the dataset there (data/download_dataset.sh "
                          f"or data/make_offline_data.py) or set GAN_KIT_DATA")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in {".png", ".jpg", ".jpeg", ".bmp", ".webp"})
    if not files:
        raise CannotCheck(f"no images in {folder}")
    return files


def _load_images(files: list[Path], size: int | None) -> torch.Tensor:
    """uint8 [N,3,size,size] (bicubic resize as the kit's test transform; None keeps the size)."""
    from PIL import Image
    out = []
    for path in files:
        with Image.open(path) as im:
            im = im.convert("RGB")
            if size is not None and im.size != (size, size):
                im = im.resize((size, size), Image.BICUBIC)
            out.append(torch.from_numpy(np.asarray(im).copy()).permute(2, 0, 1))
    return torch.stack(out)


def real_images(tools: Tools, dataset: str, split: str, n: int, size: int | None, key: int) -> torch.Tensor:
    """n real images drawn with the grading seed (uint8)."""
    rng = np.random.default_rng([tools.seed, key])
    if dataset == "cifar10":
        try:
            from torchvision.datasets import CIFAR10
            data = CIFAR10(str(tools.data_root / "cifar10"), train=True, download=False)
        except Exception as exc:  # noqa: BLE001
            raise CannotCheck(f"CIFAR-10 is not in {tools.data_root / 'cifar10'} ({exc})") from None
        pick = rng.choice(len(data.data), size=min(n, len(data.data)), replace=False)
        return torch.from_numpy(data.data[pick]).permute(0, 3, 1, 2).contiguous()
    folder = tools.data_root / ("shapes32/train" if dataset == "shapes32" else f"{CYCLEGAN_FOLDERS[dataset]}/{split}")
    files = _image_files(folder)
    pick = rng.choice(len(files), size=min(n, len(files)), replace=False)
    return _load_images([files[i] for i in pick], size)


def missing_data(data_root: Path, datasets: set[tuple[str, str]]) -> list[str]:
    """What the Testing checks of claims naming these (family, dataset) pairs would miss on this machine:
    CycleGAN's test splits (translated, and the FID's real images), DCGAN's training images (the colour
    check). Checked before a batch grades anything: a missing folder is the grader's, never a student's."""
    missing = []
    for family, dataset in sorted(datasets):
        if family == "cyclegan" and dataset in CYCLEGAN_FOLDERS:
            folders = [data_root / CYCLEGAN_FOLDERS[dataset] / split for split in ("testA", "testB")]
        elif family == "dcgan" and dataset == "shapes32":
            folders = [data_root / "shapes32" / "train"]
        elif family == "dcgan" and dataset == "cifar10":
            folders = [data_root / "cifar10" / "cifar-10-batches-py"]
        else:
            continue
        missing += [f"{dataset} ({folder})" for folder in folders if not folder.is_dir() or not any(folder.iterdir())]
    return missing


# ----------------------------------------------------------------------------- the checks
@dataclass
class Verdict:
    ok: bool
    message: str
    figures: dict


def _cache_file(tools: Tools, key: dict, suffix: str) -> Path | None:
    """The cache file of `key`; the key also holds this file's code (a cache that outlives a change
    of the checks must not answer for the new code: the canary's cache lives with the fixture)."""
    if tools.cache is None:
        return None
    keyed = json.dumps({**key, "code": CODE_DIGEST}, sort_keys=True).encode()
    return tools.cache / f"{hashlib.sha256(keyed).hexdigest()}{suffix}"


def _store(path: Path, write) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        write(f)
    os.replace(tmp, path)


STORES = {".json": (lambda path: json.loads(path.read_text()), lambda f, value: f.write(json.dumps(value).encode())),
          ".npy": (lambda path: np.load(path, allow_pickle=False),
                   lambda f, value: np.save(f, value, allow_pickle=False))}


def _cached(tools: Tools, key: dict, compute, disk: str | None = ".json"):
    """The trusted computation's results, kept for this run and, with `disk` (".json" results,
    ".npy" features), in the cache directory too, keyed by everything they depend on (tests and a
    batch re-grade the same files; what depends only on the grading seed is shared by a batch)."""
    memo_key = json.dumps(key, sort_keys=True)
    if memo_key not in tools.memo:
        path = _cache_file(tools, key, disk) if disk else None
        load, save = STORES.get(disk, (None, None))
        if path is not None and path.is_file():
            value = load(path)
        else:
            value = compute()
            if path is not None:
                _store(path, lambda f: save(f, value))
        tools.memo[memo_key] = value
    return tools.memo[memo_key]


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "missing"


def _seeded(tools: Tools, key: int) -> int:
    return int(np.random.default_rng([tools.seed, key]).integers(2**62))


def untrained(tools: Tools, family: str, key: int) -> torch.nn.Module:
    """A freshly initialised generator of the table (its init drawn from the grading seed)."""
    torch.manual_seed(_seeded(tools, key))
    return tools.make_generator(family).eval().requires_grad_(False)


def dcgan_samples(tools: Tools, net, n: int, key: int = 2) -> torch.Tensor:
    """n uint8 samples from z ~ N(0, I) drawn with the grading seed (the same z for every generator)."""
    z = torch.randn(n, LATENT_DIM, generator=torch.Generator().manual_seed(_seeded(tools, key)))   # on the CPU: any device
    net = net.to(tools.device)
    with torch.no_grad():
        return torch.cat([to_uint8(net(z[i:i + 100].to(tools.device))).cpu() for i in range(0, n, 100)])


def translations(net, source: torch.Tensor, device: str = "cpu") -> torch.Tensor:
    """uint8 translations of float [-1, 1] images, 4 at a time."""
    net = net.to(device)
    with torch.no_grad():
        return torch.cat([to_uint8(net(source[i:i + 4].to(device))).cpu() for i in range(0, len(source), 4)])


def judged_splits(claim: Claim) -> int:
    """Splits of the claim's size the judge scores: about JUDGED_IMAGES images, never more than N."""
    return max(1, min(claim.splits, JUDGED_IMAGES // claim.split_size, claim.n // claim.split_size))


def tolerance(claim: Claim, bootstrap_std: float, j: int) -> tuple[float, float]:
    """(tolerance, sigma used): see the module docstring."""
    claimed = claim.std * math.sqrt(claim.splits / (claim.splits - 1))
    sigma = min(max(claimed, bootstrap_std), 2 * bootstrap_std)
    return Q * sigma * math.sqrt(1 / claim.splits + 1 / j) + REL_FLOOR * claim.score + ABS_FLOOR, sigma


def splits_of(tools: Tools, claim: Claim, probs: np.ndarray, bootstrap: bool) -> dict:
    """The scores of j splits of the claim's size; with `bootstrap`, the std of one split's score
    estimated by drawing splits of m from all m*j judged images (with replacement). Pooling matters
    for small m: a split of 2 images that happen to agree has a bootstrap std of 0 on its own."""
    m, j = claim.split_size, judged_splits(claim)
    if len(probs) < m * j:
        raise CannotCheck(f"only {len(probs)} test images for {j} split(s) of {m}")
    result = {"scores": [tools.split_score(probs[i * m:(i + 1) * m]) for i in range(j)]}
    if bootstrap:
        rng = np.random.default_rng([tools.seed, 3])
        boot = [tools.split_score(probs[rng.integers(0, m * j, m)]) for _ in range(BOOTSTRAP)]
        result["bootstrap_std"] = float(np.std(boot, ddof=1))
    return result


# DCGAN: the submitted and an untrained generator on the same fresh z
def dcgan_claim_key(tools: Tools, claim: Claim) -> dict:
    return {"family": "dcgan", "m": claim.split_size, "j": judged_splits(claim), "seed": tools.seed,
            "context": tools.context}


def dcgan_trained(tools: Tools, claim: Claim, submission: Path) -> dict:
    path = submission / CHECKPOINTS[claim.model][0]
    key = {**dcgan_claim_key(tools, claim), "what": "trained", "file": file_digest(path)}

    def compute():
        net = load_into(tools.make_generator("dcgan"), path)
        probs = features(tools, dcgan_samples(tools, net, claim.split_size * judged_splits(claim)))[1]
        return splits_of(tools, claim, probs, bootstrap=True)
    return _cached(tools, key, compute)


def dcgan_untrained(tools: Tools, claim: Claim) -> list[float]:
    """The same for every submission and type of a batch (its z and init come from the grading seed)."""
    key = {**dcgan_claim_key(tools, claim), "what": "untrained probs"}
    n = claim.split_size * judged_splits(claim)
    probs = _cached(tools, key, lambda: features(tools, dcgan_samples(tools, untrained(tools, "dcgan", 4), n))[1],
                    disk=".npy")
    return splits_of(tools, claim, probs, bootstrap=False)["scores"]


def calibrated(net: torch.nn.Module, z: torch.Tensor) -> torch.nn.Module:
    """`net` with every BatchNorm's running statistics set to its batch statistics on `z` (one pass in
    train mode, cumulative average): all that a forward pass gives a network that never learned."""
    for m in net.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.reset_running_stats()
            m.momentum = None
    with torch.no_grad():
        net.train()(z)
    return net.eval().requires_grad_(False)


def colour_statistics(images: torch.Tensor) -> np.ndarray:
    """Per image, the mean and the std of each colour channel ([N, 6], float64) of uint8 images."""
    x = images.double() / 127.5 - 1
    return torch.cat([x.mean(dim=(2, 3)), x.std(dim=(2, 3))], 1).numpy()


def colour_distance(tools: Tools, claim: Claim, submission: Path) -> dict:
    """The Frechet distance between the per-image colour statistics of the submitted generator's samples
    and of real training images, and the same for the untrained baselines (the smallest counts): each
    untrained init as initialised and with BatchNorm statistics calibrated on the judge's z, the
    freedom a submission has without training. An untrained generator cannot match the data's colours
    and contrast (its per-image statistics barely vary with z); any training does so first."""
    path = submission / CHECKPOINTS[claim.model][0]
    base = {"family": "dcgan", "dataset": claim.dataset, "n": COLOUR_SAMPLES, "seed": tools.seed,
            "context": tools.context}

    def real():
        return colour_statistics(real_images(tools, claim.dataset, "train", COLOUR_SAMPLES, 32, 40))
    reference = _cached(tools, {**base, "what": "real colours"}, real, disk=".npy")

    def distance(net) -> float:
        return float(tools.fid(colour_statistics(dcgan_samples(tools, net, COLOUR_SAMPLES, key=6)), reference))

    def baselines() -> list[float]:
        z = torch.randn(CALIBRATION_Z, LATENT_DIM, generator=torch.Generator().manual_seed(_seeded(tools, 5)))
        found = []
        for k in range(UNTRAINED_INITS):
            found.append(distance(untrained(tools, "dcgan", 4 + 100 * k)))
            found.append(distance(calibrated(untrained(tools, "dcgan", 4 + 100 * k), z)))
        return found
    untrained_distances = _cached(tools, {**base, "what": "untrained colour distances"}, baselines)
    trained = _cached(tools, {**base, "what": "trained colour distance", "file": file_digest(path)},
                      lambda: distance(load_into(tools.make_generator("dcgan"), path)))
    return {"trained": trained, "untrained": min(untrained_distances)}


# CycleGAN: translations of real test images; one sample per direction serves both checks
def sources(tools: Tools, claim: Claim, direction: int) -> torch.Tensor:
    """The test images the judge translates: FID_SAMPLES of the source domain (testA for A2B), and
    for A2B at least the claim's judged splits (the claim is the IS of A2B translations)."""
    n = max(FID_SAMPLES, claim.split_size * judged_splits(claim)) if direction == 0 else FID_SAMPLES
    images = real_images(tools, claim.dataset, ("testA", "testB")[direction], n, claim.size, 30 + direction)
    return images.float() / 127.5 - 1


def cyclegan_key(tools: Tools, claim: Claim, direction: int) -> dict:
    return {"family": "cyclegan", "dataset": claim.dataset, "size": claim.size, "direction": direction,
            "n": FID_SAMPLES, "m": claim.split_size, "j": judged_splits(claim), "seed": tools.seed,
            "context": tools.context}


def translated_features(tools: Tools, claim: Claim, submission: Path, direction: int) -> tuple[np.ndarray, np.ndarray]:
    """(pool3, p(y|x)) of the submitted generator's translations, kept for this run."""
    path = submission / CHECKPOINTS[claim.model][direction]
    key = {**cyclegan_key(tools, claim, direction), "what": "trained", "file": file_digest(path)}
    return _cached(tools, key, lambda: features(
        tools, translations(load_into(tools.make_generator("cyclegan"), path), sources(tools, claim, direction),
                            tools.device)),
        disk=None)


def cyclegan_trained(tools: Tools, claim: Claim, submission: Path) -> dict:
    key = {**cyclegan_key(tools, claim, 0), "what": "trained splits",
           "file": file_digest(submission / CHECKPOINTS[claim.model][0])}
    return _cached(tools, key, lambda: splits_of(tools, claim, translated_features(tools, claim, submission, 0)[1],
                                                 bootstrap=True))


def fid_pair(tools: Tools, claim: Claim, submission: Path, direction: int) -> dict:
    """FID of the submitted and of an untrained CycleGAN generator against the same target images."""
    base = cyclegan_key(tools, claim, direction)
    target = ("testB", "testA")[direction]
    real = _cached(tools, {**base, "what": "real pool"}, lambda: features(
        tools, real_images(tools, claim.dataset, target, FID_SAMPLES, claim.size, 20 + direction))[0], disk=".npy")
    fresh = _cached(tools, {**base, "what": "untrained pool"}, lambda: features(
        tools, translations(untrained(tools, "cyclegan", 10 + direction), sources(tools, claim, direction),
                            tools.device))[0],
        disk=".npy")
    mine = translated_features(tools, claim, submission, direction)[0]
    return {"trained": tools.fid(mine[:FID_SAMPLES], real), "untrained": tools.fid(fresh[:FID_SAMPLES], real),
            "n": min(FID_SAMPLES, len(mine)), "real": len(real)}


def check_claim(tools: Tools, claim: Claim, submission: Path) -> Verdict:
    if problem := data_problem(tools, claim):
        return Verdict(False, f"{claim.model}: {problem}", {})
    result = (dcgan_trained if claim.family == "dcgan" else cyclegan_trained)(tools, claim, submission)
    j = len(result["scores"])
    recomputed = float(np.mean(result["scores"]))
    tol, sigma = tolerance(claim, result["bootstrap_std"], j)
    figures = {"claimed": claim.score, "recomputed": recomputed, "tolerance": tol, "sigma": sigma,
               "split_size": claim.split_size, "splits_judged": j}
    ok = abs(recomputed - claim.score) <= tol
    what = f"{j} split{'s' if j > 1 else ''} of {claim.split_size} fresh samples"
    return Verdict(ok, f"{claim.model}: the claimed IS {claim.score:.4f} does not match the submitted generator: "
                       f"recomputed {recomputed:.4f} on {what} (the claim's split size), tolerance +-{tol:.4f} "
                       f"({Q:g} sigma, sigma {sigma:.4f} from the claimed std {claim.std:.4f} and the samples)", figures)


def check_beats_untrained(tools: Tools, claim: Claim, submission: Path) -> Verdict:
    if problem := data_problem(tools, claim):
        return Verdict(False, f"{claim.model}: {problem}", {})
    if claim.family == "dcgan":
        trained = float(np.mean(dcgan_trained(tools, claim, submission)["scores"]))
        fresh = float(np.mean(dcgan_untrained(tools, claim)))
        colours = colour_distance(tools, claim, submission)
        is_ok = math.log(trained) >= math.log(fresh) + IS_GAP
        colour_ok = colours["trained"] <= COLOUR_RATIO * colours["untrained"]
        problems = []
        if not is_ok:
            problems.append(f"IS {trained:.4f} vs untrained {fresh:.4f} on the same "
                            f"{judged_splits(claim) * claim.split_size} latent vectors (needed: log IS >= "
                            f"log IS(untrained) + {IS_GAP:g}, i.e. IS >= {fresh * math.exp(IS_GAP):.4f})")
        if not colour_ok:
            problems.append(f"the colours and contrast of its samples are no closer to the {claim.dataset} training "
                            f"images than an untrained generator's: distance {colours['trained']:.4f} vs "
                            f"{colours['untrained']:.4f} for the closest untrained one (needed <= "
                            f"{COLOUR_RATIO:g} x; per-image mean and std of each channel, {COLOUR_SAMPLES} samples)")
        return Verdict(is_ok and colour_ok, f"{claim.model}: the submitted generator does not beat an untrained one "
                                            f"of the same architecture: " + "; ".join(problems),
                       {"is": [trained, fresh], "colour": colours})
    results = []
    for d in range(len(CHECKPOINTS[claim.model])):
        key = {**cyclegan_key(tools, claim, d), "what": "fid",
               "file": file_digest(submission / CHECKPOINTS[claim.model][d])}
        results.append(_cached(tools, key, lambda d=d: fid_pair(tools, claim, submission, d)))
    trained, fresh = sum(r["trained"] for r in results), sum(r["untrained"] for r in results)
    each = "; ".join(f"{name}: FID {r['trained']:.2f} vs untrained {r['untrained']:.2f}"
                     for name, r in zip(("G_A2B", "G_B2A"), results))
    return Verdict(trained <= BEAT_RATIO * fresh,
                   f"{claim.model}: the submitted generators do not beat untrained ones of the same architecture "
                   f"(their FIDs against the target domains, summed over both directions, must be <= "
                   f"{BEAT_RATIO:g} x an untrained pair's; {results[0]['n']} translations each): {each}",
                   {"fid": results})


# ----------------------------------------------------------------------------- a student's own run
def local_tools(submission: Path, seed: int) -> Tools:
    """The self-check on a student's machine: the student's own generator classes and metric
    functions (the judge uses its own copies; on correct code both agree)."""
    import cyclegan
    import dcgan
    import fid
    import inception
    import inception_score

    def make_generator(family: str) -> torch.nn.Module:
        return dcgan.DCGAN_Generator() if family == "dcgan" else cyclegan.CycleGAN_Generator()

    def load_inception():
        try:
            return inception.load_fid_inception(None, "cpu")
        except inception.KitError as exc:
            raise CannotCheck(str(exc)) from None

    def distance(a: np.ndarray, b: np.ndarray) -> float:
        return float(fid.frechet_distance(*fid.feature_statistics(a), *fid.feature_statistics(b)))

    def students_split_score(probs: np.ndarray) -> float:
        return float(inception_score.inception_score_from_probs(probs, 1)[0])

    data = Path(os.environ.get("GAN_KIT_DATA", submission / "data"))
    cache = os.environ.get("GRADER_CACHE")
    return Tools(make_generator, load_inception, students_split_score, distance, data, seed,
                 Path(cache) if cache else None,
                 context=f"local|{data}|{os.environ.get('GAN_KIT_INCEPTION_WEIGHTS', '')}|{code_digest(submission)}")


def code_digest(submission: Path) -> str:
    """The student's code the self-check runs (their results depend on it, unlike the judge's)."""
    names = ("dcgan.py", "cyclegan.py", "inception_score.py", "fid.py", "inception.py", "util.py")
    return hashlib.sha256(b"".join(file_digest(submission / name).encode() for name in names)).hexdigest()
