"""The built-in models' specs: what mubench knows of each before building it, and the factory that builds
it, named as an entry point's value ("module:function", imported on first build). Torch-free: the
registry, `mubench models`, the report and every `--help` read these without importing a model.
"""

from __future__ import annotations

from dataclasses import fields

from mubench.models.solver_config import SolverConfig
from mubench.models.spec import ModelSpec, tiny_pair_weights

_SOURCE_REF = "Sergio20f/cDDPM (the authors' released cU-Net), arXiv 2310.20092"
_SOURCE_PAPER = "arXiv 2310.20092, as the paper describes the cU-Net"
# The ODE blocks' solver as the released code runs it: SolverConfig's defaults (read, not constructed:
# constructing one checks the method against torchdiffeq).
_SOLVER_DEFAULTS = {field.name: field.default for field in fields(SolverConfig)}

SPECS: tuple[ModelSpec, ...] = (
    ModelSpec(
        "ddpm-unet",
        "mubench.models.ddpm_unet:ddpm_unet",
        family="unet",
        description="DDPM U-Net, CIFAR-10 configuration (35.7M parameters, eps prediction)",
        source="Ho et al. 2020, arXiv 2006.11239 (CIFAR-10 config)",
        resolution=32,
        channels=3,
        resolution_multiple=8,
        expected_params=35_746_307,
        prediction="eps",
        schedule="linear",
        paper_macs=None,
    ),
    ModelSpec(
        "ddpm-unet-tiny",
        "mubench.models.ddpm_unet:ddpm_unet_tiny",
        family="unet",
        description="Small DDPM U-Net for quick checks (ch 32, three levels, one block per level)",
        source="Ho et al. 2020, arXiv 2006.11239 (reduced)",
        resolution=32,
        channels=3,
        resolution_multiple=4,
        expected_params=1_113_955,
        prediction="eps",
        schedule="linear",
        paper_macs=None,
    ),
    ModelSpec(
        "lucid-unet",
        "mubench.models.lucid_unet:lucid_unet",
        family="unet",
        description=(
            "denoising-diffusion-pytorch U-Net, the paper's baseline (35.7M parameters, v prediction)"
        ),
        source=(
            "denoising-diffusion-pytorch 1.8.3 Unet(dim=64, dim_mults=(1,2,4,8)), as trained in arXiv "
            "2310.20092"
        ),
        resolution=64,
        channels=3,
        resolution_multiple=8,
        expected_params=35_710_339,
        prediction="v",
        schedule="sigmoid",
        paper_macs=7_206_256_640,
        paper_role="baseline",
    ),
    ModelSpec(
        "lucid-unet-tiny",
        "mubench.models.lucid_unet:lucid_unet_tiny",
        family="unet",
        description="Small denoising-diffusion-pytorch U-Net for quick checks (dim 16, three stages)",
        source="denoising-diffusion-pytorch 1.8.3 Unet(dim=16, dim_mults=(1,2,4)) (reduced)",
        resolution=32,
        channels=3,
        resolution_multiple=4,
        expected_params=655_171,
        prediction="v",
        schedule="sigmoid",
        paper_macs=None,
        weights=(tiny_pair_weights("weights/lucid-unet-tiny.safetensors", final_loss=0.09225079894065857),),
    ),
    ModelSpec(
        "ode-u",
        "mubench.models.ode_unet:ode_u",
        family="ode-unet",
        description="Continuous U-Net as the paper describes it: t-conditioned ODE blocks, GroupNorm",
        source=_SOURCE_PAPER,
        resolution=64,
        resolution_multiple=16,
        expected_params=9_449_955,
        solver=_SOLVER_DEFAULTS,
        prediction="v",
        schedule="sigmoid",
        paper_role="candidate",
    ),
    ModelSpec(
        "ode-u-ref",
        "mubench.models.ode_unet:ode_u_ref",
        family="ode-unet",
        description="The authors' released cU-Net as it is: not conditioned on t, frozen unused table",
        source=_SOURCE_REF,
        resolution=64,
        resolution_multiple=16,
        min_resolution=32,
        expected_params=8_811_875,
        expected_trainable=8_555_875,
        solver=_SOLVER_DEFAULTS,
        prediction="v",
        schedule="sigmoid",
        paper_macs=2_830_983_168,
    ),
    ModelSpec(
        "ode-u-tiny",
        "mubench.models.ode_unet:ode_u_tiny",
        family="ode-unet",
        description="Small ode-u (widths 8-64, 3 levels) for CPU tests and training",
        source=_SOURCE_PAPER,
        resolution=32,
        resolution_multiple=8,
        expected_params=169_899,
        solver=_SOLVER_DEFAULTS,
        prediction="v",
        schedule="sigmoid",
        weights=(tiny_pair_weights("weights/ode-u-tiny.safetensors", final_loss=0.16401293963193894),),
    ),
    ModelSpec(
        "ode-u-ref-tiny",
        "mubench.models.ode_unet:ode_u_ref_tiny",
        family="ode-unet",
        description="Small ode-u-ref (widths 8-64, 3 levels) for CPU tests",
        source=_SOURCE_REF,
        resolution=32,
        resolution_multiple=8,
        min_resolution=16,
        expected_params=201_995,
        expected_trainable=137_995,
        solver=_SOLVER_DEFAULTS,
        prediction="v",
        schedule="sigmoid",
    ),
)
