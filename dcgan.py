"""DCGAN on 32x32 images with four losses: GAN, LSGAN, WGAN and WGAN-GP.

Read top to bottom: the two networks (Table 1), the gradient penalty, the solver
(losses, one training step, the training loop, evaluation), then the CLI.

    python dcgan.py --gan_type wgan-gp --train true      # train (CIFAR-10 by default)
    python dcgan.py --gan_type wgan-gp --train false     # sample + Inception Score / FID
"""
from __future__ import annotations

import argparse
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F
from tqdm import tqdm

from util import (FastPath, KitError, add_distributed_arguments, add_fast_argument, cli_main, close_distributed, conv,
                  deconv, default_workers, distributed, get_device, init_distributed, is_main_process,
                  load_checkpoint, load_training_state, rank, run_settings, save_checkpoint, save_image_grid,
                  save_images, save_run_settings, save_training_state, scaled_lr, set_seed, str2bool, unwrap)

GAN_TYPES = ("gan", "lsgan", "wgan", "wgan-gp")
LATENT_DIM = 256
GP_WEIGHT = 10.0
CLIP_VALUE = 0.01


# ----------------------------------------------------------------------------- models
class DCGAN_Generator(nn.Module):
    """z [B, 256] (or [B, 256, 1, 1]) -> image [B, 3, 32, 32] in [-1, 1]."""

    def __init__(self):
        super().__init__()
        # TODO: build the four generator layers of Table 1 (1x1 -> 4 -> 8 -> 16 -> 32).
        # Hint: util.deconv(c_in, c_out, k, stride, pad, norm=..., activation=...); no biases;
        # layers 1-3 are Deconv + BN + ReLU, layer 4 is Deconv 64->3 + Tanh (no BN).
        # BEGIN SOLUTION
        self.layer1 = deconv(LATENT_DIM, 256, 4, stride=1, pad=0, norm="bn", activation="relu")
        self.layer2 = deconv(256, 128, 4, stride=2, pad=1, norm="bn", activation="relu")
        self.layer3 = deconv(128, 64, 4, stride=2, pad=1, norm="bn", activation="relu")
        self.layer4 = deconv(64, 3, 4, stride=2, pad=1, norm=None, activation="tanh")
        # END SOLUTION

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        z = z.view(z.size(0), LATENT_DIM, 1, 1)
        # TODO: run z through the four layers and return the image.
        # BEGIN SOLUTION
        return self.layer4(self.layer3(self.layer2(self.layer1(z))))
        # END SOLUTION


class DCGAN_Discriminator(nn.Module):
    """image [B, 3, 32, 32] -> score [B, 1]; a probability only for type 'gan'."""

    def __init__(self, type: str = "gan"):
        super().__init__()
        if type not in GAN_TYPES:
            raise ValueError(f"type must be one of {GAN_TYPES}, got {type!r}")
        self.type = type
        # TODO: build the four discriminator layers of Table 1 (32 -> 16 -> 8 -> 4 -> 1).
        # Hint: util.conv; layers 1-3 are Conv + BN + LeakyReLU(0.2), layer 4 is Conv 256->1 k4 s1 p0
        # with no norm; add a Sigmoid only when type == 'gan' (LSGAN and WGAN critics output raw scores).
        # BEGIN SOLUTION
        self.layer1 = conv(3, 64, 4, stride=2, pad=1, norm="bn", activation="lrelu")
        self.layer2 = conv(64, 128, 4, stride=2, pad=1, norm="bn", activation="lrelu")
        self.layer3 = conv(128, 256, 4, stride=2, pad=1, norm="bn", activation="lrelu")
        self.layer4 = conv(256, 1, 4, stride=1, pad=0, norm=None,
                           activation="sigmoid" if type == "gan" else None)
        # END SOLUTION

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # TODO: run x through the layers and return a [B, 1] tensor.
        # BEGIN SOLUTION
        out = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return out.view(x.size(0), 1)
        # END SOLUTION


