"""Built-in denoisers; importing this package registers them."""

from mubench.models import ddpm_unet, lucid_unet, ode_unet  # noqa: F401
