"""Pretrained weights from the ecosystem: each source built with random weights by the real library, saved
in that library's own format, read by mubench, and compared on the same input in float64."""

from __future__ import annotations

import json
import pickle
import warnings
from pathlib import Path

import pandas as pd
import pytest
import torch

from mubench.cli.app import app
from mubench.errors import UsageError
from mubench.registry import get_model
from mubench.sources import checkpoint_label, load_weights
from mubench.sources.files import sha256_of

diffusers = pytest.importorskip("diffusers")
ddp = pytest.importorskip("denoising_diffusion_pytorch")
warnings.filterwarnings("ignore", category=FutureWarning)

RTOL = 1e-5  # diffusers and ddp build the step embedding in float32
# ddpm-unet-tiny as a diffusers UNet2DModel: the DDPM paper's choices, one attention head.
TINY_DIFFUSERS = dict(
    sample_size=32, block_out_channels=(32, 64, 64), layers_per_block=1,
    down_block_types=("DownBlock2D", "AttnDownBlock2D", "DownBlock2D"),
    up_block_types=("UpBlock2D", "AttnUpBlock2D", "UpBlock2D"),
    attention_head_dim=None, norm_eps=1e-6, downsample_padding=0, freq_shift=1, flip_sin_to_cos=False,
)  # fmt: skip


def _relative_error(reference: torch.Tensor, ours: torch.Tensor) -> float:
    return float((reference - ours).abs().max() / reference.abs().max())


