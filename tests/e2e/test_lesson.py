"""The lesson (/lesson) in Chromium: every step in both languages, tasks done by driving the page, a
projector's present mode, and a teacher leading two students on a classroom server."""
import json
import time
import urllib.parse

import pytest

from bench.chromium import draw_with_mouse, errors, open_page, settle, three
from tests.e2e.conftest import Server
from tests.e2e.test_classroom import become_teacher

LESSON = '.live[data-view="lesson"]'
STEPS = 8
PASSWORD = "maple-leaf-7"


def step_of(page) -> int:
    return int(page.locator(LESSON).get_attribute("data-step"))


def done_steps(page) -> list[int]:
    return [i + 1 for i in json.loads(page.locator(LESSON).get_attribute("data-done") or "[]")]


def open_lesson(page, url: str, query: str = "") -> None:
    open_page(page, f"{url}/lesson{query}")
    page.locator(LESSON).wait_for(timeout=120_000)
    page.wait_for_function(f"() => document.querySelector('{LESSON}').dataset.step", timeout=60_000)


@pytest.mark.parametrize("lang,words", [("English", "Step"), ("中文", "第")])
def test_every_step_opens_in_both_languages_with_its_own_link(server, page, lang, words):
    open_lesson(page, server.url, "?lang=" + urllib.parse.quote(lang))
    titles = []
    for step in range(1, STEPS + 1):
        if step > 1:
            page.keyboard.press("ArrowRight")
            page.wait_for_function(f"() => document.querySelector('{LESSON}').dataset.step === '{step}'")
        title = page.locator(f"{LESSON} .lesson-title").inner_text()
        assert words in title and title not in titles
        titles.append(title)
        assert page.locator(f"{LESSON} .lesson-stage").inner_html().strip()  # its live element is there
        assert f"step={step}" in page.url and errors(page) == []
    if lang == "中文":
        assert all(any("\u4e00" <= c <= "\u9fff" for c in t) for t in titles)
    page.get_by_role("button", name="←").click()
    assert step_of(page) == STEPS - 1
    # a step's link opens that step, in that state
    open_lesson(page, server.url, "?step=8&aa=4406&ab=4907&ac=100")
    assert step_of(page) == 8 and page.locator(f"{LESSON} input.index").nth(2).input_value() == "100"


def test_tasks_are_checked_by_the_page_as_they_are_done(server, page):
    open_lesson(page, server.url, "?step=1&model=mnist-cnn-ae-16")
    # step 1: draw any digit
    draw_with_mouse(page, page.locator(f"{LESSON} canvas.board"), three())
    page.wait_for_function(f"() => (document.querySelector('{LESSON}').dataset.done || '').includes('0')")
    assert page.locator(f"{LESSON} .lesson-task.finished").count() == 1

    # step 2: move the first number (the one the page found) until the classifier reads the 4 as a 9
    page.keyboard.press("ArrowRight")
    page.wait_for_function(f"() => document.querySelector('{LESSON}').dataset.step === '2'")
    slider = page.locator(f"{LESSON} input[type=range]").first
    for i in range(61):
        slider.evaluate("(s, f) => { s.value = +s.min + (+s.max - +s.min) * f; s.dispatchEvent(new Event('input', {bubbles: true})); }",
                        i / 60)
        if 2 in done_steps(page):
            break
    assert 2 in done_steps(page) and page.locator(f"{LESSON} [data-reads]").get_attribute("data-reads") == "9"
    slider.dispatch_event("change")
    assert "z=" in page.url  # the edited code is in the link

    # step 3: find a place of the 2-number plane that decodes to a sure 6
    page.keyboard.press("ArrowRight")
    page.wait_for_function(f"() => document.querySelector('{LESSON}').dataset.step === '3'")
    plane = page.locator(f"{LESSON} canvas.lesson-map")
    box = plane.bounding_box()
    for gy in range(24):
        for gx in range(24):
            page.mouse.move(box["x"] + box["width"] * (gx + 0.5) / 24, box["y"] + box["height"] * (gy + 0.5) / 24)
        if 3 in done_steps(page):
            break
    assert 3 in done_steps(page) and errors(page) == []


def test_present_mode_hides_the_sidebar_and_enlarges_the_lesson(server, page):
    open_lesson(page, server.url, "?present=1&step=4")
    assert step_of(page) == 4
    assert not page.locator('[data-testid="stSidebar"]').is_visible()
    assert "present" in page.locator(LESSON).get_attribute("class")
    size = page.locator(f"{LESSON} .lesson-title").evaluate("(e) => parseFloat(getComputedStyle(e).fontSize)")
    assert size >= 32 and errors(page) == []


@pytest.fixture(scope="module")
def classroom(tmp_path_factory):
    s = Server(tmp_path_factory.mktemp("lesson-class"), env={"ENCDEC_SHARED": "1", "ENCDEC_TEACHER_PASSWORD": PASSWORD})
    yield s
    s.stop()


def _teacher(browser, url):
    context = browser.new_context(viewport={"width": 1400, "height": 1100})
    page = context.new_page()
    open_page(page, f"{url}/models")
    page.wait_for_selector("text=of at most", timeout=60_000)
    settle(page)
    become_teacher(page, PASSWORD)
    open_lesson(page, url)
    page.wait_for_selector(f"{LESSON} .lead")
    return page


def _moved(page, step: int, timeout: float = 10.0) -> float:
    """Seconds until `page` shows `step` (it follows the teacher on its own)."""
    start = time.perf_counter()
    page.wait_for_function(f"() => document.querySelector('{LESSON}').dataset.step === '{step}'", timeout=timeout * 1000)
    return time.perf_counter() - start


def test_students_follow_the_teacher_within_a_second_and_can_stop_and_rejoin(classroom, browser):
    teacher = _teacher(browser, classroom.url)
    students = []
    for _ in range(2):
        page = browser.new_context(viewport={"width": 1300, "height": 1000}).new_page()
        open_lesson(page, classroom.url)
        assert page.get_by_role("button", name="Stop following").count() == 1  # students follow by default
        students.append(page)
    a, b = students

    teacher.keyboard.press("ArrowRight")
    teacher.keyboard.press("ArrowRight")
    delays = [_moved(s, 3) for s in students]
    assert max(delays) < 1.5, delays  # polled twice a second: within one second plus the page's own work

    # the teacher's code in the numbers step reaches the students too
    teacher.keyboard.press("ArrowLeft")
    for s in students:
        _moved(s, 2)
    slider = teacher.locator(f"{LESSON} input[type=range]").first
    slider.evaluate("(s) => { s.value = s.max; s.dispatchEvent(new Event('input', {bubbles: true})); "
                    "s.dispatchEvent(new Event('change', {bubbles: true})); }")
    z = urllib.parse.parse_qs(urllib.parse.urlsplit(teacher.url).query)["z"][0]
    for s in students:
        s.wait_for_function("(z) => new URL(location.href).searchParams.get('z') === z", arg=z, timeout=5_000)

    # Bob stops following: the teacher moves on without him; he rejoins and catches up
    b.get_by_role("button", name="Stop following").click()
    teacher.keyboard.press("ArrowRight")
    teacher.keyboard.press("ArrowRight")
    _moved(a, 4)
    time.sleep(1.5)
    assert step_of(b) == 2
    b.get_by_role("button", name="Follow the teacher").click()
    _moved(b, 4)
    for page in (teacher, a, b):
        assert errors(page) == []
        page.context.close()
