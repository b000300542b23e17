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
ALL = ("params", "flops", "latency", "robustness", "profile", "sample", "fid")


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


P, F, L, R, S, Q = ("params",), ("flops",), ("latency",), ("robustness",), ("sample",), ("fid",)
LR = ("latency", "robustness")
B = ("benchmark",)
PR = ("profile",)
LP = ("latency", "profile")
COLUMNS: tuple[Column, ...] = (
    # -- keys and bookkeeping, in every row, in this order
    _key("command", str, "params, flops, latency, robustness, profile, sample or fid"),
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
        "params_total", int, "elements", P, "every parameter, shared ones once (flops rows too)", exact=True
    ),
    _metric("params_trainable", int, "elements", P, "parameters with requires_grad", exact=True),
    _metric("params_frozen", int, "elements", P, "parameters without requires_grad", exact=True),
    _metric("buffers_total", int, "elements", P, "registered buffers (not parameters)", exact=True),
    _info("params_expected", int, "elements", P, "the registry's stated count"),
    _info("params_vs_first", float, "fraction", P, "params_total over the first model's"),
    # -- flops
    _key("counter", str, "fvcore or torch", F),
    _key("tier", str, "matmul, or all (norms, resampling, elementwise too)", F),
    _metric("macs", int, "MACs", F, "multiply-accumulates of one call on the batch", exact=True),
    _metric("flops", int, "FLOPs", F, "2 x macs (+ elementwise_ops in tier all)"),
    _info("macs_conv", int, "MACs", F, "of convolutions"),
    _info("macs_linear", int, "MACs", F, "of linear layers"),
    _info("macs_attention", int, "MACs", F, "of attention matmuls"),
    _info("macs_other", int, "MACs", F, "of other matmuls"),
    _metric("elementwise_ops", int, "ops", F, "tier all: norm, resampling and elementwise ops"),
    _metric("nfe", int, "evaluations", F + L, "ODE-function evaluations per call", exact=True),
    _info("nfe_min", int, "evaluations", F, "adaptive solvers: fewest over sampled inputs"),
    _info("nfe_median", float, "evaluations", F, "adaptive solvers: median over sampled inputs"),
    _info("nfe_max", int, "evaluations", F, "adaptive solvers: most over sampled inputs"),
    _info("nfe_per_block", str, "evaluations", F, "per ODE block"),
    _info(
        "solver_default", bool, "", F, "the solver is the model's own (the paper's); true without ODE blocks"
    ),
    _metric(
        "nfe_per_trajectory", int, "evaluations", F + L + S, "over a trajectory of steps calls", exact=True
    ),
    _metric("macs_per_trajectory", int, "MACs", F, "macs x steps", exact=True),
    _metric("flops_per_trajectory", int, "FLOPs", F, "flops x steps"),
    _info("coverage", float, "fraction", F, "share of counted op invocations fvcore could count"),
    _info("unsupported_ops", str, "", F, "ops fvcore could not count"),
    _info("xcheck_ratio", float, "fraction", F, "torch FLOPs / (2 x fvcore MACs) over ops both count"),
    _info("paper_macs", int, "MACs", F, "the paper authors' own count, where known"),
    _info("channels", int, "", F, "image channels"),
    # -- latency: mode
    _key("mode", str, "inference mode, e.g. compile+channels_last", LP),
    _info("compile", bool, "", LP, "torch.compile"),
    _info("compile_options", str, "", LP, "inductor settings given"),
    _info("channels_last", bool, "", LP, "channels-last memory format"),
    _info("cuda_graphs", bool, "", L, "calls replayed from a CUDA graph"),
    _info("prepack", bool, "", LP, "convolutions prepacked for oneDNN"),
    _info("tf32", bool, "", LP, "TF32 allowed"),
    _info("cudnn_benchmark", bool, "", LP, "cuDNN autotuning"),
    _info("matmul_precision", str, "", LP, "torch float32 matmul precision"),
    # -- latency: per call
    _metric("call_ms_median", float, "ms", L, "median time of one denoiser call"),
    _metric("call_ms_p10", float, "ms", L, "10th percentile"),
    _metric("call_ms_p90", float, "ms", L, "90th percentile"),
    _metric("call_ms_iqr", float, "ms", L, "interquartile range"),
    _metric("call_ms_mean", float, "ms", L, "mean"),
    _metric("call_ms_std", float, "ms", L, "standard deviation"),
    _metric("call_ms_min", float, "ms", L, "fastest sample"),
    _info("call_ms_unstable", bool, "", L, "IQR / median > 0.10"),
    _info("n_calls", int, "", L, "calls timed"),
    _info("n_samples", int, "", L, "samples timed"),
    _info("calls_per_sample", int, "", L, "back-to-back calls per sample"),
    _info("warmup_iters", int, "", L, "warm-up calls"),
    _info("warmup_stable", bool, "", L, "warm-up settled within 5%"),
    # -- latency: per trajectory
    _metric("trajectory_s_median", float, "s", L, "median time of a whole reverse trajectory"),
    _metric("trajectory_s_p10", float, "s", L, "10th percentile"),
    _metric("trajectory_s_p90", float, "s", L, "90th percentile"),
    _info("trajectory_s_iqr", float, "s", L, "interquartile range"),
    _metric("trajectory_s_mean", float, "s", L, "mean"),
    _info("trajectory_s_std", float, "s", L, "standard deviation"),
    _metric("trajectory_s_min", float, "s", L, "fastest trajectory"),
    _info("trajectory_s_unstable", bool, "", L, "IQR / median > 0.10"),
    _info("n_trajectories", int, "", L, "trajectories timed"),
    _info("trajectory_denoiser_calls", int, "", L, "denoiser calls per trajectory"),
    # -- latency: cost, rate, memory, agreement
    _info("flops_per_call", int, "FLOPs", L, "torch's count of one call, on the device"),
    _info("macs_per_call", int, "MACs", L, "flops_per_call / 2"),
    _metric("achieved_gflops", float, "GFLOP/s", L, "flops_per_call over call_ms_median", "higher"),
    _info("device_matmul_gflops", float, "GFLOP/s", L, "measured peak in the dtype: best matmul or conv"),
    _metric("achieved_share", float, "fraction", L, "achieved_gflops / device_matmul_gflops", "higher"),
    _metric("peak_mem_mib", float, "MiB", L, "CUDA peak allocated in a warm call; empty on the CPU"),
    _info("max_rel_err_vs_eager_fp32", float, "fraction", L, "max |out - eager fp32| / max |eager fp32|"),
    _info("agrees_with_eager_fp32", bool, "", L, "within agreement_tolerance"),
    _info("agreement_tolerance", float, "fraction", L, "1e-4 fp32, 1e-2 fp16, 5e-2 bf16"),
    _info("baseline", str, "", LR, "the first model, which ratios and paired differences refer to"),
    _metric("call_ms_vs_first", float, "fraction", L, "call_ms_median over the first model's"),
    _info("macs_vs_first", float, "fraction", L, "macs_per_call over the first model's"),
    _info("trajectory_s_vs_first", float, "fraction", L, "trajectory_s_median over the first model's"),
    _metric("latency_over_macs_ratio", float, "fraction", L, "call_ms_vs_first / macs_vs_first"),
    # -- bytes moved, memory and the roofline (flops and latency rows)
    _info("bytes_min", int, "bytes", F, "weights, input and output once: a call's compulsory traffic"),
    _info("bytes_unfused", int, "bytes", F + L, "every aten op reads its inputs, writes its outputs"),
    _info("arithmetic_intensity_min", float, "FLOPs/byte", F, "flops / bytes_min"),
    _info("arithmetic_intensity_unfused", float, "FLOPs/byte", F, "flops / bytes_unfused"),
    _info("weights_mib", float, "MiB", F + L, "parameters and buffers"),
    _metric("peak_activation_mib", float, "MiB", F + L, "peak live tensor bytes of one eager call"),
    _info("device_bandwidth_gbps", float, "GB/s", L, "measured memory bandwidth: best of copy, triad"),
    _info("bandwidth_array_mib", float, "MiB", L, "each array of that test (>= last-level cache)"),
    _info("device_peak_kernel", str, "", L, "the kernel that gave device_matmul_gflops"),
    _info("device_rates_s", float, "s", L, "what measuring the peak rate and bandwidth cost"),
    _info("roofline_ms", float, "ms", L, "sum over aten ops of max(FLOPs / peak, bytes / bandwidth)"),
    _info("latency_over_roofline", float, "fraction", L, "call_ms_median / roofline_ms"),
    _info("roofline_vs_first", float, "fraction", L, "roofline_ms over the first model's"),
    # -- latency: process independence and the machine
    _info("processes", int, "", L, "fresh worker processes measured"),
    _info("processes_ok", int, "", L, "workers that gave figures"),
    _info("call_ms_process_medians", str, "ms", L, "each worker's median, ;-separated"),
    _info("call_ms_process_spread", float, "fraction", L, "(max - min) / median of the workers' medians"),
    _info("trajectory_s_process_medians", str, "s", L, "each worker's median, ;-separated"),
    _info("trajectory_s_process_spread", float, "fraction", L, "(max - min) / median of those medians"),
    _info("prefault", bool, "", (*LR, "profile"), "loaded libraries' pages made resident before timing"),
    _info("prefault_s", float, "s", (*LR, "profile"), "time spent pre-faulting, all passes"),
    _info("prefault_mib", float, "MiB", LP, "library pages made resident"),
    _info("prefault_method", str, "", LP, "madvise or touch"),
    _info("cpu_busy_other_cores", float, "cores", L, "CPU used by other processes as timing began"),
    _info("loadavg_1min", float, "", L, "load average as timing began"),
    _info("cpu_governor", str, "", L, "cpufreq governor, where shown"),
    _info("cpu_boost", str, "", L, "turbo / boost on or off, where shown"),
    # -- robustness
    _key("sigma", float, "pixel noise in [0, 1] units", R),
    _key("dataset", str, "test images", R),
    _info(
        "checkpoint",
        str,
        "",
        ("flops", "latency", "robustness", "sample", "fid"),
        "weights used: a mubench file, FORMAT:PATH@sha256:HEX for another library's, untrained, or none "
        "(references; flops and latency without --checkpoint)",
    ),
    _key("n_images", int, "test images denoised", R),
    _info("n_sources", int, "", R, "distinct photographs the images come from"),
    _info(
        "n_nonfinite",
        int,
        "images",
        R,
        "images with a non-finite PSNR, SSIM or LPIPS (NaN output; PSNR inf for an exact copy): left out of "
        "the row's means, stds, CIs and paired differences; all of them: status error",
    ),
    _info("t_start", int, "", R, "the matched start step t*"),
    _metric("psnr_db_mean", float, "dB", R, "mean PSNR (data range 1)", "higher"),
    _info("psnr_db_std", float, "dB", R, "standard deviation over images"),
    _info("psnr_db_ci95", float, "dB", R, "95% CI half-width of the mean"),
    _metric("ssim_mean", float, "", R, "mean SSIM", "higher"),
    _info("ssim_std", float, "", R, "standard deviation over images"),
    _info("ssim_ci95", float, "", R, "95% CI half-width of the mean"),
    _info("psnr_db_diff_mean", float, "dB", R, "paired per-image PSNR difference to the first model"),
    _info("psnr_db_diff_std", float, "dB", R, "its standard deviation"),
    _info("psnr_db_diff_ci95", float, "dB", R, "its 95% CI half-width"),
    _info("ssim_diff_mean", float, "", R, "paired per-image SSIM difference to the first model"),
    _info("ssim_diff_std", float, "", R, "its standard deviation"),
    _info("ssim_diff_ci95", float, "", R, "its 95% CI half-width"),
    # -- robustness: LPIPS (lpips package, v0.1 calibration), when its backbone weights are there
    _info("lpips_net", str, "", R, "LPIPS backbone: alex or vgg (torchvision ImageNet weights)"),
    _metric("lpips_mean", float, "", R, "mean LPIPS distance to the clean image"),
    _info("lpips_std", float, "", R, "standard deviation over images"),
    _info("lpips_ci95", float, "", R, "95% CI half-width of the mean"),
    _info("lpips_diff_mean", float, "", R, "paired per-image LPIPS difference to the first model"),
    _info("lpips_diff_std", float, "", R, "its standard deviation"),
    _info("lpips_diff_ci95", float, "", R, "its 95% CI half-width"),
    _metric("nfe_total", int, "evaluations", R, "ODE evaluations over the whole denoising", exact=True),
    _info("denoiser_calls", int, "", R, "denoiser calls from t* to 0"),
    _metric("denoise_s_per_image", float, "s", R, "wall time per image"),
    _info("training_steps", int, "", R + S, "optimizer steps of the checkpoint"),
    # -- sample
    _key("seeds", str, "seeds sampled, one image each, e.g. 0-49999", S),
    _info("n_seeds", int, "images", S + B, "images generated"),
    _metric(
        "sample_s_per_image",
        float,
        "s",
        S + B,
        "wall time of the reverse process per image (no file writing); under torchrun the slowest rank's "
        "time over all images",
    ),
    _info("out_dir", str, "", S, "folder of the PNG files (<seed>.png) and grid.png"),
    _info(
        "world_size",
        int,
        "processes",
        R + S + Q + B,
        "processes that shared the work under torchrun (1 without)",
    ),
    # -- fid (pytorch-fid's Inception and Frechet distance; KID with --kid)
    _key("fid_dims", int, "Inception features compared: 2048 (pool3, the standard), 768, 192 or 64", Q),
    _metric("fid", float, "", Q, "Frechet Inception distance between A and B"),
    _metric(
        "kid_mean", float, "", Q, "kernel Inception distance (unbiased polynomial MMD^2), mean over subsets"
    ),
    _info("kid_std", float, "", Q, "its standard deviation over the subsets"),
    _info("kid_subsets", int, "", Q, "random subset pairs KID averages over"),
    _info("kid_subset_size", int, "images", Q, "images per subset (at most the smaller set)"),
    _info("n_a", int, "images", Q, "images of A (empty for an .npz)"),
    _info("n_b", int, "images", Q, "images of B (empty for an .npz)"),
    _key("input_a", str, "A: an image folder or an .npz of mu and sigma", Q),
    _key("input_b", str, "B: an image folder or an .npz of mu and sigma", Q),
    _info(
        "inception_weights", str, "", Q, "PATH@sha256:HEX of the Inception weights (empty: two .npz files)"
    ),
    # -- profile: one row per model and operator category
    _key("category", str, "operator category, e.g. convolution, activation Softplus", PR),
    _info("category_ms", float, "ms", PR, "time per call in its operators (see profile_time_source)"),
    _info("category_time_share", float, "fraction", PR, "category_ms over the sum of the model's categories"),
    _info("category_op_calls", float, "", PR, "operator (or kernel) invocations per call"),
    _info("category_flops", int, "FLOPs", PR, "per call (eager model; convolutions, matmuls)"),
    _info("category_flops_share", float, "fraction", PR, "of the call's FLOPs"),
    _info("category_bytes", int, "bytes", PR, "per call, unfused (each op reads inputs, writes outputs)"),
    _info("category_bytes_share", float, "fraction", PR, "of the call's unfused bytes"),
    _info("category_top_ops", str, "ms", PR, "the category's operators with most time, ;-separated"),
    _info("profile_call_ms", float, "ms", PR, "wall-clock time per profiled call (profiler on)"),
    _info("profile_calls", int, "", PR, "calls profiled after warm-up"),
    _info("profile_time_source", str, "", PR, "self CPU time of operators, or CUDA kernel time"),
    _info("profile_unattributed", str, "", PR, "profiled names put in category other"),
    # -- suites
    _info("suite", str, "", ("suite",), "suite name"),
    _info("suite_item", str, "", ("suite",), "stable id of what the item measures"),
    _key("suite_options", str, "the item's options as JSON", ("suite",)),
    _info("suite_note", str, "", ("suite",), "the table's note"),
    # -- benchmark scripts (benchmarks/*.py): rows of command "benchmark", one per case measured
    _key("benchmark", str, "the script that made the row, benchmarks/NAME.py", B),
    _key("case", str, "what the row measured: a command line, a comparison, an arm of an experiment", B),
    _info("bench_mode", str, "", B, "the benchmark's mode label"),
    _info("bench_run", int, "", B, "which of the benchmark's runs"),
    _metric("wall_s_median", float, "s", B, "median wall-clock time of one run of the case"),
    _info("wall_s_min", float, "s", B, "the fastest run"),
    _info("n_runs", int, "", B, "runs (fresh processes or rounds) behind the row's statistics"),
    _metric("peak_rss_mib", float, "MiB", B, "largest peak resident memory of one run's process"),
    _info("reference_ms_median", float, "ms", B, "the same call timed by torch.utils.benchmark"),
    _info("ratio", float, "", B, "the case's ratio: ode-u / lucid-unet time, or mubench / reference"),
    _metric("ratio_spread", float, "", B, "(max - min) / median of the per-process ratios"),
    _info("target", float, "", B, "the figure the benchmark aims for, in the gated column's unit"),
    _info("within_target", bool, "", B, "whether the row meets its target"),
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
OWNERS = {cmd: tuple(c.name for c in COLUMNS if c.better and cmd in c.owners) for cmd in (*ALL, *B)}
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
