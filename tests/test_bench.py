"""The benchmark's own bookkeeping (its timings are run by hand, never in the suite)."""
import pytest

from bench.run import merge
from tests.conftest import run_async


def test_a_section_run_again_replaces_its_old_text_and_keeps_a_blank_line_before_the_next():
    old = "Machine: x\n\n### A\n\nold a\n\n### B\n\nold b\n"
    new = "### A\n\nnew a"
    assert merge(old, new) == "Machine: x\n\n### A\n\nnew a\n\n### B\n\nold b\n"
    assert merge(old, "### C\n\nc") == old + "\n### C\n\nc\n"


@pytest.mark.slow
def test_a_protocol_student_opens_pages_as_a_browser_does_and_sends_nothing_else(tmp_path):
    """bench/student.py against a real classroom server: its first page takes the browser's two runs
    (the workspace key), later pages one; blobs are fetched once; only loopback is allowed."""
    from bench.chromium import Server
    from bench.student import Student

    with pytest.raises(ValueError, match="loopback"):
        run_async(Student("http://example.org:8501").connect())
    server = Server(tmp_path / "home", env={"ENCDEC_SHARED": "1"})

    async def visits():
        s = Student(server.url)
        await s.connect()
        try:
            # a fresh machine's first page imports and warms everything: it gets the time a browser would
            return [await s.visit("editor", "model=mnist-mlp-ae-16", timeout=180),
                    await s.visit("map", "model=mnist-mlp-ae-16", timeout=180),
                    await s.visit("editor", "model=mnist-mlp-ae-16", timeout=180)], s
        finally:
            await s.close()
    try:
        (first, second, again), student = run_async(visits())
    finally:
        server.stop()
    visits = [(v.page, v.ok, v.runs, round(v.seconds, 1), v.error) for v in (first, second, again)]
    assert [v.ok for v in (first, second, again)] == [True] * 3, visits
    assert (first.runs, second.runs, again.runs) == (2, 1, 1), visits
    assert len(student.fetched) >= 3 and all(p.startswith("/encdec/blob/") for p in student.fetched)
