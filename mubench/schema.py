"""The result schema: every column a row can hold, declared once.

Each column has a name, a type, a unit, the commands whose rows fill it, and for metrics which way is
better, whether it is a join key of ``mubench compare``, and whether it is an exact count that must not
change at all. ``results``, ``compare`` and the report read their column lists from here; the Makefile's
exact gates and ``docs/results-columns.md``'s table are checked against it by the tests
(``python -m mubench.schema`` prints the table).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

SCHEMA_VERSION = 1
ALL = ("params", "flops", "latency", "robustness", "profile", "sample", "fid", "train")


@dataclass(frozen=True)
class Column:
    name: str
    type: type  # int, float, str or bool
    unit: str  # "" when none
    owners: tuple[str, ...]  # commands whose rows fill it; "suite" / "benchmark" for those outputs
    doc: str
    better: str | None = None  # "lower" or "higher" for a metric compare checks; None otherwise
    key: bool = False  # compare joins rows on it
    exact: bool = False  # an exact count: any change is a regression in CI


def _key(name: str, kind: type, doc: str, owners: tuple[str, ...] = ALL) -> Column:
    return Column(name, kind, "", owners, doc, key=True)


def _info(name: str, kind: type, unit: str, owners: tuple[str, ...], doc: str) -> Column:
    return Column(name, kind, unit, owners, doc)


def _metric(
    name: str, kind: type, unit: str, owners: tuple[str, ...], doc: str, better: str = "lower",
    exact: bool = False,
) -> Column:  # fmt: skip
    return Column(name, kind, unit, owners, doc, better=better, exact=exact)


# The commands whose rows fill a column.
PARAMS, FLOPS, LATENCY, ROBUSTNESS = ("params",), ("flops",), ("latency",), ("robustness",)
SAMPLE, FID, BENCHMARK, PROFILE = ("sample",), ("fid",), ("benchmark",), ("profile",)
TRAIN = ("train",)  # the curve rows of `mubench train --log`
SCORED = ROBUSTNESS + TRAIN  # denoising scores
LATENCY_ROBUSTNESS, LATENCY_PROFILE = LATENCY + ROBUSTNESS, LATENCY + PROFILE
RUN_MODE = LATENCY + PROFILE + ROBUSTNESS  # the commands whose rows say how the models ran
COLUMNS: tuple[Column, ...] = (
    # -- keys and bookkeeping, in every row, in this order
    _key("command", str, "params, flops, latency, robustness, profile, sample, fid or train"),
    _key("model", str, "registry name, package.module:factory, or a reference denoiser"),
    _key("device", str, "cpu, cuda or cuda:N"),
    _key("dtype", str, "fp32, fp16 or bf16 (autocast)"),
    _key("batch_size", int, "images per denoiser call"),
    _key("resolution", int, "input side in pixels"),
    _key("steps", int, "denoiser calls per trajectory"),
    _key("sampler", str, "ddim(eta=...) or ddpm"),
    _key("solver", str, "ODE solver of ODE models, e.g. rk4(steps=1)/torchdiffeq"),
    _key("seed", int, "seed of inputs, noise and initial weights"),
    _info("status", str, "", ALL, "ok, oom, error or skipped"),
    _info("message", str, "", ALL, "why a row failed, or notes on it"),
    _info("run_id", str, "", ALL, "rows that share it were measured together"),
    _info("timestamp", str, "", ALL, "UTC, ISO 8601"),
    _info("mubench_version", str, "", ALL, "version of mubench that wrote the row"),
    _info("schema_version", int, "", ALL, "version of this schema"),
    # -- the machine and software, in every measured row
    _info("torch_version", str, "", ALL, "PyTorch version"),
    _info("cuda_version", str, "", ALL, "CUDA version (GPU rows)"),
    _info("cudnn_version", str, "", ALL, "cuDNN version (GPU rows)"),
    _info("driver_version", str, "", ALL, "NVIDIA driver (GPU rows)"),
    _info("device_name", str, "", ALL, "GPU name or CPU model"),
    _info("num_threads", int, "", ALL, "intra-op CPU threads"),
    _info("git_commit", str, "", ALL, "commit of mubench's checkout, when it runs from one"),
    _info("git_dirty", bool, "", ALL, "that checkout had uncommitted changes"),
    # -- params
    _metric(
        "params_total",
        int,
        "elements",
        PARAMS,
        "every parameter, shared ones once (flops rows too)",
        exact=True,
    ),
    _metric("params_trainable", int, "elements", PARAMS, "parameters with requires_grad", exact=True),
    _metric("params_frozen", int, "elements", PARAMS, "parameters without requires_grad", exact=True),
    _metric("buffers_total", int, "elements", PARAMS, "registered buffers (not parameters)", exact=True),
    _info("params_expected", int, "elements", PARAMS, "the registry's stated count"),
    _info("params_vs_first", float, "fraction", PARAMS, "params_total over the first model's"),
    # -- flops
    _key("counter", str, "fvcore or torch", FLOPS),
    _key("tier", str, "matmul, or all (norms, resampling, elementwise too)", FLOPS),
    _metric("macs", int, "MACs", FLOPS, "multiply-accumulates of one call on the batch", exact=True),
    _metric("flops", int, "FLOPs", FLOPS, "2 x macs (+ elementwise_ops in tier all)"),
    _info("macs_conv", int, "MACs", FLOPS, "of convolutions"),
    _info("macs_linear", int, "MACs", FLOPS, "of linear layers"),
    _info("macs_attention", int, "MACs", FLOPS, "of attention matmuls"),
    _info("macs_other", int, "MACs", FLOPS, "of other matmuls"),
    _metric("elementwise_ops", int, "ops", FLOPS, "tier all: norm, resampling and elementwise ops"),
    _metric("nfe", int, "evaluations", FLOPS + LATENCY, "ODE-function evaluations per call", exact=True),
    _info("nfe_min", int, "evaluations", FLOPS, "adaptive solvers: fewest over sampled inputs"),
    _info("nfe_median", float, "evaluations", FLOPS, "adaptive solvers: median over sampled inputs"),
    _info("nfe_max", int, "evaluations", FLOPS, "adaptive solvers: most over sampled inputs"),
    _info("nfe_per_block", str, "evaluations", FLOPS, "per ODE block"),
    _info(
        "solver_default",
        bool,
        "",
        FLOPS,
        "the solver is the model's own (the paper's); true without ODE blocks",
    ),
    _metric(
        "nfe_per_trajectory",
        int,
        "evaluations",
        FLOPS + LATENCY + SAMPLE,
        "over a trajectory of steps calls",
        exact=True,
    ),
    _metric("macs_per_trajectory", int, "MACs", FLOPS, "macs x steps", exact=True),
    _metric("flops_per_trajectory", int, "FLOPs", FLOPS, "flops x steps"),
    _info("coverage", float, "fraction", FLOPS, "share of counted op invocations fvcore could count"),
    _info("unsupported_ops", str, "", FLOPS, "ops fvcore could not count"),
    _info("xcheck_ratio", float, "fraction", FLOPS, "torch FLOPs / (2 x fvcore MACs) over ops both count"),
    _info("paper_macs", int, "MACs", FLOPS, "the paper authors' own count, where known"),
    _info("channels", int, "", FLOPS, "image channels"),
    # -- latency: mode
    _key("mode", str, "inference mode, e.g. compile+channels_last", RUN_MODE),
    _info("compile", bool, "", RUN_MODE, "torch.compile"),
    _info("compile_options", str, "", LATENCY_PROFILE, "inductor settings given"),
    _info("channels_last", bool, "", RUN_MODE, "channels-last memory format"),
    _info("cuda_graphs", bool, "", LATENCY, "calls replayed from a CUDA graph"),
    _info("prepack", bool, "", LATENCY_PROFILE, "convolutions prepacked for oneDNN"),
    _info("tf32", bool, "", LATENCY_PROFILE, "TF32 allowed"),
    _info("cudnn_benchmark", bool, "", LATENCY_PROFILE, "cuDNN autotuning"),
    _info("matmul_precision", str, "", LATENCY_PROFILE, "torch float32 matmul precision"),
    # -- latency: per call
    _metric("call_ms_median", float, "ms", LATENCY, "median time of one denoiser call"),
    _metric("call_ms_p10", float, "ms", LATENCY, "10th percentile"),
    _metric("call_ms_p90", float, "ms", LATENCY, "90th percentile"),
    _metric("call_ms_iqr", float, "ms", LATENCY, "interquartile range"),
    _metric("call_ms_mean", float, "ms", LATENCY, "mean"),
    _metric("call_ms_std", float, "ms", LATENCY, "standard deviation"),
    _metric("call_ms_min", float, "ms", LATENCY, "fastest sample"),
    _info("call_ms_unstable", bool, "", LATENCY, "IQR / median > 0.10"),
    _info("n_calls", int, "", LATENCY, "calls timed"),
    _info("n_samples", int, "", LATENCY, "samples timed"),
    _info("calls_per_sample", int, "", LATENCY, "back-to-back calls per sample"),
    _info("warmup_iters", int, "", LATENCY, "warm-up calls"),
    _info("warmup_stable", bool, "", LATENCY, "warm-up settled within 5%"),
    # -- latency: per trajectory
    _metric("trajectory_s_median", float, "s", LATENCY, "median time of a whole reverse trajectory"),
    _metric("trajectory_s_p10", float, "s", LATENCY, "10th percentile"),
    _metric("trajectory_s_p90", float, "s", LATENCY, "90th percentile"),
    _info("trajectory_s_iqr", float, "s", LATENCY, "interquartile range"),
    _metric("trajectory_s_mean", float, "s", LATENCY, "mean"),
    _info("trajectory_s_std", float, "s", LATENCY, "standard deviation"),
    _metric("trajectory_s_min", float, "s", LATENCY, "fastest trajectory"),
    _info("trajectory_s_unstable", bool, "", LATENCY, "IQR / median > 0.10"),
    _info("n_trajectories", int, "", LATENCY, "trajectories timed"),
    _info("trajectory_denoiser_calls", int, "", LATENCY, "denoiser calls per trajectory"),
    # -- latency: cost, rate, memory, agreement
    _info("flops_per_call", int, "FLOPs", LATENCY, "torch's count of one call, on the device"),
    _info("macs_per_call", int, "MACs", LATENCY, "flops_per_call / 2"),
    _metric("achieved_gflops", float, "GFLOP/s", LATENCY, "flops_per_call over call_ms_median", "higher"),
    _info(
        "device_matmul_gflops", float, "GFLOP/s", LATENCY, "measured peak in the dtype: best matmul or conv"
    ),
    _metric("achieved_share", float, "fraction", LATENCY, "achieved_gflops / device_matmul_gflops", "higher"),
    _metric("peak_mem_mib", float, "MiB", LATENCY, "CUDA peak allocated in a warm call; empty on the CPU"),
    _info(
        "max_rel_err_vs_eager_fp32", float, "fraction", LATENCY, "max |out - eager fp32| / max |eager fp32|"
    ),
    _info("agrees_with_eager_fp32", bool, "", LATENCY, "within agreement_tolerance"),
    _info("agreement_tolerance", float, "fraction", LATENCY, "1e-4 fp32, 1e-2 fp16, 5e-2 bf16"),
    _info(
        "baseline",
        str,
        "",
        LATENCY_ROBUSTNESS,
        "the first model, which ratios and paired differences refer to",
    ),
    _metric("call_ms_vs_first", float, "fraction", LATENCY, "call_ms_median over the first model's"),
    _info("macs_vs_first", float, "fraction", LATENCY, "macs_per_call over the first model's"),
    _info("trajectory_s_vs_first", float, "fraction", LATENCY, "trajectory_s_median over the first model's"),
    _metric("latency_over_macs_ratio", float, "fraction", LATENCY, "call_ms_vs_first / macs_vs_first"),
    # -- bytes moved, memory and the roofline (flops and latency rows)
    _info("bytes_min", int, "bytes", FLOPS, "weights, input and output once: a call's compulsory traffic"),
    _info("bytes_unfused", int, "bytes", FLOPS + LATENCY, "every aten op reads its inputs, writes outputs"),
    _info("arithmetic_intensity_min", float, "FLOPs/byte", FLOPS, "flops / bytes_min"),
    _info("arithmetic_intensity_unfused", float, "FLOPs/byte", FLOPS, "flops / bytes_unfused"),
    _info("weights_mib", float, "MiB", FLOPS + LATENCY, "parameters and buffers"),
    _metric("peak_activation_mib", float, "MiB", FLOPS + LATENCY, "peak live tensor bytes of one eager call"),
    _info("device_bandwidth_gbps", float, "GB/s", LATENCY, "measured memory bandwidth: best of copy, triad"),
    _info("bandwidth_array_mib", float, "MiB", LATENCY, "each array of that test (>= last-level cache)"),
    _info("device_peak_kernel", str, "", LATENCY, "the kernel that gave device_matmul_gflops"),
    _info("device_rates_s", float, "s", LATENCY, "what measuring the peak rate and bandwidth cost"),
    _info("roofline_ms", float, "ms", LATENCY, "sum over aten ops of max(FLOPs / peak, bytes / bandwidth)"),
    _info("latency_over_roofline", float, "fraction", LATENCY, "call_ms_median / roofline_ms"),
    _info("roofline_vs_first", float, "fraction", LATENCY, "roofline_ms over the first model's"),
    # -- latency: process independence and the machine
    _info("processes", int, "", LATENCY, "fresh worker processes measured"),
    _info("processes_ok", int, "", LATENCY, "workers that gave figures"),
    _info("call_ms_process_medians", str, "ms", LATENCY, "each worker's median, ;-separated"),
    _info("call_ms_process_spread", float, "fraction", LATENCY, "(max - min) / median of workers' medians"),
    _info("trajectory_s_process_medians", str, "s", LATENCY, "each worker's median, ;-separated"),
    _info("trajectory_s_process_spread", float, "fraction", LATENCY, "(max - min) / median of those medians"),
    _info(
        "prefault",
        bool,
        "",
        (*LATENCY_ROBUSTNESS, "profile"),
        "loaded libraries' pages made resident before timing",
    ),
    _info("prefault_s", float, "s", (*LATENCY_ROBUSTNESS, "profile"), "time spent pre-faulting, all passes"),
    _info("prefault_mib", float, "MiB", LATENCY_PROFILE, "library pages made resident"),
    _info("prefault_method", str, "", LATENCY_PROFILE, "madvise or touch"),
    _info("cpu_busy_other_cores", float, "cores", LATENCY, "CPU used by other processes as timing began"),
    _info("loadavg_1min", float, "", LATENCY, "load average as timing began"),
    _info("cpu_governor", str, "", LATENCY, "cpufreq governor, where shown"),
    _info("cpu_boost", str, "", LATENCY, "turbo / boost on or off, where shown"),
    # -- robustness
    _key("sigma", float, "pixel noise in [0, 1] units", SCORED),
    _key("dataset", str, "test images", SCORED),
    _info(
        "checkpoint",
        str,
        "",
        ("flops", "latency", "robustness", "sample", "fid"),
        "weights used: a mubench file, FORMAT:PATH@sha256:HEX for another library's, untrained, or none "
        "(references; flops and latency without --checkpoint)",
    ),
    _key("n_images", int, "test images denoised", SCORED),
    _info("n_sources", int, "", ROBUSTNESS, "distinct photographs the images come from"),
    _info(
        "n_nonfinite",
        int,
        "images",
        SCORED,
        "images with a non-finite PSNR, SSIM or LPIPS (NaN output; PSNR inf for an exact copy): left out of "
        "the row's means, stds, CIs and paired differences; all of them: status error",
    ),
    _info("t_start", int, "", SCORED, "the matched start step t*"),
    _metric("psnr_db_mean", float, "dB", SCORED, "mean PSNR (data range 1)", "higher"),
    _info("psnr_db_std", float, "dB", SCORED, "standard deviation over images"),
    _info("psnr_db_ci95", float, "dB", SCORED, "95% CI half-width of the mean"),
    _metric("ssim_mean", float, "", SCORED, "mean SSIM", "higher"),
    _info("ssim_std", float, "", SCORED, "standard deviation over images"),
    _info("ssim_ci95", float, "", SCORED, "95% CI half-width of the mean"),
    _info("psnr_db_diff_mean", float, "dB", ROBUSTNESS, "paired per-image PSNR difference to the 1st model"),
    _info("psnr_db_diff_std", float, "dB", ROBUSTNESS, "its standard deviation"),
    _info("psnr_db_diff_ci95", float, "dB", ROBUSTNESS, "its 95% CI half-width"),
    _info("ssim_diff_mean", float, "", ROBUSTNESS, "paired per-image SSIM difference to the first model"),
    _info("ssim_diff_std", float, "", ROBUSTNESS, "its standard deviation"),
    _info("ssim_diff_ci95", float, "", ROBUSTNESS, "its 95% CI half-width"),
    # -- robustness: LPIPS (lpips package, v0.1 calibration), when its backbone weights are there
    _info("lpips_net", str, "", SCORED, "LPIPS backbone: alex or vgg (torchvision ImageNet weights)"),
    _metric("lpips_mean", float, "", SCORED, "mean LPIPS distance to the clean image"),
    _info("lpips_std", float, "", SCORED, "standard deviation over images"),
    _info("lpips_ci95", float, "", SCORED, "95% CI half-width of the mean"),
    _info("lpips_diff_mean", float, "", ROBUSTNESS, "paired per-image LPIPS difference to the first model"),
    _info("lpips_diff_std", float, "", ROBUSTNESS, "its standard deviation"),
    _info("lpips_diff_ci95", float, "", ROBUSTNESS, "its 95% CI half-width"),
    _metric(
        "nfe_total",
        int,
        "evaluations",
        ROBUSTNESS,
        "ODE evaluations over the whole denoising of a batch "
        "(adaptive solvers: the mean over batches; empty when compiled)",
        exact=True,
    ),
    _info("denoiser_calls", int, "", SCORED, "denoiser calls from t* to 0"),
    _metric("denoise_s_per_image", float, "s", ROBUSTNESS, "wall time per image"),
    _info("training_steps", int, "", ROBUSTNESS + SAMPLE + TRAIN, "optimizer steps of the checkpoint"),
    # -- train: the curve rows, one per evaluation and sigma
    _info("images_seen", int, "images", TRAIN, "training images seen so far (steps x global batch)"),
    _info("train_tmacs", float, "TMACs", TRAIN, "training compute so far: 3 x forward MACs x images seen"),
    _info("wall_s", float, "s", TRAIN, "training wall time so far, resumed runs included"),
    _info("loss_mean", float, "", TRAIN, "mean training loss since the previous row's step"),
    _info("lr", float, "", TRAIN, "learning rate"),
    _metric("images_per_s", float, "images/s", TRAIN, "training images per second since then", "higher"),
    # -- sample
    _key("seeds", str, "seeds sampled, one image each, e.g. 0-49999", SAMPLE),
    _info("n_seeds", int, "images", SAMPLE + BENCHMARK, "images generated"),
    _metric(
        "sample_s_per_image",
        float,
        "s",
        SAMPLE + BENCHMARK,
        "wall time of the reverse process per image (no file writing); under torchrun the slowest rank's "
        "time over all images",
    ),
    _info("out_dir", str, "", SAMPLE, "folder of the PNG files (<seed>.png) and grid.png"),
    _info(
        "world_size", int, "processes", SCORED + SAMPLE + FID + BENCHMARK, "torchrun's processes (1: none)"
    ),
    # -- fid (pytorch-fid's Inception and Frechet distance; KID with --kid)
    _key("fid_dims", int, "Inception features compared: 2048 (pool3, the standard), 768, 192 or 64", FID),
    _metric("fid", float, "", FID, "Frechet Inception distance between A and B"),
    _metric(
        "kid_mean", float, "", FID, "kernel Inception distance (unbiased polynomial MMD^2), mean over subsets"
    ),
    _info("kid_std", float, "", FID, "its standard deviation over the subsets"),
    _info("kid_subsets", int, "", FID, "random subset pairs KID averages over"),
    _info("kid_subset_size", int, "images", FID, "images per subset (at most the smaller set)"),
    _info("n_a", int, "images", FID, "images of A (empty for an .npz)"),
    _info("n_b", int, "images", FID, "images of B (empty for an .npz)"),
    _key("input_a", str, "A: an image folder or an .npz of mu and sigma", FID),
    _key("input_b", str, "B: an image folder or an .npz of mu and sigma", FID),
    _info(
        "inception_weights", str, "", FID, "PATH@sha256:HEX of the Inception weights (empty: two .npz files)"
    ),
    # -- profile: one row per model and operator category
    _key("category", str, "operator category, e.g. convolution, activation Softplus", PROFILE),
    _info("category_ms", float, "ms", PROFILE, "time per call in its operators (see profile_time_source)"),
    _info(
        "category_time_share",
        float,
        "fraction",
        PROFILE,
        "category_ms over the sum of the model's categories",
    ),
    _info("category_op_calls", float, "", PROFILE, "operator (or kernel) invocations per call"),
    _info("category_flops", int, "FLOPs", PROFILE, "per call (eager model; convolutions, matmuls)"),
    _info("category_flops_share", float, "fraction", PROFILE, "of the call's FLOPs"),
    _info("category_bytes", int, "bytes", PROFILE, "per call, unfused (ops read inputs, write outputs)"),
    _info("category_bytes_share", float, "fraction", PROFILE, "of the call's unfused bytes"),
    _info("category_top_ops", str, "ms", PROFILE, "the category's operators with most time, ;-separated"),
    _info("profile_call_ms", float, "ms", PROFILE, "wall-clock time per profiled call (profiler on)"),
    _info("profile_calls", int, "", PROFILE, "calls profiled after warm-up"),
    _info("profile_time_source", str, "", PROFILE, "self CPU time of operators, or CUDA kernel time"),
    _info("profile_unattributed", str, "", PROFILE, "profiled names put in category other"),
    # -- suites
    _info("suite", str, "", ("suite",), "suite name"),
    _info("suite_item", str, "", ("suite",), "stable id of what the item measures"),
    _key("suite_options", str, "the item's options as JSON", ("suite",)),
    _info("suite_note", str, "", ("suite",), "the table's note"),
    # -- benchmark scripts (benchmarks/*.py): rows of command "benchmark", one per case measured
    _key("benchmark", str, "the script that made the row, benchmarks/NAME.py", BENCHMARK),
    _key(
        "case", str, "what the row measured: a command line, a comparison, an arm of an experiment", BENCHMARK
    ),
    _info("bench_mode", str, "", BENCHMARK, "the benchmark's mode label"),
    _info("bench_run", int, "", BENCHMARK, "which of the benchmark's runs"),
    _metric("wall_s_median", float, "s", BENCHMARK, "median wall-clock time of one run of the case"),
    _info("wall_s_min", float, "s", BENCHMARK, "the fastest run"),
    _info("n_runs", int, "", BENCHMARK, "runs (fresh processes or rounds) behind the row's statistics"),
    _metric("peak_rss_mib", float, "MiB", BENCHMARK, "largest peak resident memory of one run's process"),
    _info("reference_ms_median", float, "ms", BENCHMARK, "the same call timed by torch.utils.benchmark"),
    _info("ratio", float, "", BENCHMARK, "the case's ratio: ode-u / lucid-unet time, or mubench / reference"),
    _metric("ratio_spread", float, "", BENCHMARK, "(max - min) / median of the per-process ratios"),
    _info("target", float, "", BENCHMARK, "the figure the benchmark aims for, in the gated column's unit"),
    _info("within_target", bool, "", BENCHMARK, "whether the row meets its target"),
)
BY_NAME = {c.name: c for c in COLUMNS}
assert len(BY_NAME) == len(COLUMNS), "a column is declared twice"

KEY_COLUMNS = tuple(c.name for c in COLUMNS[:16])  # every row starts with these, in this order
ENV_COLUMNS = ("torch_version", "cuda_version", "cudnn_version", "driver_version", "device_name",
               "num_threads", "git_commit", "git_dirty")  # fmt: skip
INTEGER_COLUMNS = tuple(c.name for c in COLUMNS if c.type is int)
BOOLEAN_COLUMNS = tuple(c.name for c in COLUMNS if c.type is bool)
JOIN_KEYS = tuple(c.name for c in COLUMNS if c.key)
EXACT_METRICS = tuple(c.name for c in COLUMNS if c.exact)
# The metrics compare checks, per command that owns them (a metric may belong to several).
OWNERS = {cmd: tuple(c.name for c in COLUMNS if c.better and cmd in c.owners) for cmd in (*ALL, *BENCHMARK)}
HIGHER_IS_BETTER = tuple(c.name for c in COLUMNS if c.better == "higher")


def undeclared(columns: list[str]) -> list[str]:
    """The names among ``columns`` that this schema does not declare."""
    return [name for name in columns if name not in BY_NAME]


def markdown_table() -> str:
    """Every column as a Markdown table: name, type, unit, rows that fill it, notes."""
    lines = ["| column | type | unit | rows | notes |", "|---|---|---|---|---|"]
    for c in COLUMNS:
        notes = [c.doc]
        if c.key:
            notes.append("join key")
        if c.exact:
            notes.append("exact count (CI gate)")
        if c.better:
            notes.append(f"{c.better} is better")
        owners = "all" if c.owners == ALL else ", ".join(c.owners)
        lines.append(f"| `{c.name}` | {c.type.__name__} | {c.unit} | {owners} | {'; '.join(notes)} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(markdown_table())
