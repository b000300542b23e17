"""What a checkpoint is: its container (folder, Trainer dict, plain state dict) and the network its tensor
names belong to, told from the names alone."""

from __future__ import annotations

from collections.abc import Iterable

# Network -> tensor names that only it has.
SIGNATURES: dict[str, tuple[str, ...]] = {
    "diffusers-unet2d": ("conv_in.weight", "time_embedding.linear_1.weight", "conv_norm_out.weight"),
    "ddp-unet": ("init_conv.weight", "time_mlp.1.weight", "final_conv.weight"),
    "cunet": ("initial_velocity.conv1.weight", "odeblock_down1.odefunc.conv1.weight", "classifier.weight"),
    "mubench-ddpm": ("enc.conv_in.weight", "map_layer0.weight", "norm_out.weight"),
    "mubench-lucid": ("conv_in.weight", "map_layer0.weight", "enc.0.conv0.weight"),
    "mubench-ode": ("initial_velocity.1.weight", "down_blocks.0.func.conv1.weight", "head.weight"),
}
DESCRIPTIONS = {
    "diffusers-unet2d": "a diffusers UNet2DModel",
    "diffusers-unet2d-condition": "a diffusers UNet2DConditionModel (text-conditioned)",
    "ddp-unet": "a denoising-diffusion-pytorch Unet",
    "cunet": "the authors' cU-Net (ConvSODEUNet)",
    "mubench-ddpm": "mubench's DDPM U-Net (ddpm-unet family)",
    "mubench-lucid": "mubench's denoising-diffusion-pytorch U-Net (lucid-unet family)",
    "mubench-ode": "mubench's continuous U-Net (ode-u family)",
}
# The mubench network class each foreign network maps onto, and the registry family it serves.
TARGET_CLASS = {"diffusers-unet2d": "DDPMUNet", "ddp-unet": "LucidUNet", "cunet": "ContinuousUNet"}


def network_of(names: Iterable[str]) -> str | None:
    """The network whose tensor names these are (a key of :data:`DESCRIPTIONS`), or None."""
    names = set(names)
    if any(".transformer_blocks." in n for n in names) and "conv_in.weight" in names:
        return "diffusers-unet2d-condition"
    # Most of a signature (not all: a damaged file may lack one of them), the network with most found.
    found = {network: sum(n in names for n in signature) for network, signature in SIGNATURES.items()}
    best = max(found, key=found.__getitem__)
    return best if found[best] >= 2 else None


def describe(names: Iterable[str]) -> str:
    """What the tensor names look like, for a message."""
    names = sorted(names)
    network = network_of(names)
    if network is not None:
        return DESCRIPTIONS[network]
    shown = ", ".join(names[:3]) + (", ..." if len(names) > 3 else "")
    return f"an unknown network ({len(names)} tensors: {shown})" if names else "no tensors at all"
