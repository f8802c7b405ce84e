"""Workspaces on a classroom server: keys, folders, quotas, the class, the teacher."""
import pytest
from streamlit.testing.v1 import AppTest

import encdec
from encdec import workspace
from encdec.checkpoint import CheckpointError
from encdec.store import ModelStore
from tests.conftest import ROOT


@pytest.fixture
def model():
    return encdec.build(encdec.ModelConfig(code_dim=3))


def test_browser_keys_are_unguessable():
    keys = {workspace.new_key() for _ in range(2000)}
    assert len(keys) == 2000
    assert all(workspace.valid_key(k) and len(k) >= 32 for k in keys)
    assert workspace.KEY_BYTES * 8 >= 128
    joined = "".join(keys)
    assert len(set(joined)) >= 60  # the whole URL-safe alphabet is used, nothing fixed


@pytest.mark.parametrize("key", ["", "short", "../../../../etc/passwd", "a" * 31, "x" * 65, "has space in it" * 3,
                                 "ééééééééééééééééééééééééééééééééé", None, 12345])
def test_a_key_that_is_not_one_this_app_makes_names_no_folder(tmp_path, key):
    with pytest.raises(CheckpointError):
        workspace.for_key(tmp_path, key)


def test_a_workspace_folder_is_a_hash_inside_the_home(tmp_path):
    key = workspace.new_key()
    ws = workspace.for_key(tmp_path, key)
    assert ws.root.parent == tmp_path / "workspaces" and key not in str(ws.root)
    assert workspace.for_key(tmp_path, key) == ws and workspace.for_key(tmp_path, workspace.new_key()) != ws
    assert workspace.for_user(tmp_path, "Ann@School.org") == workspace.for_user(tmp_path, "ann@school.org ")
    assert "ann" not in str(workspace.for_user(tmp_path, "ann@school.org").root)


@pytest.mark.parametrize("name", ["../../class/models/lesson", "/etc/passwd", "..", "../other-workspace/models/x",
                                  "%2e%2e%2fx", "x/../../y", "C:\\windows\\x"])
def test_hostile_names_never_reach_outside_the_workspace(tmp_path, model, name):
    ws = workspace.for_key(tmp_path, workspace.new_key())
    store = ws.store()
    outside = workspace.class_store(tmp_path)
    outside.save(model, "lesson")
    try:
        saved = store.save(model, name)
    except CheckpointError:
        saved = None
    if saved is not None:
        assert store.path_for(saved).parent == ws.root / "models"
        store.delete(saved)
    with pytest.raises(CheckpointError):
        store.delete(name)
    assert [i.name for i in outside.list()] == ["lesson"]


def test_quotas_count_models_and_megabytes(tmp_path, model):
    ws = workspace.for_key(tmp_path, workspace.new_key())
    quotas = {"models": 2, "megabytes": 10, "trainings": 1, "upload_mb": 1}
    assert ws.room_for(10, quotas) is None
    ws.store().save(model, "a")
    size = ws.usage()[1]
    assert ws.usage() == (1, size) and ws.room_for(10, quotas) is None
    assert ws.room_for(10 * 1024 * 1024 - size + 1, quotas) == "megabytes"
    ws.store().save(model, "b")
    assert ws.room_for(10, quotas) == "models"


QUOTAS = {"models": 3, "megabytes": 100, "trainings": 1, "upload_mb": 20}


