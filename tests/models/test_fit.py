"""Fit estimates from GGUF headers: the reader, GLM-5-shaped synthetic headers against published
file sizes, MLA vs standard attention, recommendations, knobs, and the engine's refusal to load
what cannot fit. No weights are loaded here (tests/models/test_fit_llamacpp.py checks against llama.cpp)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pytest
from gguf import GGUFReader, GGUFWriter

from agent.build import build_engine
from agent.cli.models import add_models_parser, run_models
from agent.config import load_config
from agent.engines.base import EngineError
from agent.models.estimate import kv_cache, weights
from agent.models.fit import FitRequest, plan_fit
from agent.models.fit_report import server_command
from agent.models.gguf_file import GGUFError, read_model
from agent.models.hardware import GB, detect
from agent.models.knobs import ModelKnobs, resolve_knobs
from agent.models.load_plan import ModelDoesNotFit, plan_load
from agent.models.shape import model_shape
from tests.gguf_synth import PUBLISHED, Glm5, T, glm5_file, write_header

GIB = 1 << 30


@pytest.fixture(scope="module")
def glm5(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("glm5")
    ftypes = {"BF16": 32, "Q8_0": 7, "Q4_K_M": 15, "IQ3_S": 26}
    files = {
        n: glm5_file(root / f"GLM-5-{n}.gguf", mix, file_type=ftypes[n]) for n, (mix, _) in PUBLISHED.items()
    }
    files["standard"] = glm5_file(root / "GLM-5-standard-attention.gguf", PUBLISHED["Q8_0"][0], mla=False)
    return files


def small_header(path: Path, **extra: object) -> Path:
    """A llama-like model with a 20k-token vocabulary (longer than the reader keeps) and two tensors."""

    def metadata(w: GGUFWriter) -> None:
        w.add_uint32("llama.block_count", 2)
        w.add_uint32("llama.context_length", 8192)
        w.add_uint32("llama.embedding_length", 256)
        w.add_uint32("llama.attention.head_count", 8)
        w.add_uint32("llama.attention.head_count_kv", 2)
        w.add_array("tokenizer.ggml.tokens", [f"tok{i}" for i in range(20_000)])
        w.add_array("tokenizer.ggml.scores", [float(i) for i in range(20_000)])
        w.add_string("general.name", "tiny")
        for key, value in extra.items():
            w.add_uint32(key, int(value))  # type: ignore[call-overload]

    tensors = [("token_embd.weight", (256, 20_000), T.Q8_0), ("blk.0.attn_q.weight", (256, 256), T.Q4_K)]
    return write_header(path, "llama", metadata, tensors, file_type=7)


def test_header_reader_agrees_with_gguf_reader(tmp_path: Path) -> None:
    path = small_header(tmp_path / "tiny.gguf")
    ours = read_model(path)
    theirs = GGUFReader(path)
    assert [(t.name, t.type_name, t.shape, t.n_bytes) for t in ours.tensors] == [
        (t.name, t.tensor_type.name, tuple(int(d) for d in t.shape), int(t.n_bytes)) for t in theirs.tensors
    ]
    assert ours.metadata["llama.context_length"] == theirs.fields["llama.context_length"].contents() == 8192
    assert ours.metadata["general.name"] == "tiny"
    assert ours.metadata["tokenizer.ggml.tokens"].length == len(theirs.fields["tokenizer.ggml.tokens"].data)
    assert model_shape(ours).n_vocab == 20_000


def test_split_models_are_read_as_one_and_a_missing_shard_is_named(tmp_path: Path) -> None:
    writer = GGUFWriter(tmp_path / "big.gguf", "llama", split_max_tensors=1)
    writer.add_uint32("llama.block_count", 2)
    for i in range(3):
        writer.add_tensor(f"blk.{i}.ffn_up.weight", np.zeros((4, 32), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    shards = sorted(tmp_path.glob("big-*-of-00003.gguf"))
    assert [p.name for p in shards] == [f"big-0000{i}-of-00003.gguf" for i in (1, 2, 3)]
    model = read_model(shards[0])
    assert [t.name for t in model.tensors] == [f"blk.{i}.ffn_up.weight" for i in range(3)]
    assert model.metadata["llama.block_count"] == 2 and model.file_size == sum(
        p.stat().st_size for p in shards
    )
    shards[2].unlink()
    with pytest.raises(GGUFError, match=r"missing: big-00003-of-00003\.gguf"):
        read_model(shards[0])


def test_not_a_gguf_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "x.gguf").write_bytes(b"PK\x03\x04" + b"\0" * 40)
    with pytest.raises(GGUFError, match="is not a GGUF file"):
        read_model(tmp_path / "x.gguf")


@pytest.mark.parametrize("name", list(PUBLISHED))
def test_glm5_weights_match_published_file_sizes(glm5: dict[str, Path], name: str) -> None:
    model = read_model(glm5[name])
    w = weights(model, model_shape(model))
    published = PUBLISHED[name][1] * GIB
    assert abs(w.file_bytes - published) / published < 0.05
    assert 753e9 < w.params < 755e9  # "754B params"
    assert glm5[name].stat().st_blocks * 512 < 1 << 20  # a header and a sparse hole, not 400 GB


def test_glm5_shape_is_read_from_metadata(glm5: dict[str, Path]) -> None:
    shape = model_shape(read_model(glm5["Q4_K_M"]))
    assert (shape.architecture, shape.n_layer, shape.n_layer_nextn, shape.n_ctx_train) == (
        "glm-dsa",
        78,
        1,
        202752,
    )
    assert (shape.attention, shape.kv_lora_rank, shape.head_k, shape.head_k_mla, shape.head_v_mla) == (
        "mla",
        512,
        576,
        256,
        256,
    )
    assert (shape.n_expert, shape.n_expert_used, shape.n_expert_shared, shape.leading_dense) == (256, 8, 1, 3)
    assert (shape.indexer_heads, shape.indexer_head_size, all(shape.indexer_full_layers)) == (32, 128, True)


def test_mla_shrinks_the_kv_cache_by_the_expected_factor(glm5: dict[str, Path]) -> None:
    mla = model_shape(read_model(glm5["Q8_0"]))
    std = model_shape(read_model(glm5["standard"]))
    c = Glm5()
    a, b = kv_cache(mla, 200_000, "f16"), kv_cache(std, 200_000, "f16")
    # per token and layer: 64 heads x (256 K + 256 V) decompressed vs one 512+64 latent row
    expected = c.n_head * ((c.nope + c.rope) + c.v_head) / (c.kv_lora + c.rope)
    assert b.total / a.k_bytes == pytest.approx(expected, rel=1e-3)  # 56.9x
    assert a.v_bytes == 0
    assert a.indexer_bytes / a.k_bytes == pytest.approx(c.idx_dim / (c.kv_lora + c.rope), rel=1e-3)
    assert b.total / a.total == pytest.approx(
        expected * 576 / (576 + 128), rel=1e-3
    )  # 46.5x with the indexer
    cells = 200_192  # 200000 padded to 256
    assert a.k_bytes == 78 * cells * 576 * 2


def test_glm5_that_cannot_fit_says_what_it_needs_and_what_would(glm5: dict[str, Path]) -> None:
    model = read_model(glm5["Q4_K_M"])
    plan = plan_fit(model, detect(ram_gb=256, vram_gb=0), FitRequest(n_ctx=200_000))
    assert not plan.fits
    message = plan.message()
    assert message.startswith("GLM-5-Q4_K_M.gguf needs 48")
    assert "you have 256.0 GB" in message and "try a smaller quantisation such as IQ2_XXS" in message


def test_glm5_with_a_gpu_keeps_experts_on_the_cpu_through_llama_server(glm5: dict[str, Path]) -> None:
    model = read_model(glm5["IQ3_S"])
    plan = plan_fit(model, detect(ram_gb=256, vram_gb=24), FitRequest(n_ctx=16384))
    assert plan.fits and plan.needs_server and 0 < plan.n_cpu_moe <= 78
    assert plan.vram_bytes <= 24 * GB and plan.ram_bytes <= 256 * GB
    command = server_command(plan, "GLM-5-IQ3_S.gguf")
    assert f"--n-cpu-moe {plan.n_cpu_moe}" in command and "-ngl 999" in command and "--jinja" in command
    assert plan.n_ctx == 16384 and plan.quant == "IQ3_S"


def test_experts_used_becomes_a_metadata_override_and_is_checked(glm5: dict[str, Path]) -> None:
    model = read_model(glm5["IQ3_S"])
    plan = plan_fit(model, detect(ram_gb=512), FitRequest(n_ctx=8192, experts_used=10))
    assert "--override-kv glm-dsa.expert_used_count=int:10" in server_command(plan, "m.gguf")
    knobs = load_config(None, {"experts_used": 300}, env={}).knobs_for("GLM-5-IQ3_S.gguf")
    with pytest.raises(ModelDoesNotFit, match="has 256 experts per layer"):
        plan_load(glm5["IQ3_S"], knobs, 8192, hardware=detect(ram_gb=512))


def test_the_engine_refuses_a_model_that_cannot_fit_before_loading_it(glm5: dict[str, Path]) -> None:
    config = load_config(None, {"model": str(glm5["Q4_K_M"])}, env={})
    with pytest.raises(EngineError, match=r"needs \d+\.\d GB .* you have \d+\.\d GB: try"):
        build_engine(config, say=lambda message: None)


def test_knobs_flags_beat_model_tables_beat_the_top_level(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / "local-agent").mkdir(parents=True)
    (home / "local-agent" / "config.toml").write_text(
        'kv_cache_type = "q8_0"\nthinking = "high"\n'
        '[models."glm-5*"]\nthinking = "max"\nexperts_used = 10\nn_ctx = 65536\n'
    )
    config = load_config(None, {"experts_used": 12}, env={"XDG_CONFIG_HOME": str(home)})
    glm = config.knobs_for("GLM-5-UD-Q2_K_XL-00001-of-00006.gguf")
    assert (glm.thinking, glm.experts_used, glm.kv_cache_type, glm.n_ctx) == ("max", 12, "q8_0", 65536)
    assert {"thinking", "experts_used", "kv_cache_type", "n_ctx"} <= glm.explicit
    other = config.knobs_for("qwen2.5-coder-1.5b-instruct-q4_k_m.gguf")
    assert (other.thinking, other.experts_used, other.n_ctx) == ("high", 12, None)  # engine default
    assert "n_ctx" not in other.explicit
    tables = {"qwen*": ModelKnobs(parallel=4)}
    assert resolve_knobs(ModelKnobs(), set(), tables, set(), ["Qwen3-Coder.gguf"]).parallel == 4


def test_models_fit_json(glm5: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser()
    add_models_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(
        ["models", "fit", str(glm5["IQ3_S"]), "--ctx", "32768", "--ram", "512", "--json"]
    )
    assert run_models(args, {}) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["fits"] and data["n_ctx"] == 32768 and data["architecture"] == "glm-dsa"
    assert set(data["kv_by_type"]) == {"f16", "q8_0", "q4_0"}
    assert data["kv_by_type"]["q4_0"] < data["kv_by_type"]["q8_0"] < data["kv_by_type"]["f16"]
    assert data["server_command"].startswith("llama-server -m ")


def test_models_list_finds_configured_dirs_and_the_hub_cache(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mine = tmp_path / "mine"
    mine.mkdir()
    small_header(mine / "tiny-Q8_0.gguf")
    (mine / ".downloads").mkdir()
    small_header(mine / ".downloads" / "half.gguf")  # staging: never listed
    snapshot = tmp_path / "hf" / "hub" / "models--org--tiny" / "snapshots" / "abc"
    blobs = tmp_path / "hf" / "hub" / "models--org--tiny" / "blobs"
    snapshot.mkdir(parents=True)
    blobs.mkdir()
    small_header(blobs / "f00d")
    (snapshot / "tiny.gguf").symlink_to(blobs / "f00d")
    parser = argparse.ArgumentParser()
    add_models_parser(parser.add_subparsers(dest="command"))
    env = {"AGENT_MODEL_DIR": str(tmp_path / "cache"), "HF_HOME": str(tmp_path / "hf")}
    assert run_models(parser.parse_args(["models", "list", "--json"]), env, model_dirs=[str(mine)]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out) if not r["catalogue"]}
    assert set(rows) == {"tiny-Q8_0.gguf", "tiny.gguf"}
    assert rows["tiny.gguf"]["quant"] == "Q8_0" and rows["tiny.gguf"]["context_length"] == 8192
