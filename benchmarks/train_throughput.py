"""Benchmark: training throughput of `mubench train` against denoising-diffusion-pytorch 1.8.3's own
`Trainer`, side by side, on the same network, batch size, resolution and images.

The network is mubench's `lucid-unet`, which is that library's `Unet(dim=64, dim_mults=(1, 2, 4, 8))`
(35,710,339 parameters); the peer trains its own `Unet` built with the same settings, inside
`GaussianDiffusion(image_size=R, timesteps=1000)` (its defaults: v objective, sigmoid schedule). Both
parameter counts are printed, and the benchmark refuses to run if they differ. The images are the
built-in `patches32` (`patches64` at 64 x 64) training split, cut to a whole number of batches and
written as PNG files into a temporary folder: the Trainer reads that folder, `mubench train` reads it as
`--dataset folder:PATH`.

Each run is a fresh process: `python -m mubench train --model lucid-unet ... --quiet` for mubench, this
file with `--peer-worker` for the peer (it builds the Trainer with `save_and_sample_every` beyond its
last step, so it never samples, computes FID or saves; EMA updates stay in, as in mubench). Start-up is
taken out by the difference method: each tool runs K1 and K2 steps (K2 > K1) and its throughput is
images/s = B * (K2 - K1) / (t(K2) - t(K1)), t being the wall time of the whole process. The tools
alternate (which goes first swaps every round), for `--repeats` rounds; the table printed last gives
the median images/s of each tool and the ratio mubench / peer of the medians, with the range of the
per-round ratios. Targets (printed, not asserted): at least x1.0 of the peer on the CPU (fp32 against
fp32), x1.5 on a GPU (`--device cuda --dtype bf16 --compile` against the Trainer's `amp=True`).

Each tool runs its own training step, as its users get it; what differs besides the code (read from the
Trainer's source): the Trainer updates its EMA every 10 steps (copying the weights until step 100),
mubench every step, and mubench checks the loss and the gradient norm for finiteness each step; the
Trainer weights each image's loss by SNR / (SNR + 1) (compute alike), uses Adam
lr 1e-4, betas (0.9, 0.99) against mubench's 2e-4, (0.9, 0.999) (compute alike); both clip the gradient
norm at 1 and read the loss once a step. Data: the Trainer decodes every PNG of every batch in a
DataLoader of os.cpu_count() workers (shuffle, pin_memory, random horizontal flips; the workers start
again at every epoch: every 187 steps at batch 16, 46 at batch 64), which on the CPU share the cores
with training; mubench decodes the folder once at start-up (outside the difference) and indexes a
tensor, with random flips too (its default); on a GPU it is given `--workers` os.cpu_count(), on the
CPU none (its default: the batches are made in the training process, which the cores then serve). On a
GPU the Trainer runs fp16 autocast with a gradient scaler (`--peer-mixed-precision bf16` for bf16). Each
mubench run ends by writing its checkpoint and resume state (0.7 GB), the peer's by writing nothing:
that is in both the K1 and the K2 run, so the difference takes it out.

Defaults: on the CPU (fp32), batch 16, 32 x 32, K1 3, K2 13, 3 rounds, sized for a few minutes on a
2-core machine (12 processes; the total time is printed); on a GPU, batch 64, 64 x 64, K1 20, K2 220.
With `--out DIR`: `DIR/train_throughput.csv` (one row per tool and round: both wall times and the
images/s) and `DIR/train_throughput.json` (environment, settings, the exact commands, the summary).

    python benchmarks/train_throughput.py --out results/cpu
    python benchmarks/train_throughput.py --device cuda --out results/gpu
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import fields
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
MODEL = "lucid-unet"
PEER_UNET = {"dim": 64, "dim_mults": (1, 2, 4, 8)}  # the peer's Unet: what lucid-unet is
TIMESTEPS = 1000
TOOLS = ("mubench", "peer")
TARGETS = {"cpu": 1.0, "cuda": 1.5}  # mubench images/s over the peer's
DEFAULTS = {  # per device: batch size, resolution, K1, K2
    "cpu": {"batch_size": 16, "resolution": 32, "k1": 3, "k2": 13},
    "cuda": {"batch_size": 64, "resolution": 64, "k1": 20, "k2": 220},
}
SOURCE_DATASET = {32: "patches32", 64: "patches64"}  # built-in training images per resolution
GPU_FLAGS = ("--device", "cuda", "--dtype", "bf16", "--compile")


def images_per_second(batch_size: int, k1: int, k2: int, t1: float, t2: float) -> float:
    """Throughput by the difference method: B * (K2 - K1) images in t(K2) - t(K1) seconds."""
    if k2 <= k1:
        raise ValueError(f"K2 ({k2}) must exceed K1 ({k1})")
    if not t2 > t1:
        raise ValueError(
            f"the {k2}-step run ({t2:.2f} s) did not take longer than the {k1}-step run ({t1:.2f} s): "
            "the steps are lost in the noise of start-up; raise --k2"
        )
    return batch_size * (k2 - k1) / (t2 - t1)


def check_settings(batch_size: int, resolution: int, k1: int, k2: int, repeats: int, save_every: int) -> None:
    """Refuse settings the difference method cannot use; ``save_every`` is mubench's checkpoint interval
    (a save between K1 and K2 would be timed for mubench only)."""
    if batch_size < 1 or repeats < 1:
        raise SystemExit(f"--batch-size and --repeats must be at least 1, got {batch_size} and {repeats}")
    if resolution not in SOURCE_DATASET:
        sides = ", ".join(map(str, SOURCE_DATASET))
        raise SystemExit(f"--resolution must be one of {sides}, got {resolution}")
    if not 1 <= k1 < k2:
        raise SystemExit(f"need 1 <= --k1 < --k2 (K1 takes the warm-up steps out), got {k1} and {k2}")
    if k2 >= save_every:
        raise SystemExit(
            f"--k2 must be below {save_every}: mubench train saves a checkpoint every {save_every} steps, "
            "and that save would be timed for mubench alone"
        )


def check_same_network(mubench_params: int, peer_params: int) -> None:
    """Refuse to compare two networks of different sizes."""
    if mubench_params != peer_params:
        raise SystemExit(
            f"the networks differ: {MODEL} has {mubench_params:,} parameters, the peer's Unet({PEER_UNET}) "
            f"{peer_params:,}; both must train the same network"
        )


def whole_batches(n_images: int, batch_size: int) -> int:
    """How many images to keep so that every batch of the peer's DataLoader (no drop_last) is full."""
    kept = n_images - n_images % batch_size
    if kept == 0:
        raise SystemExit(f"--batch-size {batch_size} exceeds the {n_images} training images")
    return kept


