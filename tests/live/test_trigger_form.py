"""The trigger form as a user sees it: Debian's Chromium, driven by Selenium, on the live deployment's UI.

Airflow 3 builds the form from the DAG's params (``nova_dpo.pipeline.params.param_definitions``): an accordion
section per ``section``, in the order the params first name them; a select per ``enum``; a number field
holding ``minimum``/``maximum``; ``description_md`` rendered as markdown. The checks read the rendered page,
not the definitions: what users get is the UI's reading of them. The last test saves the screenshot that
docs/trigger-form.png is a copy of (``trigger-form.png`` in its ``tmp_path``, logged).

Nothing is downloaded at run time: Selenium is given ``chromedriver``'s path, so Selenium Manager never runs.
"""

from __future__ import annotations

import datetime as dt
import logging
import shutil
from collections.abc import Iterator

import pytest
from selenium import webdriver
from selenium.common.exceptions import ElementClickInterceptedException, TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.wait import WebDriverWait

from nova_dpo.pipeline.params import (
    FORM_RECIPE,
    RECIPE_OVERRIDE_PARAMS,
    SECTION_RECIPE,
    SECTIONS,
    param_definitions,
)
from nova_dpo.recipes import param_bounds
from tests.live import settings
from tests.live.api import DAG_ID, wait_until_parsed

log = logging.getLogger(__name__)

CHROMIUM = shutil.which("chromium")
CHROMEDRIVER = shutil.which("chromedriver")
MISSING = [name for name, path in (("chromium", CHROMIUM), ("chromedriver", CHROMEDRIVER)) if path is None]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.live,
    pytest.mark.skipif(
        bool(MISSING),
        reason=f"{' and '.join(MISSING)} not installed: apt-get install chromium chromium-driver "
        "(.ci/run does it in CI)",
    ),
]

UI_TIMEOUT_S = 30
# Tall enough that one open section of the form fits in the screenshot.
WINDOW = (1280, 1500)
ADVANCED_OPTIONS = "advancedOptions"
# beta's upper bound in the recipe range table: the form must hold it (the form's schema is built from it).
BETA_MAX = param_bounds(FORM_RECIPE)[RECIPE_OVERRIDE_PARAMS["beta"]]["maximum"]


@pytest.fixture(scope="module")
def browser(airflow_deployment, api) -> Iterator[webdriver.Chrome]:
    """Chromium, headless, logged in to the deployment's UI as the admin, once the DAG is parsed."""
    wait_until_parsed(api)
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless=new",
        "--no-sandbox",  # root in a CI container has no user namespace to sandbox in
        "--disable-dev-shm-usage",
        f"--window-size={WINDOW[0]},{WINDOW[1]}",
    ):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    try:
        driver.get(f"{airflow_deployment.api_url}/auth/login")
        wait(driver).until(ec.visibility_of_element_located((By.NAME, "username"))).send_keys(
            settings.ADMIN_USERNAME
        )
        driver.find_element(By.NAME, "password").send_keys(airflow_deployment.admin_password)
        driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        wait(driver).until(lambda d: "/auth/login" not in d.current_url)
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def form(browser, airflow_deployment) -> WebElement:
    """The trigger dialog of the DAG's page, open."""
    return open_form(browser, airflow_deployment.api_url)


@pytest.fixture
def paused_form(paused, browser, airflow_deployment) -> WebElement:
    """The trigger dialog, opened once the DAG is paused: the dialog offers "Unpause on trigger" only for a
    DAG that was paused when it opened."""
    return open_form(browser, airflow_deployment.api_url)


def open_form(browser: webdriver.Chrome, api_url: str) -> WebElement:
    browser.get(f"{api_url}/dags/{DAG_ID}")
    wait(browser).until(
        ec.element_to_be_clickable((By.CSS_SELECTOR, "button[aria-label='Trigger Dag']"))
    ).click()
    return wait(browser).until(
        ec.visibility_of_element_located((By.CSS_SELECTOR, "[role=dialog][data-scope=dialog]"))
    )


def wait(driver, timeout: float = UI_TIMEOUT_S) -> WebDriverWait:
    return WebDriverWait(driver, timeout)


