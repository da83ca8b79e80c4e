"""The corpus: chaffs (one real mistake each, tagged with the rubric section it must cost)
and wheats (valid alternatives that must get full marks)."""
from __future__ import annotations

from variants import Edit, Variant, chaff

D, C, L, IS, F, A = "dcgan.py", "cyclegan.py", "dataloader.py", "inception_score.py", "fid.py", "attention.py"
U = "util.py"
HALVED_D_LOSS = Edit(C, "return F.mse_loss(pred_real, torch.ones_like(pred_real)) + F.mse_loss(pred_fake, torch.zeros_like(pred_fake))",
                     "return 0.5 * (F.mse_loss(pred_real, torch.ones_like(pred_real))"
                     " + F.mse_loss(pred_fake, torch.zeros_like(pred_fake)))")

CHAFFS = [
    # ---------------------------------------------------------------- 1.1 DCGAN model
    chaff("lrelu-default-slope", "dcgan_model", D,
          'self.layer1 = conv(3, 64, 4, stride=2, pad=1, norm="bn", activation="lrelu")',
          "self.layer1 = nn.Sequential(nn.Conv2d(3, 64, 4, 2, 1, bias=False), nn.BatchNorm2d(64), nn.LeakyReLU())"),
    chaff("deconv-bias", "dcgan_model", D,
          'deconv(256, 128, 4, stride=2, pad=1, norm="bn", activation="relu")',
          'deconv(256, 128, 4, stride=2, pad=1, bias=True, norm="bn", activation="relu")'),
    chaff("sigmoid-for-lsgan", "dcgan_model", D,
          'activation="sigmoid" if type == "gan" else None)',
          'activation="sigmoid" if type in ("gan", "lsgan") else None)'),
    chaff("no-sigmoid-for-gan", "dcgan_model", D,
          'activation="sigmoid" if type == "gan" else None)', "activation=None)",
          also=("dcgan_training",)),   # its BCE then runs on raw scores: the GAN losses break too
    Variant("logit-d-with-bce-with-logits", "chaff", "dcgan_model", [   # Table 1 has the Sigmoid in D: only 1.1
        Edit(D, 'activation="sigmoid" if type == "gan" else None)', "activation=None)"),
        Edit(D, "return F.binary_cross_entropy(d_real, ones) + F.binary_cross_entropy(d_fake, zeros)",
             "return F.binary_cross_entropy_with_logits(d_real, ones) + F.binary_cross_entropy_with_logits(d_fake, zeros)"),
        Edit(D, "return F.binary_cross_entropy(d_fake, torch.ones_like(d_fake))",
             "return F.binary_cross_entropy_with_logits(d_fake, torch.ones_like(d_fake))"),
    ]),
    chaff("bn-on-last-g-layer", "dcgan_model", D,
          'deconv(64, 3, 4, stride=2, pad=1, norm=None, activation="tanh")',
          'deconv(64, 3, 4, stride=2, pad=1, norm="bn", activation="tanh")'),
    chaff("relu-in-discriminator", "dcgan_model", D,
          'conv(64, 128, 4, stride=2, pad=1, norm="bn", activation="lrelu")',
          'conv(64, 128, 4, stride=2, pad=1, norm="bn", activation="relu")'),
    chaff("tanh-twice", "dcgan_model", D,
          "return self.layer4(self.layer3(self.layer2(self.layer1(z))))",
          "return torch.tanh(self.layer4(self.layer3(self.layer2(self.layer1(z)))))"),
    chaff("d-last-conv-stride-2", "dcgan_model", D,
          "self.layer4 = conv(256, 1, 4, stride=1, pad=0", "self.layer4 = conv(256, 1, 4, stride=2, pad=1"),
    # ---------------------------------------------------------------- 1.2 DCGAN training
    chaff("fake-labelled-real", "dcgan_training", D,
          "F.binary_cross_entropy(d_fake, zeros)", "F.binary_cross_entropy(d_fake, ones)"),
    chaff("no-detach-in-d-step", "dcgan_training", D, "fake = self.G(z).detach()", "fake = self.G(z)"),
    chaff("lsgan-d-without-half", "dcgan_training", D,
          "return 0.5 * (F.mse_loss(d_real, ones) + F.mse_loss(d_fake, zeros))",
          "return F.mse_loss(d_real, ones) + F.mse_loss(d_fake, zeros)"),
    chaff("wgan-signs-flipped", "dcgan_training", D,
          "loss = -d_real.mean() + d_fake.mean()", "loss = d_real.mean() - d_fake.mean()"),
    chaff("clipping-applied-to-g", "dcgan_training", D,
          "for p in self.D.parameters():\n                p.clamp_", "for p in self.G.parameters():\n                p.clamp_"),
    chaff("gp-per-pixel-norm", "dcgan_training", D,
          "norm = grad.reshape(grad.size(0), -1).norm(2, dim=1)", "norm = grad.norm(2, dim=1)"),
    chaff("gp-squared-norm", "dcgan_training", D,
          "return ((norm - 1) ** 2).mean()", "return ((norm ** 2 - 1) ** 2).mean()"),
    chaff("gp-no-create-graph", "dcgan_training", D, "create_graph=True, retain_graph=True",
          "create_graph=False, retain_graph=True"),
    chaff("gp-weight-missing", "dcgan_training", D,
          "loss = loss + GP_WEIGHT * self.gp(", "loss = loss + self.gp("),
    chaff("alpha-per-batch", "dcgan_training", D,
          "alpha = torch.rand(real_img.size(0), 1, 1, 1, device=real_img.device)",
          "alpha = torch.rand(1, device=real_img.device)"),
    chaff("alpha-per-pixel", "dcgan_training", D,
          "alpha = torch.rand(real_img.size(0), 1, 1, 1, device=real_img.device)", "alpha = torch.rand_like(real_img)"),
    chaff("gp-at-real-images", "dcgan_training", D,
          "x_hat = (alpha * real_img + (1 - alpha) * fake).requires_grad_(True)",
          "x_hat = real_img.clone().requires_grad_(True)"),
    chaff("gan-g-saturating-loss", "dcgan_training", D,
          "return F.binary_cross_entropy(d_fake, torch.ones_like(d_fake))",
          "return -F.binary_cross_entropy(d_fake, torch.zeros_like(d_fake))"),
    chaff("lsgan-g-target-zero", "dcgan_training", D,
          "return F.mse_loss(d_fake, torch.ones_like(d_fake))", "return F.mse_loss(d_fake, torch.zeros_like(d_fake))"),
    chaff("wgan-g-sign", "dcgan_training", D, "        return -d_fake.mean()\n", "        return d_fake.mean()\n"),
    chaff("clip-range-0.1", "dcgan_training", D, "p.clamp_(-CLIP_VALUE, CLIP_VALUE)", "p.clamp_(-0.1, 0.1)"),
    chaff("clipping-for-wgan-gp-too", "dcgan_training", D,
          'if self.type == "wgan":\n            self.clip_weights()',
          'if self.type in ("wgan", "wgan-gp"):\n            self.clip_weights()'),
    chaff("no-g-optimizer-step", "dcgan_training", D,
          "loss_G.backward()\n        self.optim_G.step()", "loss_G.backward()"),
    # ---------------------------------------------------------------- 2.1 CycleGAN model
    chaff("zero-padding-in-generator", "cyclegan_model", C,
          "nn.ReflectionPad2d(3),\n            conv(input_nc, ngf, 7, stride=1, pad=0,",
          "conv(input_nc, ngf, 7, stride=1, pad=3,"),
    chaff("affine-instance-norm", "cyclegan_model", C,
          'conv(ndf, ndf * 2, 4, stride=2, pad=1, bias=True, norm="in", activation="lrelu")',
          "nn.Sequential(nn.Conv2d(ndf, ndf * 2, 4, 2, 1), nn.InstanceNorm2d(ndf * 2, affine=True), nn.LeakyReLU(0.2))"),
    chaff("residual-without-skip", "cyclegan_model", C,
          "return x + self.conv_block(x)", "return self.conv_block(x)"),
    chaff("relu-after-residual-sum", "cyclegan_model", C,
          "return x + self.conv_block(x)", "return F.relu(x + self.conv_block(x))"),
    chaff("patchgan-4th-conv-stride-2", "cyclegan_model", C,
          "conv(ndf * 4, ndf * 8, 4, stride=1, pad=1", "conv(ndf * 4, ndf * 8, 4, stride=2, pad=1"),
    chaff("in-on-patchgan-first-layer", "cyclegan_model", C,
          'conv(input_nc, ndf, 4, stride=2, pad=1, bias=False, norm=None, activation="lrelu")',
          'conv(input_nc, ndf, 4, stride=2, pad=1, bias=False, norm="in", activation="lrelu")'),
    chaff("shared-residual-block", "cyclegan_model", C,
          "*[ResnetBlock(ngf * 4) for _ in range(n_blocks)]", "*[ResnetBlock(ngf * 4)] * n_blocks"),
    chaff("five-residual-blocks", "cyclegan_model", C,
          "*[ResnetBlock(ngf * 4) for _ in range(n_blocks)]", "*[ResnetBlock(ngf * 4) for _ in range(n_blocks - 1)]"),
    chaff("output-conv-with-bias", "cyclegan_model", C,
          'conv(ngf, output_nc, 7, stride=1, pad=0, bias=False, norm=None, activation="tanh")',
          'conv(ngf, output_nc, 7, stride=1, pad=0, bias=True, norm=None, activation="tanh")'),
    chaff("upsample-without-instance-norm", "cyclegan_model", C,
          'deconv(ngf * 2, ngf, 3, stride=2, pad=1, output_padding=1, bias=True, norm="in", activation="relu")',
          'deconv(ngf * 2, ngf, 3, stride=2, pad=1, output_padding=1, bias=True, norm=None, activation="relu")'),
    # ---------------------------------------------------------------- 2.2 CycleGAN training
    chaff("paired-dataset", "cyclegan_training", L,
          "self.files_B[random.randrange(len(self.files_B))]", "self.files_B[index % len(self.files_B)]"),
    chaff("unsorted-file-lists", "cyclegan_training", L,
          "self.files_A = sorted(p for p in dir_A.iterdir() if p.suffix.lower() in IMG_EXTENSIONS)",
          "self.files_A = [p for p in dir_A.iterdir() if p.suffix.lower() in IMG_EXTENSIONS]\n"
          "        random.Random(3).shuffle(self.files_A)  # stands for os.listdir's arbitrary order"),
    chaff("non-image-files-listed", "cyclegan_training", L,
          "self.files_A = sorted(p for p in dir_A.iterdir() if p.suffix.lower() in IMG_EXTENSIONS)",
          "self.files_A = sorted(dir_A.iterdir())"),
    chaff("length-of-B", "cyclegan_training", L, "return len(self.files_A)", "return len(self.files_B)"),
    chaff("no-rgb-conversion", "cyclegan_training", L,
          'image_B = Image.open(self.files_B[random.randrange(len(self.files_B))]).convert("RGB")',
          "image_B = Image.open(self.files_B[random.randrange(len(self.files_B))])"),
    chaff("identity-through-wrong-generator", "cyclegan_training", C,
          "identity = F.l1_loss(self.netG_A2B(real_B), real_B) + F.l1_loss(self.netG_B2A(real_A), real_A)",
          "identity = F.l1_loss(self.netG_B2A(real_B), real_B) + F.l1_loss(self.netG_A2B(real_A), real_A)"),
    chaff("cycle-loss-with-mse", "cyclegan_training", C,
          "cycle = F.l1_loss(self.netG_B2A(fake_B), real_A) + F.l1_loss(self.netG_A2B(fake_A), real_B)",
          "cycle = F.mse_loss(self.netG_B2A(fake_B), real_A) + F.mse_loss(self.netG_A2B(fake_A), real_B)"),
    chaff("identity-weight-0.5", "cyclegan_training", C, "LAMBDA_IDENTITY = 5.0", "LAMBDA_IDENTITY = 0.5"),
    chaff("cycle-weight-missing", "cyclegan_training", C,
          "total = adv + LAMBDA_CYCLE * cycle + LAMBDA_IDENTITY * identity",
          "total = adv + cycle + LAMBDA_IDENTITY * identity"),
    chaff("adv-with-wrong-discriminator", "cyclegan_training", C,
          "pred_B, pred_A = self.netD_B(fake_B), self.netD_A(fake_A)",
          "pred_B, pred_A = self.netD_A(fake_B), self.netD_B(fake_A)"),
    chaff("adv-target-zero", "cyclegan_training", C,
          "adv = F.mse_loss(pred_B, torch.ones_like(pred_B))", "adv = F.mse_loss(pred_B, torch.zeros_like(pred_B))"),
    Variant("d-loss-halved", "chaff", "cyclegan_training", [HALVED_D_LOSS], courses=("ai604",)),   # AI604: "not halved"
    chaff("d-loss-no-detach", "cyclegan_training", C,
          "pred_real, pred_fake = netD(real), netD(fake.detach())", "pred_real, pred_fake = netD(real), netD(fake)"),
    # ---------------------------------------------------------------- given code and per-type mistakes
    chaff("adam-default-betas", "dcgan_training", D,
          "self.optim_G = torch.optim.Adam(self.G.parameters(), lr=lr, betas=(0.5, 0.999))",
          "self.optim_G = torch.optim.Adam(self.G.parameters(), lr=lr)"),
    chaff("lr-ignored", "dcgan_training", D,
          "self.optim_D = torch.optim.Adam(self.D.parameters(), lr=lr, betas=(0.5, 0.999))",
          "self.optim_D = torch.optim.Adam(self.D.parameters(), lr=0.0002, betas=(0.5, 0.999))"),
    chaff("labels-sized-by-batch-size", "dcgan_training", D,
          "ones, zeros = torch.ones_like(d_real), torch.zeros_like(d_fake)",
          "ones, zeros = torch.ones(self.batch_size), torch.zeros(self.batch_size)"),
    chaff("lsgan-g-label-zero", "dcgan_training", D,
          "return F.mse_loss(d_fake, torch.ones_like(d_fake))", "return F.mse_loss(d_fake, torch.zeros_like(d_fake))"),
    chaff("detach-on-the-output", "dcgan_training", D,
          "d_real, d_fake = self.D(real_img).view(-1), self.D(fake).view(-1)",
          "d_real, d_fake = self.D(real_img).view(-1), self.D(self.G(z)).detach().view(-1)"),
    chaff("clip-before-the-d-step", "dcgan_training", D,
          "        self.optim_D.zero_grad(set_to_none=True)\n        loss_D = self.d_loss(real_img, z)",
          "        if self.type == 'wgan':\n            self.clip_weights()\n"
          "        self.optim_D.zero_grad(set_to_none=True)\n        loss_D = self.d_loss(real_img, z)"),
    Variant("no-zero-grad", "chaff", "dcgan_training", [
        Edit(D, "        self.optim_D.zero_grad(set_to_none=True)\n        loss_D", "        loss_D"),
        Edit(D, "        self.optim_G.zero_grad(set_to_none=True)\n        loss_G", "        loss_G"),
    ]),
    chaff("optimizer-g-owns-a-discriminator", "cyclegan_training", C,
          "self.optim_G = torch.optim.Adam(itertools.chain(self.netG_A2B.parameters(), self.netG_B2A.parameters()),",
          "self.optim_G = torch.optim.Adam(itertools.chain(self.netG_A2B.parameters(), self.netD_A.parameters()),"),
    Variant("paired-loader-crashes-on-junk", "chaff", "cyclegan_training", [
        Edit(L, "self.files_A = sorted(p for p in dir_A.iterdir() if p.suffix.lower() in IMG_EXTENSIONS)",
             "self.files_A = sorted(dir_A.iterdir())"),
        Edit(L, "self.files_B[random.randrange(len(self.files_B))]", "self.files_B[index]"),
    ]),
    chaff("cycle-term-detached", "cyclegan_training", C,
          "cycle = F.l1_loss(self.netG_B2A(fake_B), real_A) + F.l1_loss(self.netG_A2B(fake_A), real_B)",
          "cycle = F.l1_loss(self.netG_B2A(fake_B.detach()), real_A) + F.l1_loss(self.netG_A2B(fake_A.detach()), real_B)"),
    # ---------------------------------------------------------------- 3.1 Inception Score
    chaff("is-reversed-kl", "inception_score", IS,
          "kl = (xlogy(part, part) - xlogy(part, marginal)).sum(axis=1)",
          "kl = (xlogy(marginal, marginal) - xlogy(marginal, part)).sum(axis=1)"),
    chaff("is-mean-of-exp", "inception_score", IS, "scores.append(np.exp(kl.mean()))", "scores.append(np.exp(kl).mean())"),
    chaff("is-marginal-over-classes", "inception_score", IS,
          "marginal = part.mean(axis=0, keepdims=True)", "marginal = part.mean(axis=1, keepdims=True)"),
    chaff("is-global-marginal", "inception_score", IS,
          "marginal = part.mean(axis=0, keepdims=True)", "marginal = probs.mean(axis=0, keepdims=True)"),
    chaff("is-splits-drop-remainder", "inception_score", IS,
          "part = probs[i * n // splits:(i + 1) * n // splits]", "part = probs[i * (n // splits):(i + 1) * (n // splits)]"),
    chaff("is-std-ddof-1", "inception_score", IS,
          "return float(np.mean(scores)), float(np.std(scores))",
          "return float(np.mean(scores)), float(np.std(scores, ddof=1))"),
    chaff("is-log2", "inception_score", IS, "scores.append(np.exp(kl.mean()))", "scores.append(np.exp(kl.mean() / np.log(2)))  # KL in bits"),
    # ---------------------------------------------------------------- 3.2 FID
    chaff("fid-without-factor-2", "fid", F, "- 2 * tr_covmean)", "- tr_covmean)"),
    chaff("fid-sqrtm-of-sum", "fid", F,
          "tr_covmean = np.sqrt(np.clip(np.linalg.eigvalsh((middle + middle.T) / 2), 0, None)).sum()",
          "tr_covmean = np.trace(__import__('scipy.linalg').linalg.sqrtm(sigma1 + sigma2)).real"),
    chaff("fid-dmu-not-squared", "fid", F, "return float(diff @ diff +", "return float(np.sqrt(diff @ diff) +"),
    chaff("fid-covariance-ddof-0", "fid", F,
          "np.cov(features, rowvar=False)", "np.cov(features, rowvar=False, bias=True)"),
    chaff("fid-covariance-of-samples", "fid", F, "np.cov(features, rowvar=False)", "np.cov(features)"),
    chaff("fid-sqrt-of-trace", "fid", F,
          "tr_covmean = np.sqrt(np.clip(np.linalg.eigvalsh((middle + middle.T) / 2), 0, None)).sum()",
          "tr_covmean = np.sqrt(np.trace(sigma1 @ sigma2))"),
    # ---------------------------------------------------------------- EE898 2.1 self-attention block
    chaff("attention-softmax-wrong-axis", "attention_module", A,
          "attention = torch.softmax(f.transpose(1, 2) @ g, dim=-1)", "attention = torch.softmax(f.transpose(1, 2) @ g, dim=1)"),
    chaff("attention-no-residual", "attention_module", A, "return self.gamma * out + x", "return self.gamma * out"),
    chaff("attention-map-kept-as-a-local", "attention_module", A, "self.attention_map = attention.detach()",
          "kept = attention.detach()"),
    chaff("attention-gamma-starts-at-one", "attention_module", A,
          "self.gamma = nn.Parameter(torch.zeros(1))", "self.gamma = nn.Parameter(torch.ones(1))"),
    chaff("attention-gamma-not-learnable", "attention_module", A,
          "self.gamma = nn.Parameter(torch.zeros(1))", 'self.register_buffer("gamma", torch.zeros(1))'),
    Variant("attention-no-c8-reduction", "chaff", "attention_module", [
        Edit(A, "self.query = wrap(nn.Conv2d(channels, channels // 8, 1))", "self.query = wrap(nn.Conv2d(channels, channels, 1))"),
        Edit(A, "self.key = wrap(nn.Conv2d(channels, channels // 8, 1))", "self.key = wrap(nn.Conv2d(channels, channels, 1))"),
    ]),
    chaff("attention-map-transposed", "attention_module", A,
          "out = (v @ attention.transpose(1, 2)).view(b, c, h, w)", "out = (v @ attention).view(b, c, h, w)"),
    chaff("attention-scaled-dot-product", "attention_module", A,       # a Transformer's softmax(QK^T / sqrt(d)), not SAGAN's
          "attention = torch.softmax(f.transpose(1, 2) @ g, dim=-1)",
          "attention = torch.softmax(f.transpose(1, 2) @ g / f.shape[1] ** 0.5, dim=-1)"),
    chaff("attention-detached-in-forward", "attention_module", A,
          "attention = torch.softmax(f.transpose(1, 2) @ g, dim=-1)",
          "attention = torch.softmax(f.transpose(1, 2) @ g, dim=-1).detach()"),
    # ---------------------------------------------------------------- EE898 2.2 attention G and D
    chaff("attention-g-after-the-first-residual-block", "attention_models", A,
          "replace_module(self, first_up, nn.Sequential(SelfAttention(ngf * 4), self.get_submodule(first_up)))",
          "first = [name for name, module in self.named_modules() if isinstance(module, ResnetBlock)][0]\n"
          "        replace_module(self, first, nn.Sequential(self.get_submodule(first), SelfAttention(ngf * 4)))"),
    chaff("attention-g-after-upsampling", "attention_models", A,
          "if isinstance(module, nn.ConvTranspose2d)][0]", "if isinstance(module, nn.ConvTranspose2d)][1]"),
    chaff("attention-d-after-fourth-conv", "attention_models", A,
          "replace_module(self, fourth, nn.Sequential(SelfAttention(ndf * 4), self.get_submodule(fourth)))",
          "replace_module(self, fourth, nn.Sequential(self.get_submodule(fourth), SelfAttention(ndf * 8)))"),
    chaff("attention-g-two-blocks", "attention_models", A,
          "replace_module(self, first_up, nn.Sequential(SelfAttention(ngf * 4), self.get_submodule(first_up)))",
          "replace_module(self, first_up, nn.Sequential(SelfAttention(ngf * 4), SelfAttention(ngf * 4),\n"
          "                                                     self.get_submodule(first_up)))"),
    # ---------------------------------------------------------------- EE898 2.3 attention maps
    chaff("query-map-is-a-column", "attention_maps", A,
          "return attention_map[:, rows, :].reshape(", "return attention_map[:, :, rows].transpose(1, 2).reshape("),
    chaff("query-index-column-major", "attention_maps", A,
          "rows = torch.tensor([r * width + c for r, c in queries]", "rows = torch.tensor([c * height + r for r, c in queries]"),
    # ---------------------------------------------------------------- 3.3 Testing
    Variant("scores-missing-cyclegan", "chaff", "testing",
            artifact_edit=("inception_score.txt", r"^cyclegan: .*\n", "")),
    Variant("scores-in-another-format", "chaff", "testing",
            artifact_edit=("inception_score.txt", r"^dcgan-wgan: IS = .*$", "wgan 5.129")),
    Variant("claim-inflated", "chaff", "testing",
            artifact_edit=("inception_score.txt", r"^dcgan-lsgan: IS = [0-9.]+", "dcgan-lsgan: IS = 7.5000")),
    # ---------------------------------------------------------------- given code graded (round 3): each class its own section
    chaff("d-step-bypasses-the-pool", "cyclegan_training", C,
          "loss_D_B = self.discriminator_loss(self.netD_B, real_B, self.pool_B.query(fake_B))",
          "loss_D_B = self.discriminator_loss(self.netD_B, real_B, fake_B)"),
    chaff("pool-keeps-what-it-returns", "cyclegan_training", U,
          "                self.images[idx] = image.clone()\n", ""),
    chaff("pool-holds-half-as-many", "cyclegan_training", C,
          "seed: int = 0, pool_size: int = 50,", "seed: int = 0, pool_size: int = 25,"),
    chaff("pool-swaps-nine-times-in-ten", "cyclegan_training", U, "elif random.random() > 0.5:",
          "elif random.random() > 0.1:"),
    chaff("discriminators-see-each-others-fakes", "cyclegan_training", C,
          "fake_A, fake_B = losses.get(\"fake_A\"), losses.get(\"fake_B\")",
          "fake_B, fake_A = losses.get(\"fake_A\"), losses.get(\"fake_B\")"),
    chaff("d-fake-term-detached-after-d", "cyclegan_training", C,
          "pred_real, pred_fake = netD(real), netD(fake.detach())", "pred_real, pred_fake = netD(real), netD(fake).detach()"),
    chaff("lr-decays-from-the-first-epoch", "cyclegan_training", C,
          "    half = total_epochs // 2\n", "    half = 0\n"),
    chaff("only-the-generators-lr-decays", "cyclegan_training", C,
          "sched_G.step(); sched_D.step()", "sched_G.step()"),
    chaff("dataset-length-of-the-smaller-domain", "cyclegan_training", L,
          "        return len(self.files_A)\n", "        return min(len(self.files_A), len(self.files_B))\n"),
    chaff("upper-case-extensions-dropped", "cyclegan_training", L,
          "self.files_A = sorted(p for p in dir_A.iterdir() if p.suffix.lower() in IMG_EXTENSIONS)",
          "self.files_A = sorted(p for p in dir_A.iterdir() if p.suffix in IMG_EXTENSIONS)"),
    chaff("wgan-critic-trained-with-rmsprop", "dcgan_training", D,
          "self.optim_D = torch.optim.Adam(self.D.parameters(), lr=lr, betas=(0.5, 0.999))",
          "self.optim_D = (torch.optim.RMSprop(self.D.parameters(), lr=lr) if type == \"wgan\" else\n"
          "                        torch.optim.Adam(self.D.parameters(), lr=lr, betas=(0.5, 0.999)))"),
    chaff("d-step-fakes-from-eval-mode-g", "dcgan_training", D, "fake = self.G(z).detach()",
          "self.G.eval()\n        fake = self.G(z).detach()\n        self.G.train()"),
    chaff("clipping-skips-biases", "dcgan_training", D,
          "            for p in self.D.parameters():\n                p.clamp_(-CLIP_VALUE, CLIP_VALUE)",
          "            for name, p in self.D.named_parameters():\n                if not name.endswith(\"bias\"):\n"
          "                    p.clamp_(-CLIP_VALUE, CLIP_VALUE)"),
    chaff("instance-norm-keeps-running-statistics", "cyclegan_model", U,
          "return [nn.InstanceNorm2d(channels, affine=False)]",
          "return [nn.InstanceNorm2d(channels, affine=False, track_running_stats=True)]"),
    chaff("batch-norm-in-the-residual-blocks", "cyclegan_model", C,
          "            nn.ReflectionPad2d(1), conv(dim, dim, 3, stride=1, pad=0, bias=True, norm=\"in\", activation=None))",
          "            nn.ReflectionPad2d(1), conv(dim, dim, 3, stride=1, pad=0, bias=True, norm=\"bn\", activation=None))"),
    chaff("is-softmax-over-the-batch", "inception_score", IS,
          "return torch.softmax(logits.double(), dim=1).numpy()", "return torch.softmax(logits.double(), dim=0).numpy()"),
]