def options_in_help(text: str) -> set[str]:
    """The long option names (``--steps``) a command's ``--help`` text lists: the first name of each row
    of its options table, not a name its descriptions mention."""
    return set(re.findall(r"^[│|]?[ *]{1,6}(--[a-z][a-z0-9-]*)", text, flags=re.MULTILINE))


def summarise(per_round: dict[str, list[float]]) -> dict[str, Any]:
    """Median images/s per tool, the ratio of the medians (mubench / peer) and the per-round ratios."""
    ratios = [m / p for m, p in zip(per_round["mubench"], per_round["peer"])]
    medians = {tool: statistics.median(per_round[tool]) for tool in TOOLS}
    return {
        "median_images_per_s": medians,
        "ratio": medians["mubench"] / medians["peer"],
        "round_ratios": ratios,
        "ratio_min": min(ratios),
        "ratio_max": max(ratios),
    }


def parameter_counts() -> tuple[int, int]:
    """Parameters of mubench's lucid-unet and of the peer's GaussianDiffusion(Unet(...)) (what its Adam
    optimizes), both built here."""
    import warnings

    from mubench.measure.runtime.build import build_model
    from mubench.registry import get_spec

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # the library's torch.cuda.amp decorators
        from denoising_diffusion_pytorch import GaussianDiffusion, Unet

    ours = sum(p.numel() for p in build_model(get_spec(MODEL)).parameters())
    peer = GaussianDiffusion(Unet(**PEER_UNET), image_size=32, timesteps=TIMESTEPS)
    return ours, sum(p.numel() for p in peer.parameters())