def _inputs(resolution: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(1)
    return torch.randn(2, 3, resolution, resolution, generator=gen, dtype=torch.float64), torch.tensor(
        [3, 711]
    )


def _randomise(module: torch.nn.Module, seed: int) -> None:
    """Random weights everywhere (norm gains and biases too), so that a misplaced tensor shows."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(
                torch.randn(p.shape, generator=gen, dtype=p.dtype) * 0.1 + (1 if p.dim() == 1 else 0) * 0.5
            )


@pytest.fixture(scope="module")
def pipeline_folder(tmp_path_factory) -> tuple[Path, torch.nn.Module]:
    """A tiny diffusers pipeline folder (unet/ + scheduler/) with random weights, and its UNet2DModel."""
    root = tmp_path_factory.mktemp("pipeline")
    unet = diffusers.UNet2DModel(**TINY_DIFFUSERS)
    _randomise(unet, 0)
    unet.save_pretrained(root / "unet")
    diffusers.DDPMScheduler(beta_schedule="linear").save_pretrained(root / "scheduler")
    return root, unet.double().eval()


def _ddp_unet(dim: int, mults: tuple[int, ...], dim_head: int) -> torch.nn.Module:
    """denoising-diffusion-pytorch 1.8.3's Unet; its attention layers rebuilt, from the library's own
    classes, with ``dim_head`` channels per head (its constructor fixes 32; lucid-unet-tiny has 16)."""
    from denoising_diffusion_pytorch.denoising_diffusion_pytorch import Attention, LinearAttention

    unet = ddp.Unet(dim=dim, dim_mults=mults, full_attn=tuple(i == len(mults) - 1 for i in range(len(mults))))
    if dim_head != 32:
        for stage in [*unet.downs, *unet.ups]:
            kind = Attention if isinstance(stage[2], Attention) else LinearAttention
            stage[2] = kind(stage[2].norm.g.shape[1], heads=4, dim_head=dim_head)
        unet.mid_attn = Attention(unet.mid_attn.norm.g.shape[1], heads=4, dim_head=dim_head)
    return unet


@pytest.fixture(scope="module")
def trainer_checkpoint(tmp_path_factory) -> tuple[Path, torch.nn.Module]:
    """``model-5.pt`` saved by the library's own Trainer (lucid-unet-tiny's shapes, v objective), its EMA
    copy made different from the raw weights; and the GaussianDiffusion."""
    from PIL import Image

    root = tmp_path_factory.mktemp("trainer")
    (root / "images").mkdir()
    Image.new("RGB", (32, 32)).save(root / "images" / "a.png")
    unet = _ddp_unet(16, (1, 2, 4), dim_head=16)
    _randomise(unet, 1)
    diffusion = ddp.GaussianDiffusion(unet, image_size=32, objective="pred_v")
    trainer = ddp.Trainer(diffusion, str(root / "images"), train_batch_size=1, num_samples=1,
                          results_folder=str(root / "results"), calculate_fid=False)  # fmt: skip
    _randomise(trainer.ema.ema_model, 2)
    trainer.step = 5
    trainer.save(5)
    return root / "results" / "model-5.pt", trainer


# -- diffusers


def test_a_diffusers_pipeline_folder_computes_what_diffusers_computes(pipeline_folder):
    folder, unet = pipeline_folder
    model = get_model("ddpm-unet-tiny").double()
    meta = load_weights(folder, model, "ddpm-unet-tiny")
    x, t = _inputs()
    with torch.no_grad():
        assert _relative_error(unet(x, t).sample, model(x, t)) < RTOL
    assert meta["source_format"] == "diffusers" and meta["prediction"] == "eps"
    weights_file = folder / "unet" / "diffusion_pytorch_model.safetensors"
    assert meta["source_sha256"] == sha256_of(weights_file)
    assert meta["label"] == f"diffusers:{folder}@sha256:{sha256_of(weights_file)}"


@pytest.mark.parametrize(
    "config",
    [
        dict(beta_schedule="linear"),
        dict(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012),
        dict(beta_schedule="squaredcos_cap_v2", num_train_timesteps=500),
        dict(beta_schedule="sigmoid"),
        dict(trained_betas=[0.01, 0.02, 0.05]),
    ],
    ids=["linear", "scaled_linear", "squaredcos_cap_v2", "sigmoid", "trained_betas"],
)
def test_the_schedule_is_the_diffusers_schedulers_own(config, tmp_path):
    from mubench.sources.diffusers_folder import read_schedule

    diffusers.DDPMScheduler(**config, prediction_type="v_prediction").save_pretrained(tmp_path)
    read = read_schedule(tmp_path / "scheduler_config.json")
    expected = diffusers.DDPMScheduler.from_pretrained(tmp_path).betas
    assert torch.equal(read["betas"], expected.double())
    assert read["prediction"] == "v"


def test_a_model_folder_and_a_hugging_face_cache_folder_are_read(pipeline_folder, tmp_path):
    """google/ddpm-cifar10-32's layout: config.json, weights and scheduler_config.json in one folder, as
    the Hugging Face cache keeps it (models--ORG--NAME/snapshots/REV, refs/main naming REV)."""
    _, unet = pipeline_folder
    repo = tmp_path / "models--google--ddpm-tiny"
    snapshot = repo / "snapshots" / "abc123"
    unet.float().save_pretrained(snapshot)
    unet.double()
    diffusers.DDPMScheduler().save_pretrained(snapshot)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("abc123")
    for path in (snapshot, repo):
        model = get_model("ddpm-unet-tiny")
        meta = load_weights(path, model, "ddpm-unet-tiny")
        assert meta["schedule"].startswith("linear") and meta["prediction"] == "eps"
    assert checkpoint_label(repo) == meta["label"]


# The DDPM paper's CIFAR-10 model as diffusers publishes it (google/ddpm-cifar10-32's config.json).
DDPM_CIFAR10 = dict(
    sample_size=32, block_out_channels=(128, 256, 256, 256), layers_per_block=2,
    down_block_types=("DownBlock2D", "AttnDownBlock2D", "DownBlock2D", "DownBlock2D"),
    up_block_types=("UpBlock2D", "UpBlock2D", "AttnUpBlock2D", "UpBlock2D"),
    attention_head_dim=None, norm_eps=1e-6, downsample_padding=0, freq_shift=1, flip_sin_to_cos=False,
    act_fn="silu", center_input_sample=False, mid_block_scale_factor=1, norm_num_groups=32,
    time_embedding_type="positional",
)  # fmt: skip


@pytest.mark.slow
def test_the_ddpm_cifar10_configuration_maps_onto_ddpm_unet(tmp_path):
    unet = diffusers.UNet2DModel(**DDPM_CIFAR10)
    _randomise(unet, 5)
    unet.save_pretrained(tmp_path)
    model = get_model("ddpm-unet").double()
    load_weights(tmp_path, model, "ddpm-unet")
    x, t = _inputs(16)
    with torch.no_grad():
        assert _relative_error(unet.double().eval()(x, t).sample, model(x, t)) < RTOL


def test_attention_weights_under_diffusers_older_names_are_read(pipeline_folder, tmp_path):
    """Early diffusers releases saved attention as query / key / value / proj_attn."""
    from safetensors.torch import load_file, save_file

    folder, unet = pipeline_folder
    old = {"to_q": "query", "to_k": "key", "to_v": "value", "to_out.0": "proj_attn"}
    tensors = {}
    for name, tensor in load_file(folder / "unet" / "diffusion_pytorch_model.safetensors").items():
        for new, was in old.items():
            name = name.replace(f".{new}.", f".{was}.")
        tensors[name] = tensor
    assert any(".query." in name for name in tensors)
    save_file(tensors, tmp_path / "diffusion_pytorch_model.safetensors")
    (tmp_path / "config.json").write_text((folder / "unet" / "config.json").read_text())
    model = get_model("ddpm-unet-tiny").double()
    load_weights(tmp_path, model, "ddpm-unet-tiny")
    x, t = _inputs()
    with torch.no_grad():
        assert _relative_error(unet(x, t).sample, model(x, t)) < RTOL


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"attention_head_dim": 8}, "attention_head_dim"),
        ({"norm_eps": 1e-5}, "norm_eps"),
        ({"flip_sin_to_cos": True}, "flip_sin_to_cos"),
        ({"downsample_padding": 1}, "downsample_padding"),
        ({"freq_shift": 0}, "freq_shift"),
        ({"layers_per_block": 2}, "layers_per_block"),
    ],
)
def test_a_config_mubench_cannot_represent_is_refused_naming_the_field(change, field, tmp_path):
    config = {"_class_name": "UNet2DModel", **TINY_DIFFUSERS, **change}
    (tmp_path / "config.json").write_text(json.dumps(config))
    (tmp_path / "diffusion_pytorch_model.safetensors").write_bytes(b"")
    with pytest.raises(UsageError, match=f"{field} = "):
        load_weights(tmp_path, get_model("ddpm-unet-tiny"), "ddpm-unet-tiny")


def test_a_folder_of_another_ddpm_variant_says_which_variant_it_fits(pipeline_folder):
    folder, _ = pipeline_folder
    with pytest.raises(UsageError, match="block_out_channels = .*it fits ddpm-unet-tiny"):
        load_weights(folder, get_model("ddpm-unet"), "ddpm-unet")


# -- denoising-diffusion-pytorch


@pytest.mark.parametrize("weights", ["ema", "raw"])
def test_a_trainer_checkpoint_computes_what_the_library_computes(trainer_checkpoint, weights):
    path, trainer = trainer_checkpoint
    model = get_model("lucid-unet-tiny").double()
    meta = load_weights(path, model, "lucid-unet-tiny", weights=weights)
    source = (trainer.ema.ema_model if weights == "ema" else trainer.model).model
    source = source.double().eval()
    x, t = _inputs()
    with torch.no_grad():
        assert _relative_error(source(x, t.double()), model(x, t)) < RTOL
    assert (meta["source_format"], meta["steps"], meta["prediction"]) == ("ddp-trainer", 5, "v")
    abar = torch.cumprod(1 - meta["betas"], 0)
    assert torch.allclose(abar, trainer.model.alphas_cumprod.double(), rtol=1e-12, atol=0)


def test_the_ema_and_raw_weights_differ(trainer_checkpoint):
    path, _ = trainer_checkpoint
    ema, raw = get_model("lucid-unet-tiny"), get_model("lucid-unet-tiny")
    load_weights(path, ema, "lucid-unet-tiny", weights="ema")
    load_weights(path, raw, "lucid-unet-tiny", weights="raw")
    assert not torch.equal(ema.conv_in.weight, raw.conv_in.weight)


@pytest.mark.parametrize(("objective", "min_snr"), [("pred_v", False), ("pred_noise", False),
                                                     ("pred_x0", False), ("pred_v", True),
                                                     ("pred_noise", True)])  # fmt: skip
def test_the_objective_is_read_from_the_loss_weight(objective, min_snr):
    from mubench.sources.ddp_trainer import objective as read_objective

    unet = ddp.Unet(dim=8, dim_mults=(1, 2), full_attn=(False, True))
    diffusion = ddp.GaussianDiffusion(unet, image_size=8, objective=objective, min_snr_loss_weight=min_snr)
    expected = {"pred_v": "v", "pred_noise": "eps", "pred_x0": "x0"}[objective]
    assert read_objective(diffusion.loss_weight, diffusion.alphas_cumprod.double()) == expected


def test_a_prediction_that_contradicts_the_checkpoint_is_refused(trainer_checkpoint):
    path, _ = trainer_checkpoint
    with pytest.raises(UsageError, match="trained to predict v, not eps"):
        load_weights(path, get_model("lucid-unet-tiny"), "lucid-unet-tiny", prediction="eps")


def test_robustness_asks_for_the_objective_when_the_checkpoint_cannot_tell(
    trainer_checkpoint, runner, tmp_path, clean_exit
):
    data = torch.load(trainer_checkpoint[0], weights_only=True)
    del data["model"]["loss_weight"]
    torch.save(data, tmp_path / "model-5.pt")
    given = f"lucid-unet-tiny={tmp_path / 'model-5.pt'}"
    args = ["robustness", "-m", "lucid-unet-tiny", "--checkpoint", given, "--num-images", "2", "--quiet"]
    result = runner.invoke(app, args)
    clean_exit(result, 2)
    assert "does not say what its network predicts; pass --prediction" in result.output
    meta = load_weights(
        tmp_path / "model-5.pt", get_model("lucid-unet-tiny"), "lucid-unet-tiny", prediction="x0"
    )
    assert meta["prediction"] == "x0"


def test_a_trainer_checkpoint_of_the_authors_cunet_is_read_onto_ode_u_ref(trainer_checkpoint, tmp_path):
    """The authors trained with their copy of denoising-diffusion-pytorch: GaussianDiffusion around
    their ConvSODEUNet, saved by its Trainer."""
    source = get_model("ode-u-ref-tiny")
    _randomise(source, 6)
    data = torch.load(trainer_checkpoint[0], weights_only=True)
    unet = _authors_names(source.state_dict(), levels=3)
    buffers = {k: v for k, v in data["model"].items() if not k.startswith("model.")}
    data["model"] = {**{f"model.{k}": v for k, v in unet.items()}, **buffers}
    data["ema"] = {**{f"ema_model.model.{k}": v for k, v in unet.items()}, "initted": torch.tensor(True)}
    torch.save(data, tmp_path / "model-5.pt")
    model = get_model("ode-u-ref-tiny")
    meta = load_weights(tmp_path / "model-5.pt", model, "ode-u-ref-tiny")
    assert meta["source_format"] == "ddp-trainer" and meta["prediction"] == "v"
    assert all(torch.equal(model.state_dict()[k], v) for k, v in source.state_dict().items())


@pytest.mark.slow
def test_a_full_size_trainer_unet_maps_onto_lucid_unet(tmp_path):
    unet = ddp.Unet(dim=64, dim_mults=(1, 2, 4, 8))
    _randomise(unet, 3)
    diffusion = ddp.GaussianDiffusion(unet, image_size=64)
    torch.save({"step": 1, "model": diffusion.state_dict(), "version": "1.8.3"}, tmp_path / "model-1.pt")
    model = get_model("lucid-unet").double()
    load_weights(tmp_path / "model-1.pt", model, "lucid-unet", weights="raw")
    x, t = _inputs(16)
    with torch.no_grad():
        assert _relative_error(unet.double().eval()(x, t.double()), model(x, t)) < RTOL


def test_a_trainer_checkpoint_of_another_size_says_which_model_it_fits(trainer_checkpoint):
    path, _ = trainer_checkpoint
    with pytest.raises(UsageError, match="fits lucid-unet-tiny, not model 'lucid-unet'"):
        load_weights(path, get_model("lucid-unet"), "lucid-unet")


# -- the authors' cU-Net


def _authors_names(state: dict[str, torch.Tensor], levels: int = 4) -> dict[str, torch.Tensor]:
    """ode-u-ref's tensors under the names of the authors' ConvSODEUNet (their cUNet.py), written out;
    ``levels`` 3 names ode-u-ref-tiny's alike (their code has 4)."""
    modules = {"time_table": "time_embed", "initial_velocity.1": "initial_velocity.conv1",
               "initial_velocity.4": "initial_velocity.conv2", "middle.func": "odeblock_embedding.odefunc",
               "head": "classifier", f"down_attention.{levels - 1}": f"attention_encoder{levels}",
               f"up_attention.{levels - 1}": "attention_decoder1",
               f"down_transitions.{levels - 1}.0": f"conv_down{levels}_embed",
               "up_transitions.0.0": "conv_up_embed_1"}  # fmt: skip
    for i in range(levels):
        modules[f"down_blocks.{i}.func"] = f"odeblock_down{i + 1}.odefunc"
        modules[f"up_blocks.{i}.func"] = f"odeblock_up{i + 1}.odefunc"
        if i < levels - 1:
            modules[f"down_transitions.{i}.0"] = f"conv_down{i + 1}_{i + 2}"
            modules[f"up_transitions.{i + 1}.0"] = f"conv_up{i + 1}_{i + 2}"
    params = {"norm.gain": "norm.g", "qkv.weight": "to_qkv.weight", "out.weight": "to_out.weight",
              "out.bias": "to_out.bias"}  # fmt: skip
    renamed = {}
    for name, tensor in state.items():
        module, param = next((m, name[len(m) + 1 :]) for m in modules if name.startswith(m + "."))
        renamed[f"{modules[module]}.{params.get(param, param)}"] = tensor.clone()
    return renamed