WHEATS = [
    Variant("dcgan-functional-activations", "wheat", "", [
        Edit(D, "self.layer1 = deconv(", """
            self.d1 = nn.ConvTranspose2d(256, 256, 4, 1, 0, bias=False)
            self.b1 = nn.BatchNorm2d(256)
            self.d2 = nn.ConvTranspose2d(256, 128, 4, 2, 1, bias=False)
            self.b2 = nn.BatchNorm2d(128)
            self.d3 = nn.ConvTranspose2d(128, 64, 4, 2, 1, bias=False)
            self.b3 = nn.BatchNorm2d(64)
            self.d4 = nn.ConvTranspose2d(64, 3, 4, 2, 1, bias=False)
            """, block=True),
        Edit(D, "return self.layer4(self.layer3(", """
            h = F.relu(self.b1(self.d1(z)))
            h = F.relu(self.b2(self.d2(h)))
            h = F.relu(self.b3(self.d3(h)))
            return torch.tanh(self.d4(h))
            """, block=True),
        Edit(D, "self.layer1 = conv(3, 64", """
            self.convs = nn.ModuleList([nn.Conv2d(3, 64, 4, 2, 1, bias=False), nn.Conv2d(64, 128, 4, 2, 1, bias=False),
                                        nn.Conv2d(128, 256, 4, 2, 1, bias=False)])
            self.norms = nn.ModuleList([nn.BatchNorm2d(c) for c in (64, 128, 256)])
            self.last = nn.Conv2d(256, 1, 4, 1, 0, bias=False)
            """, block=True),
        Edit(D, "out = self.layer4(self.layer3(", """
            for conv_layer, norm in zip(self.convs, self.norms):
                x = F.leaky_relu(norm(conv_layer(x)), negative_slope=0.2)
            x = self.last(x).flatten(1)
            return torch.sigmoid(x) if self.type == "gan" else x
            """, block=True),
    ]),
    Variant("dcgan-sequential-and-hand-written-losses", "wheat", "", [
        Edit(D, "with torch.no_grad():", """
            for p in self.D.parameters():
                p.data.clamp_(-0.01, 0.01)
            """, block=True),
        Edit(D, "self.layer1 = deconv(", """
            self.main = nn.Sequential(
                nn.ConvTranspose2d(256, 256, 4, 1, 0, bias=False), nn.BatchNorm2d(256), nn.ReLU(True),
                nn.ConvTranspose2d(256, 128, 4, 2, 1, bias=False), nn.BatchNorm2d(128), nn.ReLU(True),
                nn.ConvTranspose2d(128, 64, 4, 2, 1, bias=False), nn.BatchNorm2d(64), nn.ReLU(True),
                nn.ConvTranspose2d(64, 3, 4, 2, 1, bias=False), nn.Tanh())
            """, block=True),
        Edit(D, "return self.layer4(self.layer3(", "return self.main(z)", block=True),
        Edit(D, "fake = self.G(z).detach()", """
            with torch.no_grad():
                fake = self.G(z)
            d_real, d_fake = self.D(real_img), self.D(fake)          # [B, 1]
            if self.type == "gan":
                return -(torch.log(d_real).mean() + torch.log(1 - d_fake).mean())
            if self.type == "lsgan":
                return 0.5 * ((d_real - 1) ** 2).mean() + 0.5 * (d_fake ** 2).mean()
            critic = d_fake.mean() - d_real.mean()
            if self.type == "wgan":
                return critic
            eps = torch.rand(len(real_img), 1, 1, 1).expand_as(real_img)
            mixed = eps * real_img + (1 - eps) * fake
            mixed.requires_grad_()
            return critic + 10 * self.gp(self.D(mixed), mixed)
            """, block=True),
        Edit(D, "d_fake = self.D(self.G(z)).view(-1)", """
            scores = self.D(self.G(z))
            losses = {"gan": lambda s: nn.BCELoss()(s, torch.ones_like(s)),
                      "lsgan": lambda s: nn.MSELoss()(s, torch.ones_like(s))}
            return losses.get(self.type, lambda s: -s.mean())(scores)
            """, block=True),
        Edit(D, "grad = torch.autograd.grad(", """
            (g,) = torch.autograd.grad(y.sum(), x, create_graph=True)
            return (torch.sqrt((g.flatten(1) ** 2).sum(dim=1)) - 1).pow(2).mean()
            """, block=True),
    ]),
    Variant("cyclegan-attributes-reflect-mode-functional-in", "wheat", "", [
        Edit(C, "self.conv_block = nn.Sequential(", """
            self.conv1 = nn.Conv2d(dim, dim, 3, 1, 1, padding_mode="reflect")
            self.conv2 = nn.Conv2d(dim, dim, 3, 1, 1, padding_mode="reflect")
            """, block=True),
        Edit(C, "return x + self.conv_block(x)", """
            h = F.relu(F.instance_norm(self.conv1(x)))
            return x + F.instance_norm(self.conv2(h))
            """, block=True),
        Edit(C, "self.model = nn.Sequential(", """
            self.stem = nn.Conv2d(input_nc, ngf, 7, padding=3, padding_mode="reflect")
            self.down = nn.ModuleList([nn.Conv2d(ngf, ngf * 2, 3, 2, 1), nn.Conv2d(ngf * 2, ngf * 4, 3, 2, 1)])
            self.blocks = nn.Sequential(*(ResnetBlock(ngf * 4) for _ in range(6)))
            self.up = nn.ModuleList([nn.ConvTranspose2d(ngf * 4, ngf * 2, 3, 2, 1, output_padding=1),
                                     nn.ConvTranspose2d(ngf * 2, ngf, 3, 2, 1, output_padding=1)])
            self.head = nn.Conv2d(ngf, output_nc, 7, padding=3, padding_mode="reflect", bias=False)
            """, block=True, nth=0),
        Edit(C, "return self.model(x)", """
            x = F.relu(F.instance_norm(self.stem(x)))
            for layer in self.down:
                x = F.relu(F.instance_norm(layer(x)))
            x = self.blocks(x)
            for layer in self.up:
                x = F.relu(F.instance_norm(layer(x)))
            return torch.tanh(self.head(x))
            """, block=True, nth=0),
    ]),
    Variant("cyclegan-loss-modules-other-order", "wheat", "", [
        Edit(C, "fake_B, fake_A = self.netG_A2B(real_A), self.netG_B2A(real_B)", """
            l1, mse = nn.L1Loss(), nn.MSELoss()
            identity = l1(self.netG_B2A(real_A), real_A) + l1(self.netG_A2B(real_B), real_B)
            fake_A = self.netG_B2A(real_B)
            fake_B = self.netG_A2B(real_A)
            cycle = l1(self.netG_A2B(fake_A), real_B) + l1(self.netG_B2A(fake_B), real_A)
            score_A, score_B = self.netD_A(fake_A), self.netD_B(fake_B)
            adv = mse(score_A, torch.ones_like(score_A)) + mse(score_B, torch.ones_like(score_B))
            return {"total": 5 * identity + 10 * cycle + adv, "adv": adv, "cycle": cycle, "identity": identity}
            """, block=True),
        Edit(C, "pred_real, pred_fake = netD(real), netD(fake.detach())", """
            return (netD(real) - 1).pow(2).mean() + netD(fake.detach()).pow(2).mean()
            """, block=True),
    ]),
    Variant("dataset-torch-sampling-and-glob", "wheat", "", [
        Edit(L, "self.files_A = sorted(", """
            def images(folder):
                return sorted((p for p in folder.glob("*") if p.suffix.lower() in IMG_EXTENSIONS), key=lambda p: p.name)
            self.files_A, self.files_B = images(dir_A), images(dir_B)
            """, block=True),
        Edit(L, 'image_A = Image.open(self.files_A[index]).convert("RGB")', """
            j = int(torch.randint(len(self.files_B), (1,)).item())
            pair = [Image.open(path).convert("RGB") for path in (self.files_A[index], self.files_B[j])]
            return tuple(self.transform(image) for image in pair)
            """, block=True),
    ]),
    Variant("fid-scipy-sqrtm-and-manual-covariance", "wheat", "", [
        Edit(F, "return features.mean(axis=0), np.cov(features, rowvar=False)", """
            mu = features.mean(axis=0)
            centered = features - mu
            return mu, centered.T @ centered / (len(features) - 1)
            """, block=True),
        Edit(F, "diff = mu1 - mu2", """
            from scipy import linalg
            covmean, _ = linalg.sqrtm(sigma1.dot(sigma2), disp=False)
            return float(((mu1 - mu2) ** 2).sum() + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean).real)
            """, block=True),
    ]),
    Variant("fid-complex-eigenvalues", "wheat", "", [
        Edit(F, "diff = mu1 - mu2", """
            eigenvalues = np.linalg.eigvals(sigma1 @ sigma2).astype(np.complex128)
            tr_covmean = np.sqrt(eigenvalues).real.sum()
            return float(np.dot(mu1 - mu2, mu1 - mu2) + np.trace(sigma1 + sigma2) - 2 * tr_covmean)
            """, block=True),
    ]),
    Variant("is-plain-logs", "wheat", "", [
        Edit(IS, "from scipy.special import xlogy", """
            scores = []
            n = len(probs)
            for i in range(splits):
                part = probs[i * n // splits:(i + 1) * n // splits]
                py = part.mean(axis=0)
                safe = np.where(part > 0, part, 1.0)
                kl = np.sum(np.where(part > 0, part * (np.log(safe) - np.log(np.where(py > 0, py, 1.0))), 0.0), axis=1)
                scores.append(np.exp(np.mean(kl)))
            return float(np.mean(scores)), float(np.std(scores))
            """, block=True),
    ]),
    Variant("is-scipy-entropy", "wheat", "", [
        Edit(IS, "from scipy.special import xlogy", """
            from scipy.stats import entropy
            n = len(probs)
            bounds = [(i * n // splits, (i + 1) * n // splits) for i in range(splits)]
            scores = []
            for lo, hi in bounds:
                part = probs[lo:hi]
                py = np.mean(part, axis=0)
                scores.append(np.exp(np.mean([entropy(row, py) for row in part])))
            return float(np.mean(scores)), float(np.std(scores))
            """, block=True),
    ]),
    Variant("is-log-sum-exp-from-log-probs", "wheat", "", [
        Edit(IS, "from scipy.special import xlogy", """
            from scipy.special import logsumexp
            with np.errstate(divide="ignore"):
                logp = np.log(probs)
            n, scores = len(probs), []
            for i in range(splits):
                lp = logp[i * n // splits:(i + 1) * n // splits]
                log_py = logsumexp(lp, axis=0) - np.log(len(lp))
                terms = np.where(np.isfinite(lp), np.exp(lp) * (lp - np.where(np.isfinite(log_py), log_py, 0)), 0.0)
                scores.append(np.exp(terms.sum(axis=1).mean()))
            return float(np.mean(scores)), float(np.std(scores))
            """, block=True),
    ]),
    Variant("dataset-numeric-sort-no-filter-needed", "wheat", "", [
        Edit(L, "self.files_A = sorted(", """
            def number(path):
                return int("".join(c for c in path.stem if c.isdigit()) or 0)
            keep = lambda folder: [p for p in folder.iterdir() if p.suffix.lower() in IMG_EXTENSIONS]  # noqa: E731
            self.files_A, self.files_B = sorted(keep(dir_A), key=number), sorted(keep(dir_B), key=number)
            """, block=True),
    ]),
    Variant("constructors-create-output-folders", "wheat", "", [
        Edit(D, 'self.out_dir = Path(results_dir) / "dcgan" / type',
             'self.out_dir = Path(results_dir) / "dcgan" / type\n'
             '        (self.out_dir / "images").mkdir(parents=True, exist_ok=True)'),
        Edit(C, "self.out_dir = model_dir(results_dir, attention)",
             "self.out_dir = model_dir(results_dir, attention)\n"
             '        (self.out_dir / "images").mkdir(parents=True, exist_ok=True)'),
    ]),
    Variant("cyclegan-fixed-size-targets-for-the-handout", "wheat", "", [
        Edit(C, "adv = F.mse_loss(pred_B, torch.ones_like(pred_B))",
             "adv = F.mse_loss(pred_B, torch.ones(1, 1, 30, 30))"),
        Edit(C, "F.mse_loss(pred_A, torch.ones_like(pred_A))", "F.mse_loss(pred_A, torch.ones(1, 1, 30, 30))"),
        Edit(C, "return F.mse_loss(pred_real, torch.ones_like(pred_real)) + F.mse_loss(pred_fake, torch.zeros_like(pred_fake))",
             "return F.mse_loss(pred_real, torch.ones(1, 1, 30, 30)) + F.mse_loss(pred_fake, torch.zeros(1, 1, 30, 30))"),
    ]),
    Variant("attention-einsum-and-linear-projections", "wheat", "", [
        Edit(A, "wrap = nn.utils.parametrizations.spectral_norm", """
            self.query = nn.Linear(channels, channels // 8)
            self.key = nn.Linear(channels, channels // 8)
            self.value = nn.Linear(channels, channels)
            self.gamma = nn.Parameter(torch.tensor(0.0))
            """, block=True),
        Edit(A, "b, c, h, w = x.shape", """
            b, c, h, w = x.shape
            tokens = x.flatten(2).transpose(1, 2)                          # [B, N, C]
            q, k, v = self.query(tokens), self.key(tokens), self.value(tokens)
            weights = torch.einsum("bjd,bid->bji", q, k).softmax(dim=2)
            self.attention_map = weights.detach()
            o = torch.einsum("bji,bic->bcj", weights, v).reshape(b, c, h, w)
            return x + self.gamma * o
            """, block=True),
    ]),
    Variant("attention-spectral-norm-no-bias-key-first", "wheat", "", [   # SAGAN's own code: SN, no biases
        Edit(A, "wrap = nn.utils.parametrizations.spectral_norm", """
            sn = nn.utils.spectral_norm
            self.f = sn(nn.Conv2d(channels, channels // 8, 1, bias=False))
            self.g = sn(nn.Conv2d(channels, channels // 8, 1, bias=False))
            self.h = sn(nn.Conv2d(channels, channels, 1, bias=False))
            self.gamma = nn.Parameter(torch.zeros(1))
            """, block=True),
        Edit(A, "b, c, h, w = x.shape", """
            B, C, H, W = x.size()
            proj_query = self.f(x).view(B, -1, H * W).permute(0, 2, 1)
            proj_key = self.g(x).view(B, -1, H * W)
            energy = torch.bmm(proj_query, proj_key).permute(0, 2, 1)     # the other C/8 projection queries
            attention = F.softmax(energy, dim=-1)
            out = torch.bmm(self.h(x).view(B, -1, H * W), attention.permute(0, 2, 1)).view(B, C, H, W)
            self.attention_map = attention.detach()
            return self.gamma * out + x
            """, block=True),
    ]),
    Variant("attention-parametrized-spectral-norm", "wheat", "", [
        Edit(A, "def __init__(self, channels: int, spectral_norm: bool = False):",
             "def __init__(self, channels: int, spectral_norm: bool = True):"),
    ]),
    Variant("attention-models-as-attributes", "wheat", "", [
        Edit(A, "        first_up = [name for name, module in self.named_modules() if isinstance(module, nn.ConvTranspose2d)][0]\n"
                "        replace_module(self, first_up, nn.Sequential(SelfAttention(ngf * 4), self.get_submodule(first_up)))\n        # END SOLUTION\n",
             "        self.cut = 1 + max(i for i, layer in enumerate(self.model) if isinstance(layer, ResnetBlock))\n"
             "        self.attention = SelfAttention(ngf * 4)\n        # END SOLUTION\n\n"
             "    def forward(self, x):\n"
             "        return self.model[self.cut:](self.attention(self.model[:self.cut](x)))\n"),
        Edit(A, "        fourth = [name for name, module in self.named_modules() if isinstance(module, nn.Conv2d)][3]\n"
                "        replace_module(self, fourth, nn.Sequential(SelfAttention(ndf * 4), self.get_submodule(fourth)))\n        # END SOLUTION\n",
             "        self.attention = SelfAttention(ndf * 4)\n        # END SOLUTION\n\n"
             "    def forward(self, x):\n"
             "        return self.model[3:](self.attention(self.model[:3](x)))\n"),
        Edit(A, "rows = torch.tensor(", """
            grid = attention_map.unflatten(1, (height, width))                 # [B, H, W, N]
            maps = [grid[:, r, c].unflatten(-1, (height, width)) for r, c in queries]
            return torch.stack(maps, dim=1)
            """, block=True),
    ]),
    Variant("pool-as-a-deque-and-a-hand-written-schedule", "wheat", "", [
        Edit(U, "    def __init__(self, pool_size: int = 50):\n        self.pool_size = pool_size\n"
                "        self.images: list[torch.Tensor] = []\n",
             "    def __init__(self, pool_size: int = 50):\n        self.pool_size = pool_size\n"
             "        self.images = collections.deque()\n"),
        Edit(U, """        out = []
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
        return torch.cat(out, 0)""", """        picked = []
        for image in images.detach().split(1):
            if len(self.images) < self.pool_size:
                self.images.append(image.clone())
                picked.append(image)
            elif torch.rand(()) < 0.5:                   # swap: the oldest stored fake goes, the new one is stored
                picked.append(self.images.popleft())
                self.images.append(image.clone())
            else:
                picked.append(image)
        return torch.cat(picked)"""),
        Edit(U, "import random\n", "import collections\nimport random\n"),
        Edit(C, "        sched_G = torch.optim.lr_scheduler.LambdaLR(self.optim_G, lambda e: lr_factor(e, epochs))\n"
                "        sched_D = torch.optim.lr_scheduler.LambdaLR(self.optim_D, lambda e: lr_factor(e, epochs))\n",
             "        rule = lambda e: 1.0 - max(0, e + 1 - epochs // 2) / (epochs - epochs // 2 + 1)   # junyanz's\n"
             "        sched_G = torch.optim.lr_scheduler.LambdaLR(self.optim_G, rule)\n"
             "        sched_D = torch.optim.lr_scheduler.LambdaLR(self.optim_D, rule)\n"),
    ]),
    Variant("schedule-by-hand-and-numpy-softmax", "wheat", "", [
        Edit(C, "            for real_A, real_B in bar:\n",
             "            for opt in (self.optim_G, self.optim_D):        # constant, then linear to 0 at the end\n"
             "                for group in opt.param_groups:\n"
             "                    group[\"lr\"] = self.lr * min(1.0, (epochs - 1 - epoch) / max(1, epochs - 1 - epochs // 2))\n"
             "            for real_A, real_B in bar:\n"),
        Edit(C, "            sched_G.step(); sched_D.step()\n", ""),
        Edit(IS, "    return torch.softmax(logits.double(), dim=1).numpy()\n",
             "    z = logits.double().numpy()\n    e = np.exp(z - z.max(axis=1, keepdims=True))\n"
             "    return e / e.sum(axis=1, keepdims=True)\n"),
    ]),
    Variant("dcgan-losses-reduced-in-float64", "wheat", "", [
        Edit(D, "fake = self.G(z).detach()", """
            fake = self.G(z).detach()
            d_real, d_fake = self.D(real_img).view(-1).double(), self.D(fake).view(-1).double()
            if self.type == "gan":
                loss = -(torch.log(d_real).mean() + torch.log1p(-d_fake).mean())
            elif self.type == "lsgan":
                loss = 0.5 * (((d_real - 1) ** 2).mean() + (d_fake ** 2).mean())
            else:
                loss = d_fake.mean() - d_real.mean()
            if self.type == "wgan-gp":
                alpha = torch.rand(real_img.size(0), 1, 1, 1, device=real_img.device)
                x_hat = (alpha * real_img + (1 - alpha) * fake).requires_grad_(True)
                loss = loss + GP_WEIGHT * self.gp(self.D(x_hat), x_hat).double()
            return loss.float()
            """, block=True),
        Edit(D, "d_fake = self.D(self.G(z)).view(-1)", """
            d_fake = self.D(self.G(z)).view(-1).double()
            if self.type == "gan":
                return -torch.log(d_fake).mean().float()
            if self.type == "lsgan":
                return ((d_fake - 1) ** 2).mean().float()
            return (-d_fake.mean()).float()
            """, block=True),
    ]),
    Variant("patchgan-with-zero-pad-modules", "wheat", "", [
        Edit(C, "self.model = nn.Sequential(", nth=1, block=True, new="""
            layers = []
            for i, (c_in, c_out, stride) in enumerate([(input_nc, ndf, 2), (ndf, ndf * 2, 2), (ndf * 2, ndf * 4, 2),
                                                       (ndf * 4, ndf * 8, 1), (ndf * 8, 1, 1)]):
                layers += [nn.ZeroPad2d(1), nn.Conv2d(c_in, c_out, 4, stride, padding=0, bias=0 < i < 4)]
                if 0 < i < 4:
                    layers.append(nn.InstanceNorm2d(c_out))
                if i < 4:
                    layers.append(nn.LeakyReLU(0.2, inplace=True))
            self.model = nn.Sequential(*layers)
            """),
    ], courses=("ai604",)),     # EE898's attention D goes before the 4th conv: there, after the pad (issue 34)
    Variant("d-loss-halved-as-in-the-cyclegan-paper", "wheat", "", [HALVED_D_LOSS], courses=("ee898",)),   # PA2 allows it
]
