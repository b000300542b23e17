"""`mubench robustness`: denoising quality at matched noise levels, with reference rows."""

from __future__ import annotations

from mubench.cli.common import (
    check_outputs,
    console,
    err_console,
    finish,
    progress,
    save_partial,
)
from mubench.cli.measurement_command import CommandCall, measurement_command
from mubench.cli.render import Column, table
from mubench.defaults import SHIPPED_PAIR
from mubench.errors import MubenchError
from mubench.formatting import fixed, integer, text
from mubench.formatting import weights as weights_cell

ROBUSTNESS_DETAIL = ("t_start", "checkpoint")  # shown with --wide: the start step, the weights' file


@measurement_command("robustness", SHIPPED_PAIR, wide=True)
def robustness(call: CommandCall) -> None:
    """Denoise test images with pixel noise sigma; PSNR, SSIM and LPIPS with 95% confidence intervals.

    Each model starts the reverse process at the step t* whose noise matches sigma and runs to 0.
    The table includes the noisy input itself (identity) and classical denoisers as reference rows.
    With no --model: the tiny comparison pair with the checkpoints mubench ships (trained on patches32).
    A model without weights is refused unless --allow-untrained (its rows are marked untrained).
    Models run on --device, --batch-size images per call (an image's score does not depend on it),
    in fp32 or under fp16 / bf16 autocast; the reference denoisers run on the CPU.

    Examples:

        mubench robustness --sigma 0.1

        mubench robustness --sigma 0.1 -m ode-u-tiny --checkpoint ode-u-tiny=my.safetensors

        mubench robustness --sigma 0.05 --sigma 0.1 --sigma 0.2 --reference identity --reference tv

        mubench robustness --sigma 0.2 --metric lpips --lpips-backbone alexnet-owt-7be5be79.pth

        mubench robustness --sigma 0.1 --num-images 320 --device cuda --dtype bf16 --batch-size 64

        torchrun --standalone --nproc-per-node 4 -m mubench robustness --num-images 1000 --device cuda
    """
    from mubench.distributed import is_main
    from mubench.measure.measurements import measurement
    from mubench.measure.robustness.conditions import LPIPS_LEFT_OUT, metric_plan
    from mubench.results import new_run_id, to_frame

    options, csv, json, quiet, wide = call.options, call.csv, call.json, call.quiet, call.wide
    measuring = measurement("robustness")
    names = call.models
    if not call.models_given and is_main():
        err_console.print(
            f"models: {' and '.join(SHIPPED_PAIR)} with the checkpoints mubench ships (--model to change)"
        )
    conds = measuring.conditions(names, options)
    check_outputs(csv, json)
    run_id = new_run_id()
    total = len(conds.sigmas) * (len(conds.references) + len(names) * max(1, len(conds.steps_sweep)))
    with progress(total, "robustness", quiet or not is_main()) as tick:
        rows = measuring.measure(
            names,
            conds,
            run_id,
            tick,
            on_rows=lambda rows: save_partial(to_frame(rows), csv, json),
        ).rows
    if not is_main():  # under torchrun, rank 0 writes and reports
        return
    frame = to_frame(rows)
    columns: list[Column] = [
        ("sigma", "sigma", text),
        ("model", "model", text),
        ("t_start", "t*", integer),
        ("denoiser_calls", "steps", integer),
        ("psnr_db_mean", "PSNR dB", fixed(2)),
        ("psnr_db_ci95", "±95%", fixed(2)),
        ("ssim_mean", "SSIM", fixed(4)),
        ("ssim_ci95", "±95%", fixed(4)),
        ("lpips_mean", "LPIPS", fixed(4)),
        ("lpips_ci95", "±95%", fixed(4)),
        ("psnr_db_diff_mean", "Δ PSNR", fixed(2)),
        ("psnr_db_diff_ci95", "±95%", fixed(2)),
        ("checkpoint", "weights", weights_cell),
    ]
    caption = [
        (None, f"{len(frame) and frame['n_images'].iloc[0]} test images of {conds.dataset}; noise in [0, 1] "
               "pixel units. identity = the noisy input; tv / wavelet / nl-means = scikit-image, given the "
               "true sigma."),
        ("t_start", "t* = the step the reverse process starts from."),
        ("psnr_db_diff_mean", "Δ PSNR = paired per-image difference to the first model (same noisy images), "
                              "with its 95% CI."),
        ("lpips_mean", f"LPIPS ({conds.lpips_net} backbone): lower is better."),
    ]  # fmt: skip
    hide = () if wide else ROBUSTNESS_DETAIL
    console.print(table(frame, columns, title="Denoising quality", caption=caption, hide=hide))
    messages = frame.get("message", [])
    _, lpips_note = metric_plan(conds)
    if lpips_note:  # after the table, where it is seen; its option names as the command line spells them
        note = MubenchError(lpips_note).render("cli")
        err_console.print(f"note: {note}", highlight=False, markup=False, soft_wrap=True)
    size_notes = sorted({n for m in messages for n in str(m).split("; ") if n.startswith(LPIPS_LEFT_OUT)})
    for note in size_notes[:1]:  # the same on every row: said once
        err_console.print(f"note: {note}", highlight=False, markup=False, soft_wrap=True)
    if (frame.get("checkpoint") == "untrained").any():
        err_console.print("note: untrained rows use random weights; they are not robustness results")
    for row in frame.to_dict("records"):  # why a row failed, or left images out
        if row.get("status") != "ok" or row.get("n_nonfinite", 0) > 0:
            label = "note" if row.get("status") == "ok" else row.get("status")
            err_console.print(
                f"{label} ({row['model']}, sigma {row['sigma']:g}): {row['message']}",
                highlight=False,
                markup=False,
                soft_wrap=True,
            )
    finish(frame, csv, json)