def test_the_authors_state_dict_round_trips_onto_ode_u_ref(tmp_path):
    torch.manual_seed(0)
    source = get_model("ode-u-ref").double()
    _randomise(source, 4)
    theirs = _authors_names(source.state_dict())
    assert "odeblock_down1.odefunc.conv1.weight" in theirs and "attention_decoder1.to_qkv.weight" in theirs
    torch.save(theirs, tmp_path / "cunet.pt")
    model = get_model("ode-u-ref").double()
    meta = load_weights(tmp_path / "cunet.pt", model, "ode-u-ref")
    assert meta["source_format"] == "cunet"
    assert all(torch.equal(model.state_dict()[k], v) for k, v in source.state_dict().items())
    x, t = _inputs()
    with torch.no_grad():
        assert _relative_error(source(x, t), model(x, t)) < RTOL


def test_another_architecture_is_refused_saying_what_it_looks_like(tmp_path):
    torch.save(_authors_names(get_model("ode-u-ref").state_dict()), tmp_path / "cunet.pt")
    with pytest.raises(UsageError, match=r"holds the authors' cU-Net \(ConvSODEUNet\).*use ode-u-ref"):
        load_weights(tmp_path / "cunet.pt", get_model("lucid-unet-tiny"), "lucid-unet-tiny")


