"""The benchmark's own bookkeeping (its timings are run by hand, never in the suite)."""
from bench.run import merge


def test_a_section_run_again_replaces_its_old_text_and_keeps_a_blank_line_before_the_next():
    old = "Machine: x\n\n### A\n\nold a\n\n### B\n\nold b\n"
    new = "### A\n\nnew a"
    assert merge(old, new) == "Machine: x\n\n### A\n\nnew a\n\n### B\n\nold b\n"
    assert merge(old, "### C\n\nc") == old + "\n### C\n\nc\n"
