"""Two replicas of a classroom server behind nginx (deploy/), sharing one ENCDEC_HOME: a browser stays
with its replica, a model saved through one replica is listed through the other, and a teacher's
publish reaches students on both."""
import os

import pytest

from bench.chromium import errors, open_page
from deploy.replicas import NGINX, Replicas
from tests.e2e.test_classroom import PASSWORD, _model_bytes, _picker, _ready, _upload, teacher_publishes_a_lesson


@pytest.fixture(scope="module")
def replicas(tmp_path_factory):
    if not os.path.exists(NGINX):
        if os.environ.get("ENCDEC_REQUIRE_BROWSER") == "1":
            pytest.fail(f"nginx is not installed at {NGINX}; install it (apt-get install nginx).")
        pytest.skip(f"nginx is not installed at {NGINX}")
    r = Replicas(tmp_path_factory.mktemp("replicas"), 2, env={"ENCDEC_TEACHER_PASSWORD": PASSWORD})
    yield r
    r.stop()


def on(browser, replicas, i: int):
    """A new browser that nginx has already sent to replica `i` (its cookie says so)."""
    context = browser.new_context(viewport={"width": 1400, "height": 1100})
    context.add_cookies([{"name": "encdec_replica", "value": str(i), "url": replicas.url}])
    return context


def served_by(page, url) -> str:
    return page.request.get(url + "/_stcore/health").headers["x-encdec-replica"]


def test_a_model_saved_through_one_replica_is_listed_through_the_other_and_a_publish_reaches_both(replicas, browser):
    ann0, bob1, teacher0 = on(browser, replicas, 0), on(browser, replicas, 1), on(browser, replicas, 0)
    a, b, t = ann0.new_page(), bob1.new_page(), teacher0.new_page()
    assert [served_by(p, replicas.url) for p in (a, b, t)] == ["0", "1", "0"]

    _upload(a, replicas.url, "ann-model.safetensors", _model_bytes(3))
    key = a.evaluate("() => localStorage.getItem('encdec-workspace')")
    # the same browser, now sent to the other replica (as nginx does when its replica is down)
    ann0.add_cookies([{"name": "encdec_replica", "value": "1", "url": replicas.url}])
    open_page(a, f"{replicas.url}/models")
    _ready(a)
    assert served_by(a, replicas.url) == "1"
    assert a.evaluate("() => localStorage.getItem('encdec-workspace')") == key
    assert "ann-model" in _picker(a)
    open_page(b, f"{replicas.url}/models")
    _ready(b)
    assert "ann-model" not in _picker(b)  # Bob's workspace is his own on every replica

    teacher_publishes_a_lesson(t, replicas.url)
    for page, replica in ((a, "1"), (b, "1")):
        open_page(page, f"{replicas.url}/models")
        _ready(page)
        assert served_by(page, replicas.url) == replica and "class:lesson" in _picker(page)
    student0 = on(browser, replicas, 0).new_page()
    open_page(student0, f"{replicas.url}/models")
    _ready(student0)
    assert "class:lesson" in _picker(student0)
    for page in (a, b, t, student0):
        assert errors(page) == []
    for c in (ann0, bob1, teacher0, student0.context):
        c.close()
