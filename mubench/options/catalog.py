"""Every measurement option, declared once: shared groups (the inference mode, the ODE solver, weights)
and each measurement's own. A measurement lists the options it takes (:mod:`mubench.measure.measurements`)."""

from __future__ import annotations

import os

from mubench.defaults import BUILTIN_DATASETS, DEFAULT_PAIR, REFERENCES
from mubench.options.declare import Option, Range

# The largest whole numbers guard against typos and overflow: seeds are 64-bit, threads beyond a few per
# CPU only oversubscribe, worker processes are spawned one by one.
THREADS_PER_CPU = 4
COUNT = Range(1, 1_000_000)

MODEL = Option(
    "model", str, "Registry name, package.module:factory, or diffusers:PATH (a diffusers UNet2DModel "
    f"folder); repeat to compare. Default: {' and '.join(DEFAULT_PAIR)}.", is_list=True, short="-m",
)  # fmt: skip
# Where rows go: the command's alone (a suite writes its own folder).
OUTPUTS = (
    Option("csv", str, "Write the result rows to this CSV file.", is_path=True),
    Option("json", str, "Write the rows and environment to this JSON file.", is_path=True),
    Option("quiet", bool, "No progress bar.", default=False, short="-q"),
)
# Commands whose default table leaves columns out take it.
WIDE = Option(
    "wide", bool, "Show every column in the terminal table (the CSV/JSON always has all).", default=False
)

BATCH_SIZE = Option("batch_size", int, "Images per denoiser call.", default=1, range=Range(1, 1 << 16),
                    unit="images")  # fmt: skip
RESOLUTION = Option(
    "resolution", int, "Input side in px. Default: 64 (the paper's) for several models, else the model's "
    "own.",
    range=Range(1, 1 << 14), unit="px",
)  # fmt: skip
SEED = Option("seed", int, "Seed of inputs and initial weights.", default=0, range=Range(0, (1 << 63) - 1))
STEPS = Option("steps", int, "Denoiser calls per trajectory.", range=COUNT, unit="calls")
SAMPLER = Option("sampler", str, "ddim or ddpm.", default="ddim")
ETA = Option("eta", float, "DDIM eta (0: deterministic).", default=0.0, range=Range(0))
PREFAULT = Option(
    "prefault", bool, "Make the loaded libraries' pages resident before timing (off only to study the "
    "effect).", default=True,
)  # fmt: skip
CHECKPOINT = Option(
    "checkpoint", str, "NAME=PATH: weights for model NAME: a mubench .safetensors, a diffusers folder, a "
    "denoising-diffusion-pytorch model-N.pt, or the authors' cU-Net state dict. Repeatable.", is_list=True,
)  # fmt: skip
WEIGHT_KIND = Option(
    "weights", str, "denoising-diffusion-pytorch checkpoints: the 'ema' or the 'raw' weights.", default="ema"
)
WEIGHTS = (CHECKPOINT, WEIGHT_KIND)
PREDICTION = Option(
    "prediction", str, "v, eps or x0: what weights whose source does not say were trained to predict."
)
DEVICE = Option("device", str, "cpu, cuda or cuda:N.", default="cpu")
SOLVER = (
    Option("solver", str, "ODE solver of ODE models (torchdiffeq method: rk4, euler, midpoint, dopri5, "
           "...)."),
    Option("ode_steps", int, "Fixed-step solvers: steps over s in [0, 1].", range=COUNT),
    Option("ode_step_size", float, "Fixed-step solvers: step size (overrides --ode-steps).",
           range=Range(0.0, 1.0, low_open=True)),
    Option("rtol", float, "Adaptive solvers: relative tolerance.", range=Range(0, low_open=True)),
    Option("atol", float, "Adaptive solvers: absolute tolerance.", range=Range(0, low_open=True)),
    Option("adjoint", bool, "Integrate with the adjoint method.", default=False),
    Option("ode_backend", str,
           "torchdiffeq (reference, every method) or fixed (mubench's loop: euler, midpoint, rk4)."),
)  # fmt: skip
# How a model is run for timing and profiling (latency and profile share it).
DTYPE = Option("dtype", str, "fp32, or fp16 / bf16 (autocast).", default="fp32")
COMPILE = Option("compile", bool, "torch.compile every model.", default=False)
CHANNELS_LAST = Option("channels_last", bool, "Channels-last memory format.", default=False)
MODE = (
    DEVICE,
    DTYPE,
    BATCH_SIZE,
    RESOLUTION,
    Option("warmup", int, "Minimum warm-up calls (then until stable).", default=3, range=Range(1, 100_000)),
    COMPILE,
    Option("compile_option", str, "With --compile: an inductor setting KEY=VALUE, e.g. cpp_wrapper=true "
           "(repeatable).", is_list=True, unordered=True),
    CHANNELS_LAST,
    Option("prepack", bool, "CPU: convolutions by oneDNN with weights prepacked once (fp32).", default=False),
    Option("tf32", bool, "Allow TF32 for fp32 matmul/conv on GPU.", default=False),
    Option("cudnn_benchmark", bool, "cuDNN autotuning.", default=False),
    Option("threads", int, "CPU threads. Default: all cores.",
           range=Range(1, THREADS_PER_CPU * (os.cpu_count() or 1), high_varies=True)),
    SEED,
    PREFAULT,
)  # fmt: skip

