"""The command line as people use it: each mistake gets one line on stderr and exit code 2."""
import json
import subprocess
import sys

import pytest

import encdec
from encdec import ModelConfig, build
from tests.conftest import ROOT


def _cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "encdec", *args], cwd=ROOT, capture_output=True, text=True, timeout=300, env=env)


@pytest.mark.slow
def test_cli_train_then_evaluate_json_end_to_end(tmp_path):
    out = tmp_path / "m.safetensors"
    r = _cli("train", "--kind", "classifier", "--encoder", "lstm", "--code-dim", "8", "--epochs", "1",
             "--limit", "1000", "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert out.exists() and "saved" in r.stderr
    r = _cli("evaluate", str(out), "--json")
    assert r.returncode == 0, r.stderr
    metrics = json.loads(r.stdout)
    assert metrics["accuracy"] == pytest.approx(encdec.load(out).meta["metrics"]["accuracy"], abs=1e-6)
    r = _cli("list", str(tmp_path))
    assert "classifier, lstm -> linear, code 8" in r.stdout


def test_cli_reports_user_errors_in_one_line(tmp_path):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a model")
    r = _cli("evaluate", str(bad))
    assert r.returncode == 2 and r.stderr.startswith("error: bad.safetensors")
    r = _cli("train", "--code-dim", "100", "--out", str(tmp_path / "x.safetensors"))
    assert r.returncode == 2 and "Code size" in r.stderr
    assert not (tmp_path / "x.safetensors").exists()


def test_cli_sample_writes_a_grid_of_decoded_random_codes(tmp_path):
    model = tmp_path / "v.safetensors"
    encdec.save(build(ModelConfig(kind="vae", code_dim=4)), model)
    r = _cli("sample", str(model), "--out", str(tmp_path / "s.png"), "--rows", "2", "--cols", "3")
    assert r.returncode == 0, r.stderr
    from PIL import Image
    assert Image.open(tmp_path / "s.png").size == (2 * (3 * 30 - 2), 2 * (2 * 30 - 2))


def _tiny_model(tmp_path, **kw):
    path = tmp_path / "m.safetensors"
    encdec.save(build(ModelConfig(**{"code_dim": 4, **kw})), path)
    return path


@pytest.mark.slow
@pytest.mark.parametrize("out,says", [("", "empty"), (".", "is a folder"), ("/proc/x.safetensors", "Cannot write"),
                                      ("FILE/x.safetensors", "which is a file")])
def test_a_bad_output_path_is_refused_before_training(tmp_path, out, says):
    (tmp_path / "FILE").write_text("a file")
    out = str(tmp_path / out) if out.startswith(("FILE", ".")) else out
    r = _cli("train", "--epochs", "50", "--out", out)
    assert r.returncode == 2 and says in r.stderr and "training" not in r.stderr, r.stderr


@pytest.mark.parametrize("args,says", [
    (["--device", "meta"], "device"), (["--device", "xpu"], "XPU"), (["--seed", str(2**64)], "--seed"),
    (["--epochs", "0"], "--epochs"), (["--augment", "wild"], "--augment"),
])
def test_absurd_training_options_get_one_line(tmp_path, args, says):
    r = _cli("train", *args, "--out", str(tmp_path / "x.safetensors"))
    assert r.returncode == 2 and says in r.stderr and "Traceback" not in r.stderr, r.stderr


@pytest.mark.slow
def test_no_overwrite_keeps_an_existing_file(tmp_path):
    path = _tiny_model(tmp_path)
    before = path.read_bytes()
    r = _cli("train", "--dry-run", "--no-overwrite", "--out", str(path))
    assert r.returncode == 2 and "exists already" in r.stderr
    assert path.read_bytes() == before


@pytest.mark.parametrize("args,says", [(["--rows", "0"], "--rows"), (["--rows", "-1"], "--rows"), (["--cols", "1000"], "--cols")])
def test_sample_refuses_absurd_grids(tmp_path, args, says):
    r = _cli("sample", str(_tiny_model(tmp_path, kind="vae")), "--out", str(tmp_path / "s.png"), *args)
    assert r.returncode == 2 and says in r.stderr


def test_sample_to_a_folder_says_so(tmp_path):
    r = _cli("sample", str(_tiny_model(tmp_path, kind="vae")), "--out", str(tmp_path))
    assert r.returncode == 2 and "is a folder" in r.stderr


@pytest.mark.parametrize("limit", ["0", "-5"])
def test_evaluate_refuses_empty_limits(tmp_path, limit):
    r = _cli("evaluate", str(_tiny_model(tmp_path)), "--limit", limit)
    assert r.returncode == 2 and "--limit" in r.stderr


def test_list_of_a_missing_folder_says_so():
    r = _cli("list", "/no/such/dir")
    assert r.returncode == 2 and "is not a folder" in r.stderr


def test_a_folder_given_as_a_model_says_so(tmp_path):
    r = _cli("evaluate", str(tmp_path))
    assert r.returncode == 2 and "is a folder" in r.stderr


def test_a_home_that_is_a_file_gets_one_line(tmp_path):
    import os

    (tmp_path / "FILE").write_text("a file")
    r = _cli("list", env={**os.environ, "ENCDEC_HOME": str(tmp_path / "FILE")})
    assert r.returncode == 2 and "ENCDEC_HOME" in r.stderr and "Traceback" not in r.stderr, r.stderr


@pytest.mark.parametrize("name,value", [("ENCDEC_MAX_TRAININGS", "two"), ("ENCDEC_MAX_TRAININGS", "0"),
                                        ("ENCDEC_DOWNLOAD", "maybe")])
def test_bad_settings_name_the_variable(monkeypatch, name, value):
    from encdec import settings

    monkeypatch.setenv(name, value)
    with pytest.raises(settings.SettingsError, match=name):
        settings.max_trainings() if name == "ENCDEC_MAX_TRAININGS" else settings.download_allowed()


@pytest.mark.slow
def test_zoo_dry_run_never_touches_the_shipped_models(tmp_path):
    before = {p.name: p.stat().st_mtime_ns for p in (ROOT / "models").iterdir()}
    r = _cli("zoo", "--dry-run", "mnist-mlp-ae-2")
    assert r.returncode == 0, r.stderr
    assert {p.name: p.stat().st_mtime_ns for p in (ROOT / "models").iterdir()} == before
    written = r.stderr.strip().splitlines()[-1].split("written to ")[-1]
    assert encdec.load(f"{written}/mnist-mlp-ae-2.safetensors").meta["metrics"]["test_size"] == 500