def write_images(folder: Path, resolution: int, batch_size: int) -> int:
    """Write the training images as PNG files into ``folder``; how many."""
    import numpy as np
    import torch
    from PIL import Image

    from mubench.data import load_dataset

    images = load_dataset(SOURCE_DATASET[resolution], "train").images
    images = images[: whole_batches(len(images), batch_size)]
    pixels = (images.clamp(0, 1) * 255).round().to(torch.uint8)
    folder.mkdir(parents=True)
    for i, image in enumerate(pixels.permute(0, 2, 3, 1).numpy()):
        Image.fromarray(np.ascontiguousarray(image), "RGB").save(folder / f"{i:05d}.png")
    return len(images)


def subprocess_env(device: str) -> dict[str, str]:
    """Both tools' environment: this checkout first on the path; no GPU visible in a CPU run (the
    Trainer's accelerate would otherwise take one)."""
    path = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "PYTHONPATH": path}
    env.setdefault("COLUMNS", "200")
    if device == "cpu":
        env["CUDA_VISIBLE_DEVICES"] = ""
    return env


def mubench_train_options(env: dict[str, str]) -> set[str]:
    """The options `mubench train` of this checkout accepts."""
    done = subprocess.run([sys.executable, "-m", "mubench", "train", "--help"], capture_output=True,
                          text=True, env=env, cwd=REPO)  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(f"mubench train --help failed:\n{done.stderr}")
    return options_in_help(done.stdout)


def mubench_command(
    steps: int, out: Path, images: Path, args: argparse.Namespace, options: set[str]
) -> list[str]:
    """`python -m mubench train ...` for ``steps`` steps; refuses what this checkout cannot do."""
    command = [sys.executable, "-m", "mubench", "train", "--model", MODEL, "--out", str(out),
               "--steps", str(steps), "--batch-size", str(args.batch_size),
               "--dataset", f"folder:{images}", "--seed", "0", "--quiet"]  # fmt: skip
    if "--resolution" in options:
        command += ["--resolution", str(args.resolution)]
    elif args.resolution != 32:
        raise SystemExit(f"mubench train has no --resolution here: it cannot train at {args.resolution}")
    if "--workers" in options and args.device == "cuda":  # on the CPU, workers would compete for the cores
        command += ["--workers", str(os.cpu_count())]  # as many as the Trainer's DataLoader
    if args.device == "cuda":
        missing = [flag for flag in GPU_FLAGS if flag.startswith("--") and flag not in options]
        if missing:
            raise SystemExit(f"mubench train has no {', '.join(missing)} here: it cannot run the GPU arm")
        command += list(GPU_FLAGS)
    return command


def peer_command(steps: int, results: Path, images: Path, args: argparse.Namespace) -> list[str]:
    """This file as the peer's worker: the Trainer for ``steps`` steps."""
    command = [sys.executable, str(Path(__file__).resolve()), "--peer-worker", "--folder", str(images),
               "--resolution", str(args.resolution), "--batch-size", str(args.batch_size),
               "--steps", str(steps), "--results", str(results)]  # fmt: skip
    if args.device == "cuda":
        command += ["--amp", "--mixed-precision", args.peer_mixed_precision]
    return command


def timed(command: list[str], env: dict[str, str]) -> float:
    """Wall seconds of one fresh process; exits with its output if it fails."""
    begin = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=REPO)
    wall = time.perf_counter() - begin
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).splitlines()[-30:])
        raise SystemExit(f"{shlex.join(command)} exited {done.returncode}:\n{tail}")
    return wall


def one_run(tool: str, steps: int, work: Path, images: Path, args: argparse.Namespace,
            options: set[str], env: dict[str, str]) -> tuple[float, list[str]]:  # fmt: skip
    """Wall seconds of one tool's run of ``steps`` steps, and its command; its outputs are deleted."""
    with tempfile.TemporaryDirectory(dir=work) as folder:
        if tool == "mubench":
            command = mubench_command(steps, Path(folder) / "x.safetensors", images, args, options)
        else:
            command = peer_command(steps, Path(folder) / "results", images, args)
        return timed(command, env), command