def test_every_missing_and_unexpected_name_is_in_one_message(tmp_path):
    theirs = _authors_names(get_model("ode-u-ref").state_dict())
    theirs["extra.weight"] = theirs.pop("classifier.weight")
    del theirs["conv_down1_2.bias"]
    torch.save(theirs, tmp_path / "cunet.pt")
    with pytest.raises(UsageError) as caught:
        load_weights(tmp_path / "cunet.pt", get_model("ode-u-ref"), "ode-u-ref")
    message = str(caught.value)
    assert "missing 2: conv_down1_2.bias, classifier.weight" in message
    assert "unexpected 1: extra.weight" in message


# -- the commands


def _robustness(runner, args: list[str], csv: Path):
    options = ["--sigma", "0.1", "--num-images", "4", "--steps", "5", "--quiet", "--reference", "identity"]
    return runner.invoke(app, ["robustness", *args, *options, "--csv", str(csv)])


def test_robustness_runs_on_a_diffusers_pipeline_folder(pipeline_folder, runner, tmp_path, clean_exit):
    folder, _ = pipeline_folder
    csv = tmp_path / "r.csv"
    args = ["-m", "ddpm-unet-tiny", "--checkpoint", f"ddpm-unet-tiny={folder}"]
    clean_exit(_robustness(runner, args, csv), 0)
    row = pd.read_csv(csv).set_index("model").loc["ddpm-unet-tiny"]
    digest = sha256_of(folder / "unet" / "diffusion_pytorch_model.safetensors")
    assert row["checkpoint"] == f"diffusers:{folder}@sha256:{digest}" and row["status"] == "ok"