# ----------------------------------------------------------------------------- gradient penalty
class GPLoss(nn.Module):
    """WGAN-GP penalty mean_b (||dy/dx_b||_2 - 1)^2, unweighted (the solver multiplies by 10)."""

    def __init__(self, device: torch.device | str | None = None):
        super().__init__()
        self.device = device

    def forward(self, y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        # TODO: gradient of y (the critic's output on x) w.r.t. x with torch.autograd.grad
        # (grad_outputs of ones, create_graph=True so the penalty back-propagates into D);
        # flatten each sample's gradient, take its L2 norm over *all* its pixels and channels,
        # and return the mean over the batch of (norm - 1) ** 2.
        # BEGIN SOLUTION
        grad = torch.autograd.grad(outputs=y, inputs=x, grad_outputs=torch.ones_like(y),
                                   create_graph=True, retain_graph=True)[0]
        norm = grad.reshape(grad.size(0), -1).norm(2, dim=1)
        return ((norm - 1) ** 2).mean()
        # END SOLUTION


# ----------------------------------------------------------------------------- solver
class DCGAN_Solver:
    """Builds G and D (self.G, self.D), their Adam optimizers, and trains / evaluates them."""

    def __init__(self, type: str = "gan", lr: float = 0.0002, batch_size: int = 64, num_workers: int = 1,
                 device: torch.device | str | None = None, dataset: str = "cifar10",
                 results_dir: str | Path = "results", seed: int = 0):
        if type not in GAN_TYPES:
            raise KitError(f"unknown GAN type {type!r}; choose one of {', '.join(GAN_TYPES)}")
        self.type, self.lr, self.batch_size, self.num_workers = type, lr, batch_size, num_workers
        self.device = get_device(device)
        self.dataset, self.seed = dataset, seed
        self.out_dir = Path(results_dir) / "dcgan" / type
        self.G = DCGAN_Generator().to(self.device)
        self.D = DCGAN_Discriminator(type).to(self.device)
        self.gp = GPLoss(self.device)
        self.optim_G = torch.optim.Adam(self.G.parameters(), lr=lr, betas=(0.5, 0.999))
        self.optim_D = torch.optim.Adam(self.D.parameters(), lr=lr, betas=(0.5, 0.999))

    # -- losses: the parts you write -------------------------------------------------
    def d_loss(self, real_img: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """lossD for self.type on a real batch and noise z; the fake is G(z).detach()."""
        # TODO: lossD for each type, with ones/zeros labels of shape [B]:
        #   gan:     BCE(D(x), 1) + BCE(D(G(z)), 0)
        #   lsgan:   0.5 * (MSE(D(x), 1) + MSE(D(G(z)), 0))
        #   wgan:    -mean D(x) + mean D(G(z))
        #   wgan-gp: the wgan loss + 10 * self.gp(D(x_hat), x_hat) with x_hat = a*x + (1-a)*G(z),
        #            a ~ U[0, 1] drawn per sample (shape [B, 1, 1, 1]), x_hat requiring grad.
        # Detach the fake so this loss sends no gradient into G.
        # BEGIN SOLUTION
        fake = self.G(z).detach()
        d_real, d_fake = self.D(real_img).view(-1), self.D(fake).view(-1)
        ones, zeros = torch.ones_like(d_real), torch.zeros_like(d_fake)
        if self.type == "gan":
            return F.binary_cross_entropy(d_real, ones) + F.binary_cross_entropy(d_fake, zeros)
        if self.type == "lsgan":
            return 0.5 * (F.mse_loss(d_real, ones) + F.mse_loss(d_fake, zeros))
        loss = -d_real.mean() + d_fake.mean()
        if self.type == "wgan-gp":
            alpha = torch.rand(real_img.size(0), 1, 1, 1, device=real_img.device)
            x_hat = (alpha * real_img + (1 - alpha) * fake).requires_grad_(True)
            loss = loss + GP_WEIGHT * self.gp(self.D(x_hat), x_hat)
        return loss
        # END SOLUTION

    def g_loss(self, z: torch.Tensor) -> torch.Tensor:
        """lossG for self.type on noise z."""
        # TODO: lossG for each type: gan BCE(D(G(z)), 1); lsgan MSE(D(G(z)), 1);
        # wgan and wgan-gp -mean D(G(z)). No detach here: G must receive the gradient.
        # BEGIN SOLUTION
        d_fake = self.D(self.G(z)).view(-1)
        if self.type == "gan":
            return F.binary_cross_entropy(d_fake, torch.ones_like(d_fake))
        if self.type == "lsgan":
            return F.mse_loss(d_fake, torch.ones_like(d_fake))
        return -d_fake.mean()
        # END SOLUTION

    def clip_weights(self) -> None:
        """WGAN: clamp every parameter of D (not G) to [-0.01, 0.01]."""
        # TODO: clamp each D parameter in place to [-CLIP_VALUE, CLIP_VALUE] (no gradient tracking).
        # BEGIN SOLUTION
        with torch.no_grad():
            for p in self.D.parameters():
                p.clamp_(-CLIP_VALUE, CLIP_VALUE)
        # END SOLUTION

    def train_step(self, real_img: torch.Tensor) -> tuple[float, float]:
        """One D step then one G step on the same z; returns (lossD, lossG)."""
        z = torch.randn(real_img.size(0), LATENT_DIM, device=self.device)
        # TODO: D step: zero D's gradients, backward d_loss(real_img, z), step optim_D, and for type
        # 'wgan' (only) clip D's weights. Then G step with the same z: zero G's gradients, backward
        # g_loss(z), step optim_G. Return both losses as floats.
        # BEGIN SOLUTION
        self.optim_D.zero_grad(set_to_none=True)
        loss_D = self.d_loss(real_img, z)
        loss_D.backward()
        self.optim_D.step()
        if self.type == "wgan":
            self.clip_weights()
        self.optim_G.zero_grad(set_to_none=True)
        loss_G = self.g_loss(z)
        loss_G.backward()
        self.optim_G.step()
        return loss_D.item(), loss_G.item()
        # END SOLUTION

    # -- training loop and evaluation (given) ------------------------------------------
    def distribute(self, sync_bn: bool = False) -> None:
        """Under torchrun: G and D as DistributedDataParallel, BatchNorm per process (the DCGAN default:
        statistics of this process's batch) or, with sync_bn, over all processes' batches (GPUs only).
        A plain run: nothing changes."""
        self.G, self.D = distributed(self.G, self.device, sync_bn), distributed(self.D, self.device, sync_bn)

    def fast_path(self, fast: bool | None = None) -> FastPath:
        """The training loop's speed-ups (util.FastPath; default: on with CUDA). wgan-gp compiles G only:
        torch.compile does not take the double backward of the gradient penalty through D."""
        return FastPath(self, ["G"] if self.type == "wgan-gp" else ["G", "D"], ["optim_G", "optim_D"], enabled=fast)

    def train(self, epochs: int, save_every: int = 10, resume: bool = False, max_steps: int | None = None,
              sync_bn: bool = False, fast: bool | None = None) -> list[tuple[float, float]]:
        """Train for `epochs` epochs; returns the mean (lossD, lossG) of each epoch (this process's).
        Under torchrun every process trains on its share of each epoch; process 0 alone prints and writes."""
        from dataloader import create_dataloader
        set_seed(self.seed + rank())                  # each process its own noise; DDP copies process 0's weights
        loader, _ = create_dataloader(self.dataset, self.batch_size, self.num_workers)
        ckpt_dir, img_dir = self.out_dir / "checkpoints", self.out_dir / "images"
        parts = {"G": self.G, "D": self.D, "optim_G": self.optim_G, "optim_D": self.optim_D}
        start = load_training_state(ckpt_dir / "last.pth", parts, self.device) if resume else 0
        self.distribute(sync_bn)
        fast_path = self.fast_path(fast)
        main = is_main_process()
        if main:
            save_run_settings(ckpt_dir, dataset=self.dataset)
        fixed_z = torch.randn(64, LATENT_DIM, generator=torch.Generator().manual_seed(1234)).to(self.device)
        history = []
        for epoch in range(start, epochs):
            self.G.train(); self.D.train()
            if hasattr(loader.sampler, "set_epoch"):
                loader.sampler.set_epoch(epoch)
            sums, steps = [0.0, 0.0], 0
            bar = tqdm(loader, desc=f"{self.type} epoch {epoch + 1}/{epochs}", leave=False, disable=not main,
                       total=len(loader) if max_steps is None else min(len(loader), max_steps))
            for batch in bar:
                real = (batch[0] if isinstance(batch, (list, tuple)) else batch).to(self.device)
                loss_D, loss_G = fast_path.step(self.train_step, real)
                sums[0] += loss_D; sums[1] += loss_G; steps += 1
                bar.set_postfix(lossD=f"{sums[0] / steps:.4f}", lossG=f"{sums[1] / steps:.4f}")
                if max_steps is not None and steps >= max_steps:
                    break
            history.append((sums[0] / steps, sums[1] / steps))
            if not main:
                continue
            print(f"[{self.type}] epoch {epoch + 1}/{epochs}  lossD {history[-1][0]:.4f}  lossG {history[-1][1]:.4f}")
            self.G.eval()
            with torch.no_grad():
                save_image_grid(unwrap(self.G)(fixed_z), img_dir / f"epoch_{epoch + 1:03d}.png")
            save_training_state(ckpt_dir / "last.pth", epoch + 1, parts)
            if (epoch + 1) % save_every == 0:
                save_checkpoint(self.G, ckpt_dir / f"G_epoch_{epoch + 1:03d}.pth")
        fast_path.off()
        self.G, self.D = unwrap(self.G), unwrap(self.D)
        if main:
            save_checkpoint(self.G, ckpt_dir / "G_final.pth")
            save_checkpoint(self.D, ckpt_dir / "D_final.pth")
        return history

    @torch.no_grad()
    def interpolation_grid(self, pairs: int = 8, steps: int = 10, seed: int | None = None) -> torch.Tensor:
        """G along `steps` evenly spaced points from z0 to z1 (slerp), one row per pair of latents:
        [pairs * steps, 3, 32, 32]; the first column is G(z0) and the last G(z1)."""
        gen = torch.Generator().manual_seed(self.seed if seed is None else seed)
        z0, z1 = (torch.randn(pairs, LATENT_DIM, generator=gen) for _ in range(2))
        t = torch.linspace(0, 1, steps)
        z = torch.stack([slerp(z0, z1, float(ti)) for ti in t], dim=1).reshape(pairs * steps, LATENT_DIM)
        self.G.eval()
        return self.G(z.to(self.device))

    def test(self, num_samples: int = 1000, metrics: str = "all", weights: str | None = None,
             scores_file: str | Path = "inception_score.txt") -> dict:
        """Sample the final generator; Inception Score (and FID vs training images) of the samples."""
        load_checkpoint(self.G, self.out_dir / "checkpoints" / "G_final.pth", self.device)
        if metrics != "none":
            import inception
            weights = str(inception.resolve_weights(weights))   # missing weights: said before the work
        self.G.eval()
        eval_dir = self.out_dir / "evaluation"
        torch.manual_seed(self.seed)
        with torch.no_grad():
            for start in tqdm(range(0, num_samples, 100), desc=f"writing {num_samples} samples", leave=False):
                z = torch.randn(min(100, num_samples - start), LATENT_DIM, device=self.device)
                save_images(self.G(z), eval_dir, start=start)
        print(f"wrote {num_samples} samples to {eval_dir}")
        grid = save_image_grid(self.interpolation_grid(), self.out_dir / "interpolation.png", nrow=10)
        print(f"latent interpolations (rows: z0 -> z1 in 10 slerp steps): {grid}")
        result = {"type": self.type, "num_samples": num_samples, "samples": str(eval_dir)}
        if metrics == "none":
            return result
        import fid
        import inception_score
        from dataloader import FolderDataset, create_dataset
        score, std = inception_score.Inception_Score(FolderDataset(eval_dir), device=self.device,
                                                     weights=weights).compute_score(splits=10)
        result.update(inception_score=score, inception_score_std=std)
        inception_score.append_score_line(scores_file, f"dcgan-{self.type}", score, std, num_samples, splits=10,
                                          seed=self.seed, dataset=self.dataset)
        real = torch.utils.data.Subset(create_dataset(self.dataset, train=True),
                                       range(min(num_samples, 50000)))
        result["fid"] = fid.fid_between(FolderDataset(eval_dir), real, device=self.device, weights=weights)
        print(f"[{self.type}] IS {score:.4f} +- {std:.4f}  FID {result['fid']:.4f}  (N={num_samples})")
        return result


def slerp(z0: torch.Tensor, z1: torch.Tensor, t: float) -> torch.Tensor:
    """Spherical interpolation between rows of z0 and z1: exactly z0 at t=0 and z1 at t=1.

    Why not a straight line: Gaussian latents in 256 dimensions lie near the sphere of radius 16;
    the midpoint of a straight line between two of them has norm ~16/sqrt(2), a point G never saw
    in training. Slerp walks along the sphere (Shoemake 1985; White, "Sampling Generative Networks", 2016)."""
    if t <= 0:
        return z0.clone()
    if t >= 1:
        return z1.clone()
    a, b = z0.double(), z1.double()
    cos = ((a * b).sum(1, keepdim=True) / (a.norm(dim=1, keepdim=True) * b.norm(dim=1, keepdim=True))).clamp(-1, 1)
    omega = torch.arccos(cos)
    sin = torch.sin(omega)
    lerp = (1 - t) * a + t * b                       # (nearly) parallel rows: slerp tends to lerp
    out = torch.where(sin > 1e-6, (torch.sin((1 - t) * omega) * a + torch.sin(t * omega) * b) / sin.clamp_min(1e-12), lerp)
    return out.to(z0.dtype)


# ----------------------------------------------------------------------------- CLI
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Train or evaluate DCGAN.")
    parser.add_argument("--gan_type", default="gan", choices=GAN_TYPES)
    parser.add_argument("--train", type=str2bool, default=True, help="true: train; false: evaluate")
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--batch_size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=0.0002)
    parser.add_argument("--dataset", default=None, choices=("cifar10", "shapes32"),
                        help="default cifar10; --train false: what training used (checkpoints/run.json)")
    parser.add_argument("--device", default=None, help="cpu, cuda, cuda:1 (default: cuda if available)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--num_workers", type=int, default=None,
                        help="loader workers (default: up to 4 beside a GPU, 0 on a CPU)")
    parser.add_argument("--num_samples", type=int, default=1000,
                        help="samples for the evaluation: IS over 10 splits (the grader re-checks one split)")
    parser.add_argument("--save_every", type=int, default=10, help="epochs between checkpoints")
    parser.add_argument("--resume", type=str2bool, default=False, help="continue from checkpoints/last.pth")
    parser.add_argument("--max_steps", type=int, default=None, help="cap on steps per epoch (quick runs)")
    parser.add_argument("--results", default="results", help="output folder")
    parser.add_argument("--metrics", default="all", choices=("all", "none"),
                        help="none: only write samples (no Inception weights needed)")
    parser.add_argument("--weights", default=None, help="path to the FID Inception weights file")
    add_distributed_arguments(parser, sync_bn=True)
    add_fast_argument(parser)
    args = parser.parse_args(argv)
    device = init_distributed(args.device)       # torchrun: this process's device; a plain run: as always
    lr = scaled_lr(args)
    workers = default_workers(device) if args.num_workers is None else args.num_workers
    solver = DCGAN_Solver(args.gan_type, lr, args.batch_size, workers, device,
                          dataset=args.dataset or "cifar10", results_dir=args.results, seed=args.seed)
    if not args.train and args.dataset is None:
        solver.dataset = run_settings(solver.out_dir / "checkpoints").get("dataset", solver.dataset)
        print(f"evaluating for --dataset {solver.dataset} (what training recorded; pass --dataset to change)")
    if args.train:
        solver.train(args.epochs, save_every=args.save_every, resume=args.resume, max_steps=args.max_steps,
                     sync_bn=args.sync_bn, fast=args.fast)
        if is_main_process():
            print(f"checkpoints: {solver.out_dir / 'checkpoints'}  sample grids: {solver.out_dir / 'images'}")
    elif is_main_process():                   # evaluation is one process's job, under torchrun too
        solver.test(args.num_samples, metrics=args.metrics, weights=args.weights)
    close_distributed()


if __name__ == "__main__":
    cli_main(main)