def peer_worker(argv: list[str]) -> int:
    """The peer's side: denoising-diffusion-pytorch's own Trainer, as its README runs it."""
    parser = argparse.ArgumentParser(prog="train_throughput.py --peer-worker")
    parser.add_argument("--folder", required=True)
    parser.add_argument("--resolution", type=int, required=True)
    parser.add_argument("--batch-size", type=int, required=True)
    parser.add_argument("--steps", type=int, required=True)
    parser.add_argument("--results", required=True)
    parser.add_argument("--amp", action="store_true", help="mixed precision (the GPU arm)")
    parser.add_argument("--mixed-precision", default="fp16", choices=("fp16", "bf16"))
    args = parser.parse_args(argv)

    import warnings

    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # the library's torch.cuda.amp decorators
        from denoising_diffusion_pytorch import GaussianDiffusion, Trainer, Unet

    torch.manual_seed(0)
    diffusion = GaussianDiffusion(Unet(**PEER_UNET), image_size=args.resolution, timesteps=TIMESTEPS)
    trainer = Trainer(
        diffusion,
        args.folder,
        train_batch_size=args.batch_size,
        train_num_steps=args.steps,
        gradient_accumulate_every=1,
        amp=args.amp,
        mixed_precision_type=args.mixed_precision,
        calculate_fid=False,
        save_and_sample_every=args.steps + 1,  # never reached: no sampling or saving in the run
        results_folder=args.results,
    )
    trainer.train()
    return 0


def table(summary: dict[str, Any], per_round: dict[str, list[float]], args: argparse.Namespace) -> str:
    lines = [f"{'tool':10s} {'images/s (median)':>18s} {'ms/step':>9s}   per round"]
    for tool in TOOLS:
        median = summary["median_images_per_s"][tool]
        rounds = ", ".join(f"{v:.2f}" for v in per_round[tool])
        lines.append(f"{tool:10s} {median:18.2f} {1e3 * args.batch_size / median:9.1f}   {rounds}")
    target = TARGETS[args.device]
    verdict = "met" if summary["ratio"] >= target else "not met"
    low, high = summary["ratio_min"], summary["ratio_max"]
    lines.append(
        f"mubench / peer: x{summary['ratio']:.3f} (rounds x{low:.3f}..x{high:.3f}); "
        f"target x{target:.1f} on {args.device}: {verdict}"
    )
    return "\n".join(lines)


def write_results(
    out: Path, rows: list[dict[str, Any]], record: dict[str, Any], summary: dict[str, Any], device: str
) -> None:
    """``train_throughput.csv`` in the result schema (a row per tool and round, then the ratio's row) and
    ``train_throughput.json`` (the record, with each round's wall times)."""
    from mubench.results import benchmark_row, new_run_id, write_benchmark

    run_id, name = new_run_id(), Path(__file__).stem
    table = [benchmark_row(name, row["tool"], run_id, device=device, bench_run=row["round"],
                           batch_size=row["batch_size"], resolution=row["resolution"],
                           images_per_s=row["images_per_s"]) for row in rows]  # fmt: skip
    ratio, low, high = summary["ratio"], summary["ratio_min"], summary["ratio_max"]
    spread = (high - low) / ratio
    table.append(benchmark_row(name, "mubench / peer images/s", run_id, device=device, ratio=ratio,
                               n_runs=len(summary["round_ratios"]), ratio_spread=spread,
                               target=summary["target"], within_target=summary["target_met"]))  # fmt: skip
    out.mkdir(parents=True, exist_ok=True)
    write_benchmark(table, out / "train_throughput.csv", device)
    (out / "train_throughput.json").write_text(json.dumps({**record, "rounds": rows}, indent=2) + "\n")