def test_robustness_runs_on_a_trainer_checkpoint_and_its_conversion_gives_the_same_rows(
    trainer_checkpoint, runner, tmp_path, clean_exit
):
    path, _ = trainer_checkpoint
    direct, converted = tmp_path / "direct.csv", tmp_path / "converted.csv"
    clean_exit(
        _robustness(runner, ["-m", "lucid-unet-tiny", "--checkpoint", f"lucid-unet-tiny={path}"], direct), 0
    )
    out = tmp_path / "lucid.safetensors"
    clean_exit(runner.invoke(app, ["convert", str(path), "-m", "lucid-unet-tiny", "--out", str(out)]), 0)
    side = json.loads(out.with_suffix(".json").read_text())
    assert (side["source_format"], side["steps"], side["prediction"]) == ("ddp-trainer", 5, "v")
    assert side["source_sha256"] == sha256_of(path) and len(side["betas"]) == 1000
    clean_exit(
        _robustness(runner, ["-m", "lucid-unet-tiny", "--checkpoint", f"lucid-unet-tiny={out}"], converted), 0
    )
    a = pd.read_csv(direct).set_index("model").loc["lucid-unet-tiny"]
    b = pd.read_csv(converted).set_index("model").loc["lucid-unet-tiny"]
    assert a["checkpoint"] == f"ddp-trainer:{path}@sha256:{sha256_of(path)}" and b["checkpoint"] == str(out)
    assert (a["psnr_db_mean"], a["t_start"], a["training_steps"]) == (b["psnr_db_mean"], b["t_start"], 5)


