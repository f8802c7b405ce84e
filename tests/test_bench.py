import pytest

from bench.run import main


@pytest.mark.slow
def test_benchmark_runs_end_to_end_in_tiny_mode(tmp_path):
    out = tmp_path / "results.md"
    assert main(["--tiny", "--out", str(out)]) == 0
    text = out.read_text()
    for heading in ("Reconstruction vs code size", "Training throughput", "first map on a fresh install", "UMAP settings",
                    "Classifiers on digits that are not MNIST's", "Recording the code space", "Memory"):
        assert heading in text
    rows = [line for line in text.splitlines() if line.startswith("| 2 |") or line.startswith("| mlp")]
    assert len(rows) == 3  # a code-size row, a throughput row and a frames row at least
    assert "Peak RSS" in text and "shipped models" in text
