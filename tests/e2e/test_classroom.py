"""A classroom server (ENCDEC_SHARED=1): each person's models are their own."""
import pytest

import encdec
from bench.chromium import errors, open_page, settle
from tests.e2e.conftest import ROOT, Server

PASSWORD = "apple-tree-42"


@pytest.fixture(scope="module")
def classroom(tmp_path_factory):
    s = Server(tmp_path_factory.mktemp("classroom"), env={"ENCDEC_SHARED": "1", "ENCDEC_TEACHER_PASSWORD": PASSWORD,
                                                          "ENCDEC_QUOTA_MODELS": "3"})
    yield s
    s.stop()


def _model_bytes(code_dim: int) -> bytes:
    import tempfile
    from pathlib import Path

    path = Path(tempfile.mkdtemp()) / "m.safetensors"
    encdec.save(encdec.build(encdec.ModelConfig(code_dim=code_dim)), path, metrics={"mse": 0.1})
    return path.read_bytes()


def _ready(page):
    """The browser has told its workspace key and the app has run with it (the Models page then
    shows the workspace's usage)."""
    try:
        page.wait_for_selector("text=of at most", timeout=60_000)
    except Exception:
        page.screenshot(path="/tmp/ready-fail.png")
        raise
    settle(page)


def become_teacher(page, password: str = PASSWORD):
    """On an open Models page: enter the teacher password, and wait until the page says so."""
    page.get_by_text("I am the teacher").click()
    page.get_by_label("Teacher password").fill(password)
    page.get_by_role("button", name="Enter").click()
    page.wait_for_selector("text=You are the teacher (this browser remembers it)")


def teacher_publishes_a_lesson(page, url):
    """The teacher signs in on the Models page, uploads a model and publishes it to the class as `lesson`."""
    open_page(page, f"{url}/models")
    _ready(page)
    become_teacher(page)
    _upload(page, url, "lesson.safetensors", _model_bytes(5))
    page.get_by_role("button", name="Publish to the class").click()
    page.wait_for_selector("text=Published to the class as lesson")


def _upload(page, url, name, data):
    open_page(page, f"{url}/models")
    _ready(page)
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(
        files=[{"name": name, "mimeType": "application/octet-stream", "buffer": data}])
    page.wait_for_selector(f"text=Added {name.split('.')[0]}", timeout=60_000)
    settle(page)


def _picker(page) -> list[str]:
    box = page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]').nth(2)
    box.click()
    options = [o.inner_text() for o in page.get_by_role("option").all()]
    page.keyboard.press("Escape")
    return options


def test_two_students_see_only_their_own_models_and_a_teacher_publishes_to_both(classroom, browser):
    ann, bob, teacher = (browser.new_context(viewport={"width": 1400, "height": 1100}) for _ in range(3))
    a, b, t = ann.new_page(), bob.new_page(), teacher.new_page()
    _upload(a, classroom.url, "ann-model.safetensors", _model_bytes(3))
    _upload(b, classroom.url, "bob-model.safetensors", _model_bytes(4))
    shipped = {p.stem for p in (ROOT / "models").glob("*.safetensors") if encdec.read_header(p)[0].dataset == "mnist"}
    assert set(_picker(a)) == shipped | {"ann-model"}
    assert set(_picker(b)) == shipped | {"bob-model"}

    # Ann edits a link to open Bob's model: one sentence, and Bob's model is not shown
    open_page(a, f"{classroom.url}/models?model=bob-model")
    a.wait_for_selector("text=which is not one you can open here")
    assert a.get_by_text("bob-model").count() == 0 or "bob-model" not in _picker(a)

    # Ann's workspace key survives a reload and never appears in a link
    key = a.evaluate("() => localStorage.getItem('encdec-workspace')")
    assert key and len(key) >= 32 and key not in a.url
    open_page(a, f"{classroom.url}/models")  # a new visit from the same browser
    _ready(a)
    assert "ann-model" in _picker(a) and key not in a.url

    # the teacher signs in with the password, uploads a lesson and publishes it
    teacher_publishes_a_lesson(t, classroom.url)
    for page in (a, b):
        open_page(page, f"{classroom.url}/models")
        _ready(page)
        assert "class:lesson" in _picker(page)
    # a student cannot remove the class's model
    open_page(b, f"{classroom.url}/models?model=class:lesson")
    _ready(b)
    b.wait_for_selector("text=Models of the class can be removed only by the teacher")
    assert b.get_by_role("button", name="Remove from the class").count() == 0
    assert b.get_by_role("button", name="Delete this model").count() == 0
    for page in (a, b, t):
        assert errors(page) == []
    for c in (ann, bob, teacher):
        c.close()


def test_a_personal_link_opens_the_same_workspace_in_another_browser(classroom, browser):
    first, second = browser.new_context(), browser.new_context()
    p1, p2 = first.new_page(), second.new_page()
    _upload(p1, classroom.url, "carol-model.safetensors", _model_bytes(3))
    p1.get_by_text("Open your models in another browser").click()
    link = p1.locator("code", has_text="workspace=").inner_text().strip()
    open_page(p2, link)
    _ready(p2)
    p2.wait_for_function("() => !location.search.includes('workspace=')")  # the key leaves the address at once
    settle(p2)
    assert "carol-model" in _picker(p2)
    assert p2.evaluate("() => localStorage.getItem('encdec-workspace')") == link.split("workspace=")[1]
    first.close()
    second.close()


def test_a_full_workspace_says_what_to_delete(classroom, browser):
    context = browser.new_context()
    page = context.new_page()
    for i in range(3):
        _upload(page, classroom.url, f"m{i}.safetensors", _model_bytes(3))
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(
        files=[{"name": "m3.safetensors", "mimeType": "application/octet-stream", "buffer": _model_bytes(3)}])
    page.wait_for_selector("text=delete one on the Models page first")
    context.close()