FLOPS = (
    RESOLUTION,
    BATCH_SIZE,
    Option("channels", int, "Image channels. Default: the model's.", range=Range(1, 1 << 12)),
    STEPS.but(default=1, help="Denoiser calls per trajectory, for the per-trajectory totals."),
    SEED.but(help="Seed of the example input."),
    Option("tier", str, "'matmul': conv, linear, matmul, attention. 'all': also norms and elementwise ops.",
           default="matmul"),
    Option("depth", int, "Also show MACs and bytes moved per module down to this depth.", default=0,
           range=Range(0, 64)),
    *SOLVER,
    *WEIGHTS,
)  # fmt: skip
REPEATS = Option("repeats", int, "Timed per-call samples per model.", default=30, range=COUNT)
LATENCY = (
    *MODE[:4],
    STEPS.but(help="Denoiser calls per trajectory. Default: 50 (ddim), 1000 (ddpm)."),
    SAMPLER.but(help="ddim (any --steps) or ddpm (all 1000 steps)."),
    ETA,
    REPEATS,
    Option("trajectory_repeats", int, "Timed full trajectories per model (0: skip).", default=3,
           range=Range(0, 100_000)),
    *MODE[4:7],
    MODE[7],
    Option("cuda_graphs", bool, "Capture each call in a CUDA graph (GPU; ODE: --ode-backend fixed).",
           default=False),
    *MODE[8:13],
    Option("processes", int, "Measure in this many fresh worker processes, one after another; rows give "
           "the median of their medians and their spread.", default=1, range=Range(1, 64)),
    Option("preset", str, "Named settings, as pyperf's --rigorous: 'rigorous' = --processes 3 (what suites "
           "use), 'default' = the defaults. Options given win over it."),
    PREFAULT,
    *SOLVER,
    *WEIGHTS,
)  # fmt: skip
PROFILE = (
    *MODE[:4],
    REPEATS.but(default=10, help="Calls profiled per model, after warm-up."),
    *MODE[4:],
    *SOLVER,
)
ROBUSTNESS = (
    Option("sigma", float, "Pixel noise sigma in [0, 1] units; repeat for several.", repeatable=True,
           range=Range(0.0, 1.0, low_open=True)),
    Option("dataset", str, f"Test images: {', '.join(BUILTIN_DATASETS)} (built in), a torchvision name, "
           "folder:PATH.", default="patches32"),
    Option("data_root", str, "Root of torchvision datasets (mnist, cifar10, celeba, ...).", is_path=True),
    Option("num_images", int, "Test images to denoise.", default=50, range=Range(1, 10_000_000),
           unit="images"),
    SAMPLER.but(help="ddim or ddpm, run from the matched step t* to 0."),
    STEPS.but(help="ddim: denoiser calls from t* (default: every step)."),
    ETA.but(help="DDIM eta."),
    Option("steps_sweep", int, "Convergence: comma-separated DDIM step counts from t*, e.g. 1,2,5,10.",
           is_list=True, comma_separated=True, range=COUNT),
    SEED.but(help="Seed of the noise and of untrained weights."),
    DEVICE.but(help="cpu, cuda or cuda:N (under torchrun, cuda is each process's own GPU). Reference "
               "denoisers run on the CPU."),
    DTYPE.but(help="fp32, or fp16 / bf16: the models' calls under autocast (the sampler stays fp32)."),
    BATCH_SIZE.but(default=32, help="Images per denoiser call (an image's result does not depend on it). 32 "
                   "shares each call's fixed cost (Python, ODE solver steps, kernel launches) over many "
                   "images while a batch's activations stay small; raise it on a GPU with memory to spare."),
    COMPILE,
    CHANNELS_LAST,
    Option("reference", str, f"Reference rows (default all): {', '.join(REFERENCES)}.", is_list=True),
    *WEIGHTS,
    PREDICTION,
    Option("allow_untrained", bool, "Measure models without trained weights (rows marked).", default=False),
    PREFAULT,
    Option("metric", str, "psnr, ssim or lpips; repeat for several. Each one named is required. Default: all "
           "three, LPIPS only when its backbone weights are there.", is_list=True, unordered=True),
    Option("lpips_net", str, "LPIPS backbone: alex or vgg.", default="alex"),
    Option("lpips_backbone", str, "The backbone's torchvision ImageNet weights (.pth). Default: the torch "
           "hub cache's ($TORCH_HOME/hub/checkpoints/alexnet-owt-7be5be79.pth or vgg16-397923af.pth). "
           "Never downloaded.", is_path=True),
)  # fmt: skip
MEASUREMENT_OPTIONS: dict[str, tuple[Option, ...]] = {
    "params": (),
    "flops": FLOPS,
    "latency": LATENCY,
    "profile": PROFILE,
    "robustness": ROBUSTNESS,
}
# What `mubench train` takes besides --model, --out and --resume: data, budgets, optimizer, mode, curves.
TRAIN = (
    Option("dataset", str, f"Training images: {', '.join(BUILTIN_DATASETS)} (built in), a torchvision name, "
           "folder:PATH.", default="patches32"),
    Option("data_root", str, "Root of torchvision datasets.", is_path=True),
    RESOLUTION.but(help="folder:PATH and torchvision datasets: side of the centre crops, in px. Default: "
                   "the dataset's own (32; celeba 64)."),
    Option("flip", bool, "Random horizontal flips of the training images.", default=True),
    Option("workers", int, "DataLoader worker processes (0: batches made in the training process).",
           default=0, range=Range(0, 256)),
    STEPS.but(help="Budget: optimizer steps. Default: 2000 when no other budget is given.", unit="steps"),
    Option("images", int, "Budget: training images seen (steps x global batch).", range=Range(1, 10**15),
           unit="images"),
    Option("minutes", float, "Budget: wall-clock minutes.", range=Range(0, low_open=True), unit="min"),
    Option("train_tmacs", float, "Budget: training compute in TMACs, forward + backward counted as 3 x the "
           "forward MACs of `mubench flops`.", range=Range(0, low_open=True), unit="TMACs"),
    BATCH_SIZE.but(default=64, help="Images per optimizer step, over all processes (the global batch)."),
    Option("lr", float, "Adam learning rate.", default=2e-4, range=Range(0, low_open=True)),
    Option("ema_decay", float, "EMA decay per step.", default=0.999, range=Range(0.0, 1.0, high_open=True)),
    Option("grad_clip", float, "Max gradient norm.", default=1.0, range=Range(0, low_open=True)),
    Option("prediction", str, "eps or v. Default: the model's own."),
    SEED.but(help="Seed of weights, batches, steps and noise."),
    Option("save_every", int, "Steps between checkpoints.", default=500, range=COUNT, unit="steps"),
    DEVICE,
    Option("dtype", str, "fp32, or bf16 / fp16 under autocast (fp16 with a gradient scaler).",
           default="fp32"),
    Option("channels_last", bool, "Channels-last memory format.", default=False),
    Option("compile", bool, "torch.compile the model.", default=False),
    Option("eval_every", int, "Curves: score the EMA weights every N steps (0: never).", default=0,
           range=Range(0, 10**9), unit="steps"),
    Option("eval_images", int, "Curves: test images scored.", default=64, range=Range(1, 10_000_000),
           unit="images"),
    Option("eval_steps", int, "Curves: DDIM denoiser calls from t* (robustness's --steps).", default=10,
           range=COUNT, unit="calls"),
    Option("eval_sigma", float, "Curves: pixel noise sigma; repeat for several. Default: 0.1, 0.2, 0.3.",
           repeatable=True, range=Range(0.0, 1.0, low_open=True)),
    Option("log", str, "Curves: write the rows (loss, throughput, scores) to this CSV file.", is_path=True),
)  # fmt: skip
COMMAND_OPTIONS: dict[str, tuple[Option, ...]] = {"train": TRAIN}
# The ranges of the other commands' numeric options (sample, fid, fid-ref, compare).
COMMAND_RANGES = {
    "num_images": Range(1, 10_000_000),
    "dims": Range(64, 2048),
    "kid_subsets": Range(1, 100_000),
    "kid_subset_size": Range(2, 1_000_000),
    "threshold": Range(0),  # a percentage
}