def run_record(
    args: argparse.Namespace,
    argv: list[str],
    options: set[str],
    settings: dict[str, Any],
    commands: dict[str, dict[int, str]],
    summary: dict[str, Any],
) -> dict[str, Any]:
    """The JSON beside the CSV: environment, settings, the exact commands and the summary."""
    from importlib.metadata import version

    from mubench.results import full_environment

    environment = full_environment(args.device)
    for package in ("denoising-diffusion-pytorch", "accelerate", "ema-pytorch"):
        environment[f"{package.replace('-', '_')}_version"] = version(package)
    environment["peer_dataloader_workers"] = os.cpu_count()
    environment["mubench_workers_flag"] = "--workers" in options
    settings = {
        "model": MODEL,
        "peer_unet": {**PEER_UNET, "dim_mults": list(PEER_UNET["dim_mults"])},
        **settings,
        "images_from": SOURCE_DATASET[args.resolution],
        **{
            name: getattr(args, name)
            for name in ("device", "batch_size", "resolution", "k1", "k2", "repeats")
        },
        "peer_mixed_precision": args.peer_mixed_precision if args.device == "cuda" else "no",
    }
    target = TARGETS[args.device]
    return {
        "environment": environment,
        "settings": settings,
        "benchmark_command": shlex.join(["python", "benchmarks/train_throughput.py", *argv]),
        "commands": commands,  # tool -> steps -> command line (the temporary paths of the last round)
        "summary": {**summary, "target": target, "target_met": summary["ratio"] >= target},
    }


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    cpu, gpu = DEFAULTS["cpu"], DEFAULTS["cuda"]
    for name, what in (("resolution", "image side"), ("batch_size", "images per step"),
                       ("k1", "steps of the shorter run"), ("k2", "steps of the longer run")):  # fmt: skip
        flag = "--" + name.replace("_", "-")
        parser.add_argument(
            flag, type=int, help=f"{what} (default: {cpu[name]} on the CPU, {gpu[name]} on a GPU)"
        )
    parser.add_argument("--repeats", type=int, default=3, help="rounds, each timing both tools")
    parser.add_argument(
        "--peer-mixed-precision",
        choices=("fp16", "bf16"),
        default="fp16",
        help="the Trainer's mixed_precision_type under amp=True (GPU only; fp16 is its default)",
    )
    parser.add_argument("--out", type=Path, help="folder for train_throughput.csv and .json")
    args = parser.parse_args(argv)
    for name, value in DEFAULTS[args.device].items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    return args


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--peer-worker"]:
        return peer_worker(argv[1:])
    args = parse_args(argv)

    import torch

    from mubench.training import TrainConfig

    save_every = next(f.default for f in fields(TrainConfig) if f.name == "save_every")
    check_settings(args.batch_size, args.resolution, args.k1, args.k2, args.repeats, save_every)
    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: no CUDA device is available")
    ours, peer = parameter_counts()
    print(f"parameters: mubench {MODEL} {ours:,}, peer Unet(dim=64, dim_mults=(1, 2, 4, 8)) {peer:,}")
    check_same_network(ours, peer)

    begin = time.perf_counter()
    env = subprocess_env(args.device)
    options = mubench_train_options(env)
    with tempfile.TemporaryDirectory(prefix="train_throughput-") as tmp:
        work = Path(tmp)
        images = work / "images"
        n_images = write_images(images, args.resolution, args.batch_size)
        commands = {tool: {} for tool in TOOLS}
        side = f"{args.resolution}x{args.resolution}"
        print(f"{n_images} images of {side} in {images}; batch {args.batch_size}, K1 {args.k1}, "
              f"K2 {args.k2}, {args.repeats} rounds, {args.device}", flush=True)  # fmt: skip
        rows: list[dict[str, Any]] = []
        per_round: dict[str, list[float]] = {tool: [] for tool in TOOLS}
        for round_index in range(args.repeats):
            order = TOOLS if round_index % 2 == 0 else TOOLS[::-1]  # alternate which tool goes first
            for tool in order:
                walls = {}
                for steps in (args.k1, args.k2):
                    walls[steps], command = one_run(tool, steps, work, images, args, options, env)
                    commands[tool][steps] = shlex.join(command)
                rate = images_per_second(args.batch_size, args.k1, args.k2, walls[args.k1], walls[args.k2])
                per_round[tool].append(rate)
                rows.append({"round": round_index + 1, "tool": tool, "device": args.device,
                             "batch_size": args.batch_size, "resolution": args.resolution, "k1": args.k1,
                             "k2": args.k2, "wall_k1_s": round(walls[args.k1], 3),
                             "wall_k2_s": round(walls[args.k2], 3),
                             "images_per_s": round(rate, 4)})  # fmt: skip
                print(f"round {round_index + 1} {tool:8s} t({args.k1}) {walls[args.k1]:7.2f} s  "
                      f"t({args.k2}) {walls[args.k2]:7.2f} s  {rate:8.2f} images/s", flush=True)  # fmt: skip

    summary = summarise(per_round)
    if args.out is not None:
        settings = {"parameters": {"mubench": ours, "peer": peer}, "images": n_images}
        record = run_record(args, argv, options, settings, commands, summary)
        write_results(args.out, rows, record, record["summary"], args.device)
    print(f"\n{time.perf_counter() - begin:.0f} s in all")
    print(table(summary, per_round, args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