def test_places_are_checked_and_taken_in_one_step_by_many_threads_at_once(tmp_path, model):
    """Three tabs uploading in the same instant, and more: never more models than the quota."""
    import threading

    ws = workspace.for_key(tmp_path, workspace.new_key())
    ws.store().save(model, "old")
    results, start = [], threading.Barrier(12)

    def upload(i):
        start.wait()
        try:
            with ws.reserve(1000, QUOTAS):
                ws.store().save(model, f"new-{i}")
            results.append("saved")
        except workspace.QuotaError as e:
            results.append(e.key)
    threads = [threading.Thread(target=upload, args=(i,)) for i in range(12)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert results.count("saved") == 2 and results.count("models") == 10 and ws.usage()[0] == 3


@pytest.mark.slow
def test_places_are_checked_and_taken_in_one_step_by_many_processes_at_once(tmp_path, model):
    """Web servers (or workers) sharing one ENCDEC_HOME: the lock holds across processes."""
    import subprocess
    import sys

    key = workspace.new_key()
    ws = workspace.for_key(tmp_path, key)
    script = ("import sys, time, encdec; from encdec import workspace\n"
              "ws = workspace.for_key(__import__('pathlib').Path(sys.argv[1]), sys.argv[2])\n"
              "while time.time() < float(sys.argv[4]): pass\n"
              "try:\n"
              "    with ws.reserve(1000, {'models': 3, 'megabytes': 100, 'trainings': 1}):\n"
              "        ws.store().save(encdec.build(encdec.ModelConfig(code_dim=3)), 'p' + sys.argv[3])\n"
              "    print('saved')\n"
              "except workspace.QuotaError:\n"
              "    print('full')\n")
    import time
    at = str(time.time() + 6)
    procs = [subprocess.Popen([sys.executable, "-c", script, str(tmp_path), key, str(i), at], stdout=subprocess.PIPE,
                              text=True, cwd=ROOT) for i in range(5)]
    outs = [p.communicate(timeout=120)[0].strip() for p in procs]
    assert outs.count("saved") == 3 and outs.count("full") == 2 and ws.usage()[0] == 3


def test_a_queued_training_holds_its_models_place_and_one_training_at_once(tmp_path, model):
    ws = workspace.for_key(tmp_path, workspace.new_key())
    ws.store().save(model, "a")
    ws.store().save(model, "b")
    training = ws.reserve(4_000_000, QUOTAS, job=True)         # the third place, held by a job
    with pytest.raises(workspace.QuotaError) as full:
        ws.reserve(1000, QUOTAS)                               # an upload while the training holds the last place
    assert full.value.key == "models" and ws.room_for(10, QUOTAS) == "models"
    training.release()
    second = ws.reserve(1000, QUOTAS, job=True)
    with pytest.raises(workspace.QuotaError) as busy:
        ws.reserve(1000, {**QUOTAS, "models": 10}, job=True)   # two Starts at once against a quota of one
    assert busy.value.key == "trainings"
    second.release()


def test_a_reservation_of_a_server_that_stopped_expires(tmp_path, model):
    import os
    import time

    ws = workspace.for_key(tmp_path, workspace.new_key())
    held = ws.reserve(1000, {**QUOTAS, "models": 1})
    long_ago = time.time() - workspace.RESERVATION_STALE - 5
    os.utime(held.path, (long_ago, long_ago))
    assert ws.reserve(1000, {**QUOTAS, "models": 1}) is not None


def test_a_teacher_publishes_a_copy_to_the_class_under_a_free_name(tmp_path, model):
    ws = workspace.for_key(tmp_path, workspace.new_key())
    ws.store().save(model, "lesson")
    klass = workspace.class_store(tmp_path)
    assert workspace.publish(ws.store(), "lesson", klass) == "lesson"
    assert workspace.publish(ws.store(), "lesson", klass) == "lesson-2"
    assert {i.ref for i in klass.list()} == {"class:lesson", "class:lesson-2"}
    with pytest.raises(CheckpointError):
        workspace.publish(ws.store(), "nothing", klass)


def test_the_teacher_role_lasts_until_the_password_changes(tmp_path):
    ws = workspace.for_key(tmp_path, workspace.new_key())
    assert not ws.is_teacher("secret")
    assert not workspace.password_matches("secret", None) and not workspace.password_matches("", "")
    assert workspace.password_matches("secret", "secret")
    ws.make_teacher("secret")
    assert ws.is_teacher("secret") and not ws.is_teacher("new-password") and not ws.is_teacher(None)


def test_the_teacher_mark_is_a_salted_slow_hash():
    import hashlib
    import time

    a, b = workspace.password_hash("secret"), workspace.password_hash("secret")
    assert a != b and a.startswith("scrypt$") and "secret" not in a  # salted: the same password, two marks
    assert hashlib.sha256(b"encdec:teacher:secret").hexdigest() not in a
    start = time.perf_counter()
    assert workspace.password_verifies(workspace.password_hash("other"), "other")
    assert time.perf_counter() - start > 0.02  # a work factor, not a plain digest
    assert not workspace.password_verifies(a, "Secret") and not workspace.password_verifies("sha256$abc", "secret")


def test_wrong_guesses_slow_down_per_browser_and_for_the_whole_server():
    limit = workspace.GuessLimit(free=3, per_minute=12)
    now = 1000.0
    for _ in range(3):
        assert limit.check("tab", now) == 0
        limit.wrong("tab", now)
    assert limit.check("tab", now) == 0
    limit.wrong("tab", now)
    assert limit.check("tab", now) == pytest.approx(2.0)   # then twice as long each time
    limit.wrong("tab", now + 2)
    assert limit.check("tab", now + 2) == pytest.approx(4.0)
    assert limit.check("another-tab", now + 2) == 0
    for i in range(7):                                        # many browsers: the server stops at 12 a minute
        limit.wrong(f"new-{i}", now + 3)
    assert limit.check("fresh", now + 3) > 50 and limit.check("fresh", now + 70) == 0
    limit.right("tab")
    assert limit.check("tab", now + 70) == 0


def _app(params=None, env=None, monkeypatch=None):
    for k, v in (env or {}).items():
        monkeypatch.setenv(k, v)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    for k, v in (params or {}).items():
        at.query_params[k] = v
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_a_personal_link_gives_its_key_to_the_session_and_leaves_the_address(monkeypatch, user_home, model):
    key = workspace.new_key()
    workspace.for_key(user_home, key).store().save(model, "mine")
    at = _app({"workspace": key, "model": "mine"}, {"ENCDEC_SHARED": "1"}, monkeypatch)
    assert "workspace" not in at.query_params and at.session_state["_encdec_workspace_key"] == key
    assert key not in str(dict(at.query_params))
    assert "mine" in at.sidebar.selectbox(key="model").options
    for link in at.get("page_link"):
        assert key not in link.proto.page and key not in getattr(link.proto, "query_string", "")


def test_shared_visitors_without_a_key_yet_see_only_shipped_models(monkeypatch, user_home, model):
    workspace.for_key(user_home, workspace.new_key()).store().save(model, "someone-elses")
    ModelStore(user_home / "models").save(model, "local-one")  # a local-mode model is nobody's in shared mode
    at = _app(env={"ENCDEC_SHARED": "1"}, monkeypatch=monkeypatch)
    options = at.sidebar.selectbox(key="model").options
    assert "someone-elses" not in options and "local-one" not in options
    shipped = {p.stem for p in (ROOT / "models").glob("*.safetensors") if encdec.read_header(p)[0].dataset == "mnist"}
    assert set(options) == shipped


def test_local_mode_is_one_person_with_everything_in_the_home(user_home, model):
    ModelStore(user_home / "models").save(model, "local-one")
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.run()
    assert "local-one" in at.sidebar.selectbox(key="model").options
    assert not (user_home / "workspaces").exists()