def section_names(form: WebElement) -> list[str]:
    """The form's sections, top to bottom, without the dialog's own Advanced Options."""
    triggers = form.find_elements(By.CSS_SELECTOR, "[data-testid=config-form] [data-part=item-trigger]")
    return [
        trigger.text
        for trigger in triggers
        if not trigger.get_attribute("aria-controls").endswith(ADVANCED_OPTIONS)
    ]


def open_section(form: WebElement, section: str) -> WebElement:
    """Open one section of the accordion (the others close); its content, once visible."""
    driver = form.parent
    item = form.find_element(By.CSS_SELECTOR, f'[data-part=item][id$=":item:{section}"]')
    trigger = item.find_element(By.CSS_SELECTOR, "[data-part=item-trigger]")
    if trigger.get_attribute("aria-expanded") != "true":
        click(trigger)
    content = item.find_element(By.CSS_SELECTOR, "[data-part=item-content]")
    wait(driver).until(lambda _: item.get_attribute("data-state") == "open" and content.is_displayed())
    return content


def rows(content: WebElement) -> dict[str, WebElement]:
    """The field rows of an open section, by the label shown (the param's name)."""
    found = {}
    for row in content.find_elements(By.CSS_SELECTOR, "[data-scope=field][data-part=root]"):
        label = row.find_element(By.CSS_SELECTOR, "label[data-part=label]")
        # A field without a null choice is required: its label ends in an asterisk.
        found[label.get_attribute("textContent").removesuffix("*").strip()] = row
    return found


def params_by_section() -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for name, definition in param_definitions().items():
        grouped.setdefault(definition["section"], []).append(name)
    return grouped


def scroll_to(element: WebElement) -> None:
    element.parent.execute_script("arguments[0].scrollIntoView({block: 'center'})", element)


def click(element: WebElement) -> None:
    """Click as a user does: once the element stays where it is (sections open and close with an animation that
    moves what is below them: a click at the old place lands on another field) and nothing covers it."""
    scroll_to(element)
    wait(element.parent).until(settled(element))
    retrying = WebDriverWait(element.parent, 5, ignored_exceptions=[ElementClickInterceptedException])
    retrying.until(lambda _: element.click() or True)


def settled(element: WebElement):
    """A wait condition: the element has not moved since the last poll."""
    last: list[dict] = []

    def still(_) -> bool:
        rect = element.rect
        moved = not last or last[-1] != rect
        last.append(rect)
        return not moved

    return still


def type_into_number(form: WebElement, name: str, text: str) -> WebElement:
    field = form.find_element(By.CSS_SELECTOR, f"input[name=element_{name}]")
    click(field)
    field.send_keys(Keys.CONTROL, "a")
    field.send_keys(text)
    wait(form.parent).until(lambda _: field.get_attribute("value") == text, f"{name} does not show {text}")
    return field


def select_parts(row: WebElement) -> tuple[WebElement, WebElement, str]:
    """A select's box, its input, and the id prefix of its menu's options (react-select numbers its selects:
    ``react-select-<n>-live-region``, ``react-select-<n>-option-<i>``)."""
    box = row.find_element(By.CSS_SELECTOR, "div[id^=element_]")
    region = box.find_element(By.CSS_SELECTOR, "span[id$='-live-region']").get_attribute("id")
    return box, box.find_element(By.CSS_SELECTOR, "input[role=combobox]"), region.removesuffix("live-region")


def select_options(row: WebElement) -> tuple[str, list[str]]:
    """A select's shown value and the labels of its options (its menu opened, then closed)."""
    box, combobox, prefix = select_parts(row)
    shown = box.text
    click(combobox)
    menu = (By.CSS_SELECTOR, f"[id^='{prefix}option-']")
    labels = [option.text for option in wait(row.parent).until(ec.visibility_of_all_elements_located(menu))]
    # Escape would close the dialog too; leaving the select closes its menu without choosing.
    row.parent.execute_script("arguments[0].blur()", combobox)
    wait(row.parent).until(ec.invisibility_of_element_located(menu))
    return shown, labels


