from bench.run import main


def test_benchmark_runs_end_to_end_in_tiny_mode(tmp_path):
    out = tmp_path / "results.md"
    assert main(["--tiny", "--out", str(out)]) == 0
    text = out.read_text()
    for heading in ("Reconstruction vs code size", "Training throughput", "Latent map", "Memory"):
        assert heading in text
    rows = [line for line in text.splitlines() if line.startswith("| 2 |") or line.startswith("| mlp")]
    assert len(rows) == 2  # one code-size row and one throughput row at least
    assert "Peak RSS" in text and "shipped models" in text