def test_flops_records_the_checkpoint(pipeline_folder, runner, tmp_path, clean_exit):
    folder, _ = pipeline_folder
    csv = tmp_path / "f.csv"
    args = ["flops", "-m", "ddpm-unet-tiny", "--checkpoint", f"ddpm-unet-tiny={folder}", "--csv", str(csv)]
    clean_exit(runner.invoke(app, args), 0)
    assert set(pd.read_csv(csv)["checkpoint"]) == {checkpoint_label(folder)}


class _RunsCode:
    def __reduce__(self):
        return (print, ("this pickle runs code",))


def _bad_sources(root: Path, trainer_path: Path) -> dict[str, tuple[str, str, str]]:
    """name -> (model, path, what the one line says)."""
    truncated = root / "truncated.pt"
    truncated.write_bytes(trainer_path.read_bytes()[:5000])
    (root / "no_config").mkdir()
    (root / "no_config" / "diffusion_pytorch_model.safetensors").write_bytes(b"")
    (root / "unrepresentable").mkdir()
    config = {"_class_name": "UNet2DModel", **TINY_DIFFUSERS, "norm_eps": 1e-5}
    (root / "unrepresentable" / "config.json").write_text(json.dumps(config))
    data = torch.load(trainer_path, weights_only=True)
    del data["ema"]
    torch.save(data, root / "no_ema.pt")
    (root / "code.pt").write_bytes(pickle.dumps({"model": _RunsCode()}, protocol=2))
    truncated_safetensors = root / "truncated.safetensors"
    from safetensors.torch import save_file

    save_file(get_model("lucid-unet-tiny").state_dict(), truncated_safetensors)
    truncated_safetensors.write_bytes(truncated_safetensors.read_bytes()[:5000])
    return {
        "truncated": ("lucid-unet-tiny", str(truncated), "not a readable torch file"),
        "truncated safetensors": (
            "lucid-unet-tiny",
            str(truncated_safetensors),
            "not a readable safetensors",
        ),
        "no config.json": ("ddpm-unet-tiny", str(root / "no_config"), "has no config.json"),
        "unrepresentable config": ("ddpm-unet-tiny", str(root / "unrepresentable"), "norm_eps = 1e-05"),
        "no ema": ("lucid-unet-tiny", str(root / "no_ema.pt"), "has no 'ema' state; pass --weights raw"),
        "pickle running code": ("lucid-unet-tiny", str(root / "code.pt"), "mubench never unpickles code"),
    }


BAD = ["truncated", "truncated safetensors", "no config.json", "unrepresentable config", "no ema",
       "pickle running code"]  # fmt: skip