def choose(row: WebElement, label: str) -> None:
    _, combobox, prefix = select_parts(row)
    click(combobox)
    option = (By.XPATH, f"//*[starts-with(@id, '{prefix}option-')][normalize-space(.)='{label}']")
    click(wait(row.parent).until(ec.element_to_be_clickable(option)))


def trigger_button(form: WebElement) -> WebElement:
    return form.find_element(By.XPATH, ".//button[normalize-space(.)='Trigger']")


def leave_paused(form: WebElement) -> None:
    """Untick "Unpause on trigger": a run of the paused DAG stays queued, and no task runs."""
    found = form.find_elements(By.XPATH, ".//label[contains(., 'Unpause')]")
    assert found, "the dialog offers no 'Unpause on trigger': was the DAG paused before it opened?"
    checkbox = found[0]
    if checkbox.find_element(By.TAG_NAME, "input").is_selected():
        click(checkbox)


def write_conf(form: WebElement, conf_json: str) -> None:
    """Replace the Configuration JSON of Advanced Options, typed as a user types (the editor closes brackets
    and quotes as they are typed over)."""
    driver = form.parent
    # The editor loads once its section opens (object params have editors of their own, in their sections).
    editor = open_section(form, ADVANCED_OPTIONS).find_element(By.CSS_SELECTOR, ".monaco-editor")
    wait(driver).until(lambda _: editor.size["height"] > 0)
    wanted = "".join(conf_json.split())
    # On a busy machine the editor now and then loses a key of synthetic typing: typed again until it shows it.
    for _ in range(3):
        click(editor)
        wait(driver).until(lambda _: "focused" in editor.get_attribute("class").split())
        select_all = ActionChains(driver).key_down(Keys.CONTROL).send_keys("a").key_up(Keys.CONTROL)
        typing = select_all.send_keys(Keys.DELETE)
        for key in conf_json:
            typing.send_keys(key).pause(0.05)
        typing.perform()
        try:
            wait(driver, 5).until(lambda _: editor_text(editor) == wanted)
            break
        except TimeoutException:
            continue
    else:
        pytest.fail(
            f"the Configuration JSON shows {editor_text(editor)!r} after typing {conf_json!r} 3 times"
        )
    # The form reads the JSON when the editor loses focus.
    click(form.find_element(By.NAME, "dagRunId"))


def editor_text(editor: WebElement) -> str:
    """What the editor shows, without whitespace (it draws spaces as no-break spaces)."""
    return "".join(editor.find_element(By.CSS_SELECTOR, ".view-lines").get_attribute("textContent").split())


def run_count(api) -> int:
    return api.get(f"/dags/{DAG_ID}/dagRuns", params={"limit": 1}).raise_for_status().json()["total_entries"]


@pytest.fixture
def paused(api) -> Iterator[None]:
    """The DAG paused while the test triggers, so that its runs stay queued and no task runs; after the test,
    the runs it left queued are deleted and the pause state is restored.

    Deleted, not failed: Airflow does not fail a run whose teardown task has not run (it would stay queued and
    start, for its teardown, as soon as a later test unpauses the DAG).
    """
    started = dt.datetime.now(dt.UTC)
    was_paused = api.get(f"/dags/{DAG_ID}").raise_for_status().json()["is_paused"]
    api.patch(f"/dags/{DAG_ID}", json={"is_paused": True}).raise_for_status()
    yield
    left = api.get(
        f"/dags/{DAG_ID}/dagRuns", params={"state": "queued", "run_after_gte": started.isoformat()}
    ).raise_for_status()
    for run in left.json()["dag_runs"]:
        api.delete(f"/dags/{DAG_ID}/dagRuns/{run['dag_run_id']}").raise_for_status()
    api.patch(f"/dags/{DAG_ID}", json={"is_paused": was_paused}).raise_for_status()


# ------------------------------------------------------------------------------------------------- the checks


def test_sections_come_in_pipeline_order_each_with_its_params(form):
    assert section_names(form) == list(SECTIONS)
    for section, names in params_by_section().items():
        shown = rows(open_section(form, section))
        assert list(shown) == names, f"section {section!r}"
        assert all(row.is_displayed() for row in shown.values()), f"section {section!r}"


def is_number_field(definition: dict) -> bool:
    kinds = definition.get("type", [])
    kinds = kinds if isinstance(kinds, list) else [kinds]
    return "enum" not in definition and bool({"number", "integer"} & set(kinds))


