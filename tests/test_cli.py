"""The command line as people use it: each mistake gets one line on stderr and exit code 2.

Most commands run in this process (`main(argv)`, as `python -m encdec` does after its imports); the
end-to-end test runs a real `python -m encdec` process."""
import contextlib
import io
import json
import subprocess
import sys
from types import SimpleNamespace

import pytest

import encdec
from encdec import ModelConfig, build
from encdec.cli import main
from tests.conftest import ROOT


def _cli(*args, env=None):
    """(returncode, stdout, stderr) of `python -m encdec ARGS`, run here; argparse's own exits count too."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(args))
        except SystemExit as e:
            code = e.code
    return SimpleNamespace(returncode=code, stdout=out.getvalue(), stderr=err.getvalue())


def _process(*args):
    return subprocess.run([sys.executable, "-m", "encdec", *args], cwd=ROOT, capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_cli_train_then_evaluate_json_end_to_end(tmp_path):
    out = tmp_path / "m.safetensors"
    r = _process("train", "--kind", "classifier", "--encoder", "lstm", "--code-dim", "8", "--epochs", "1",
                 "--limit", "1000", "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert out.exists() and "saved" in r.stderr
    r = _process("evaluate", str(out), "--json")
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
    (["--epochs", "0"], "--epochs"), (["--augment", "wild"], "--augment"), (["--settle", "0.8"], "settling epochs"),
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


def test_a_home_that_is_a_file_gets_one_line(tmp_path, monkeypatch):
    (tmp_path / "FILE").write_text("a file")
    monkeypatch.setenv("ENCDEC_HOME", str(tmp_path / "FILE"))
    r = _cli("list")
    assert r.returncode == 2 and "ENCDEC_HOME" in r.stderr and "Traceback" not in r.stderr, r.stderr


@pytest.mark.parametrize("name,value,read", [("ENCDEC_WORKERS", "two", "workers"), ("ENCDEC_WORKERS", "0", "workers"),
                                             ("ENCDEC_MAP_WORKERS", "99", "map_workers"), ("ENCDEC_MAX_QUEUE", "-1", "max_queue"),
                                             ("ENCDEC_DOWNLOAD", "maybe", "download_allowed"),
                                             ("ENCDEC_WORKER_NICE", "low", "worker_nice"), ("ENCDEC_WORKER_NICE", "20", "worker_nice")])
def test_bad_settings_name_the_variable(monkeypatch, name, value, read):
    from encdec import settings

    monkeypatch.setenv(name, value)
    with pytest.raises(settings.SettingsError, match=name):
        getattr(settings, read)()


def test_workers_yield_the_processor_by_default_or_as_told(monkeypatch):
    from encdec import settings

    monkeypatch.delenv("ENCDEC_WORKER_NICE", raising=False)
    assert settings.worker_nice() == (settings.IDLE if settings.IDLE_SUPPORTED else 10)
    monkeypatch.setenv("ENCDEC_WORKER_NICE", "5")
    assert settings.worker_nice() == 5
    monkeypatch.setenv("ENCDEC_WORKER_NICE", " Idle ")
    if settings.IDLE_SUPPORTED:
        assert settings.worker_nice() == settings.IDLE
    else:
        with pytest.raises(settings.SettingsError, match="ENCDEC_WORKER_NICE"):
            settings.worker_nice()


@pytest.mark.slow
def test_zoo_dry_run_never_touches_the_shipped_models_and_leaves_nothing_behind(tmp_path, monkeypatch):
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # where the dry run makes its folder
    before = {p.name: p.stat().st_mtime_ns for p in (ROOT / "models").iterdir()}
    r = _cli("zoo", "--dry-run", "mnist-mlp-ae-2")
    assert r.returncode == 0, r.stderr
    assert {p.name: p.stat().st_mtime_ns for p in (ROOT / "models").iterdir()} == before
    # torch makes its one shared compiler cache (torchinductor_USER) in the temporary folder when its
    # optimizer first imports; that folder is torch's, reused by every run. The dry run's own is gone.
    left = [p.name for p in tmp_path.iterdir() if not p.name.startswith("torchinductor")]
    assert "trained, saved and mapped" in r.stderr and "now removed" in r.stderr and left == []


def test_a_learning_rate_of_zero_is_refused_not_replaced(tmp_path):
    r = _cli("train", "--lr", "0", "--out", str(tmp_path / "x.safetensors"))
    assert r.returncode == 2 and "Learning rate" in r.stderr and not (tmp_path / "x.safetensors").exists()