@pytest.mark.parametrize("case", BAD)
@pytest.mark.parametrize("command", ["robustness", "convert"])
def test_bad_sources_get_one_line_exit_2_and_nothing_written(
    case, command, trainer_checkpoint, runner, tmp_path, clean_exit, tree_digest
):
    sources = tmp_path / "sources"
    sources.mkdir()
    model, path, says = _bad_sources(sources, trainer_checkpoint[0])[case]
    out = tmp_path / "out"
    out.mkdir()
    before = tree_digest(tmp_path)
    if command == "robustness":
        args = ["robustness", "-m", model, "--checkpoint", f"{model}={path}", "--num-images", "2", "--quiet",
                "--csv", str(out / "r.csv")]  # fmt: skip
    else:
        args = ["convert", path, "-m", model, "--out", str(out / "c.safetensors")]
    result = runner.invoke(app, args)
    clean_exit(result, 2)
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and says in lines[0], result.output
    assert "this pickle runs code" not in result.output
    assert tree_digest(tmp_path) == before


def test_convert_never_overwrites(pipeline_folder, runner, tmp_path, clean_exit):
    folder, _ = pipeline_folder
    out = tmp_path / "d.safetensors"
    out.write_text("mine")
    result = runner.invoke(app, ["convert", str(folder), "-m", "ddpm-unet-tiny", "--out", str(out)])
    clean_exit(result, 2)
    assert "does not overwrite" in result.output and out.read_text() == "mine"


# -- diffusers' own UNet2DModel as a model


def test_a_diffusers_model_counts_as_its_mubench_twin(pipeline_folder, runner, tmp_path, clean_exit):
    """diffusers' UNet2DModel and ddpm-unet-tiny are one network: same parameters, same MACs (attention
    included), and denoising with the same weights gives the same rows."""
    folder, _ = pipeline_folder
    ours, theirs = "ddpm-unet-tiny", f"diffusers:{folder}"
    params, flops, robust = tmp_path / "p.csv", tmp_path / "f.csv", tmp_path / "r.csv"
    clean_exit(runner.invoke(app, ["params", "-m", theirs, "-m", ours, "--csv", str(params)]), 0)
    args = ["flops", "-m", theirs, "-m", ours, "--resolution", "32", "-q", "--csv", str(flops)]
    clean_exit(runner.invoke(app, args), 0)
    clean_exit(_robustness(runner, ["-m", theirs, "-m", ours, "--checkpoint", f"{ours}={folder}"], robust), 0)
    p = pd.read_csv(params).set_index("model")
    assert p.loc[theirs, "params_total"] == p.loc[ours, "params_total"] == 1_113_955
    f = pd.read_csv(flops).query("counter == 'fvcore'").set_index("model")
    assert f.loc[theirs, "macs"] == f.loc[ours, "macs"]
    r = pd.read_csv(robust).set_index("model")
    assert r.loc[theirs, "checkpoint"] == r.loc[ours, "checkpoint"] == checkpoint_label(folder)
    assert r.loc[theirs, "psnr_db_mean"] == pytest.approx(r.loc[ours, "psnr_db_mean"], abs=1e-3)
    assert r.loc[theirs, "t_start"] == r.loc[ours, "t_start"]


def test_a_diffusers_model_without_diffusers_installed_says_how_to_add_it(
    pipeline_folder, runner, monkeypatch, clean_exit
):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "diffusers" else real(name, *a)
    )
    result = runner.invoke(app, ["params", "-m", f"diffusers:{pipeline_folder[0]}"])
    clean_exit(result, 2)
    assert (
        "pip install 'mubench[diffusers]'" in result.output and len(result.output.strip().splitlines()) == 1
    )


def test_a_suite_reads_a_checkpoint_relative_to_its_file(pipeline_folder, runner, tmp_path, clean_exit):
    import shutil

    shutil.copytree(pipeline_folder[0], tmp_path / "pipeline")
    suite = tmp_path / "suite.toml"
    suite.write_text("[[flops]]\nmodels = ['ddpm-unet-tiny']\ncheckpoint = ['ddpm-unet-tiny=pipeline']\n")
    clean_exit(runner.invoke(app, ["run", str(suite), "--out", str(tmp_path / "out"), "-q"]), 0)
    rows = pd.read_csv(tmp_path / "out" / "flops.csv")
    assert set(rows["checkpoint"]) == {checkpoint_label(tmp_path / "pipeline")}
    suite.write_text("[[flops]]\nmodels = ['ddpm-unet-tiny']\nweights = 'best'\n")
    result = runner.invoke(app, ["run", str(suite), "--out", str(tmp_path / "out2"), "-q"])
    clean_exit(result, 2)
    assert "weights must be one of ema, raw" in result.output and not (tmp_path / "out2").exists()