def test_number_fields_hold_the_schema_bounds(form):
    for name, definition in param_definitions().items():
        if not is_number_field(definition):
            continue
        field = form.find_element(By.CSS_SELECTOR, f"input[name=element_{name}][role=spinbutton]")
        for keyword, attribute in (("minimum", "aria-valuemin"), ("maximum", "aria-valuemax")):
            if keyword in definition:
                assert float(field.get_attribute(attribute)) == definition[keyword], f"{name} {keyword}"


def test_descriptions_are_rendered_markdown(form):
    for section, names in params_by_section().items():
        shown = rows(open_section(form, section))
        for name in names:
            helper = shown[name].find_element(By.CSS_SELECTOR, "[data-part=helper-text]")
            text = helper.text
            assert text, f"{name} shows no description"
            assert "`" not in text, f"{name} shows raw markdown: {text!r}"
            code_spans = param_definitions()[name]["description_md"].count("`") // 2
            assert len(helper.find_elements(By.TAG_NAME, "code")) == code_spans, f"{name}: {text!r}"


def test_no_select_shows_null(form):
    selects = 0
    for section in SECTIONS:
        for name, row in rows(open_section(form, section)).items():
            if not row.find_elements(By.CSS_SELECTOR, "input[role=combobox]"):
                continue
            shown, labels = select_options(row)
            selects += 1
            assert "null" not in [shown, *labels], f"{name} shows {shown!r}, options {labels}"
            assert all(labels), f"{name} has an empty option: {labels}"
    assert selects == sum("enum" in d for d in param_definitions().values())


def test_an_out_of_range_beta_is_refused_with_a_message(paused_form, api):
    form = paused_form
    too_high = BETA_MAX * 50
    # The field keeps its bounds: a number typed out of range is brought back to the bound when it is left.
    open_section(form, SECTION_RECIPE)
    field = type_into_number(form, "beta", f"{too_high:g}")
    field.send_keys(Keys.TAB)
    try:
        wait(form.parent).until(lambda _: field.get_attribute("value") == f"{BETA_MAX:g}")
    except TimeoutException:
        pytest.fail(f"the beta field kept {field.get_attribute('value')}, above the maximum {BETA_MAX:g}")

    # The Configuration JSON has no bounds: the API server refuses the run and the form says why.
    runs_before = run_count(api)
    leave_paused(form)
    write_conf(form, f'{{"beta": {too_high:g}}}')
    click(trigger_button(form))
    message = (By.XPATH, "//*[contains(text(), 'Invalid input for param beta')]")
    try:
        shown = wait(form.parent).until(ec.visibility_of_element_located(message)).text
    except TimeoutException:
        created = run_count(api) - runs_before
        pytest.fail(f"no message about beta; {created} run(s) created with beta={too_high:g}")
    assert f"greater than the maximum of {BETA_MAX:g}" in shown
    assert run_count(api) == runs_before


def test_a_valid_form_triggers_a_run(paused_form, api, tmp_path):
    form = paused_form
    run_id = f"trigger-form-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S}"
    leave_paused(form)
    recipe = open_section(form, SECTION_RECIPE)
    type_into_number(form, "beta", "0.05").send_keys(Keys.TAB)
    choose(rows(recipe)["global_batch_size"], "32")
    screenshot = tmp_path / "trigger-form.png"
    scroll_to(rows(recipe)["beta"])
    form.parent.save_screenshot(str(screenshot))
    log.info("the form: %s", screenshot)

    open_section(form, ADVANCED_OPTIONS)
    form.find_element(By.NAME, "dagRunId").send_keys(run_id)
    click(trigger_button(form))
    wait(form.parent).until(ec.staleness_of(form))

    run = api.get(f"/dags/{DAG_ID}/dagRuns/{run_id}").raise_for_status().json()
    assert (run["run_type"], run["state"]) == ("manual", "queued")
    assert run["conf"]["beta"] == 0.05
    # The select sends the enum's value, typed: 32, not "32".
    assert run["conf"]["global_batch_size"] == 32
    assert run["conf"]["lora_alpha"] is None
