"""The inspector in a real browser: Debian's headless Chromium, driven by
Selenium through /usr/bin/chromedriver, against a real redis-server.

Set INSPECT_SCREENSHOTS=docs/img to refresh the README's screenshots.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest

from redis_numpy import Numpy

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
SCREENSHOTS = os.environ.get("INSPECT_SCREENSHOTS")

# The preview's pixels as the browser decoded them: the <img> drawn 1:1 on a canvas.
READ_PIXELS = """
const img = document.getElementById('preview-img');
const canvas = document.createElement('canvas');
canvas.width = img.naturalWidth; canvas.height = img.naturalHeight;
const ctx = canvas.getContext('2d');
ctx.drawImage(img, 0, 0);
const data = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
return [canvas.width, canvas.height, Array.from(data)];
"""


@pytest.fixture(scope="module")
def browser() -> Iterator[webdriver.Chrome]:
    if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
        pytest.fail("needs Debian's chromium and chromium-driver (make browser-deps)")
    profile = tempfile.mkdtemp(prefix="inspect-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-dev-shm-usage", f"--user-data-dir={profile}", "--window-size=1280,1000",
        "--force-device-scale-factor=1",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def wait_for(driver, condition, timeout: float = 20):
    return WebDriverWait(driver, timeout, poll_frequency=0.1).until(lambda d: condition(d))


def image_loaded(driver) -> bool:
    return driver.execute_script(
        "const i = document.getElementById('preview-img'); return !!i && i.complete && i.naturalWidth > 0;")


def screenshot(driver, name: str) -> None:
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(Path(SCREENSHOTS) / name))


def volume() -> np.ndarray:
    """A blob that grows through the slices, for the n-d screenshot."""
    z, y, x = np.mgrid[0:8, 0:60, 0:80]
    return np.exp(-((x - 40) ** 2 + (y - 30) ** 2) / (60.0 * (z + 1))) + 0.1 * np.sin(x / 5.0) * np.cos(y / 7.0)


def labels() -> np.ndarray:
    """A label map (0 background, 1..4 objects): black when drawn as stored."""
    y, x = np.mgrid[0:90, 0:120]
    out = np.zeros((90, 120), dtype=np.uint8)
    out[(x - 35) ** 2 + (y - 40) ** 2 < 400] = 1
    out[20:70, 70:110] = 2
    out[60:85, 10:50] = 3
    out[5:15, 5:115] = 4
    return out


@pytest.fixture(scope="module")
def arrays(redis_server) -> dict[str, np.ndarray]:
    r = redis_server.client()
    r.flushall()
    client = Numpy(r)
    rng = np.random.default_rng(2026)
    y, x = np.mgrid[0:96, 0:128]
    picture = np.stack([x * 2, y * 2, (x + y) % 256], axis=-1).astype(np.uint8)
    made = {
        "camera:frame:0001": picture,
        "camera:frames": rng.integers(0, 256, (5, 24, 32), dtype=np.uint8),
        "sensor:temperature": np.cumsum(rng.normal(size=200_000)).astype(np.float32),
        "model:weights:layer1": rng.normal(size=(256, 384)).astype(np.float32),
        "volume:ct": volume(),
        "orders": np.array([(1, b"AAPL", 187.5), (2, b"MSFT", 402.25), (3, b"NVDA", 880.0)],
                           dtype=[("id", "<i4"), ("symbol", "S4"), ("price", "<f8")]),
        "embeddings": rng.normal(size=(10_000, 384)).astype(np.float16),
        "segmentation:labels": labels(),
    }
    for key, arr in made.items():
        client.set(key, arr)
    r.expire("camera:frame:0001", 86_400)
    r.set("plain:string", "not an array")
    r.close()
    return made


def test_list_sorts_filters_and_gauges_refresh(browser, inspector, redis_server, arrays):
    browser.get(inspector.base)
    rows = browser.find_elements(By.CSS_SELECTOR, "#arrays tbody tr")
    keys = [row.find_element(By.TAG_NAME, "td").text for row in rows]
    assert sorted(keys) == sorted(arrays)  # the string key is not listed
    # Sort by nbytes (8th column), twice for descending.
    header = browser.find_elements(By.CSS_SELECTOR, "#arrays thead th")[7]
    header.click()
    header.click()
    keys = [row.find_element(By.TAG_NAME, "td").text for row in browser.find_elements(By.CSS_SELECTOR, "#arrays tbody tr")]
    assert keys == sorted(arrays, key=lambda k: arrays[k].nbytes, reverse=True)
    screenshot(browser, "inspector-list.png")
    # Filter on dtype.
    box = browser.find_element(By.ID, "filter")
    box.send_keys("uint8")
    visible = [row.find_element(By.TAG_NAME, "td").text
               for row in browser.find_elements(By.CSS_SELECTOR, "#arrays tbody tr") if row.is_displayed()]
    assert sorted(visible) == sorted(k for k, a in arrays.items() if a.dtype == np.uint8)
    assert browser.find_element(By.ID, "row-count").text == str(len(visible))
    # The gauges follow INFO numpy without a reload.
    gauge = browser.find_element(By.CSS_SELECTOR, '[data-gauge="numpy_arrays"]')
    wait_for(browser, lambda d: gauge.get_attribute("data-raw") == str(len(arrays)))
    r = redis_server.client()
    Numpy(r).set("late:arrival", np.zeros(4))
    wait_for(browser, lambda d: gauge.get_attribute("data-raw") == str(len(arrays) + 1))
    r.delete("late:arrival")
    r.close()


def test_image_preview_pixels(browser, inspector, arrays):
    browser.get(inspector.base)
    browser.find_element(By.LINK_TEXT, "camera:frame:0001").click()
    wait_for(browser, image_loaded)
    assert browser.find_element(By.ID, "shape").text == "(96, 128, 3)"
    width, height, data = browser.execute_script(READ_PIXELS)
    rgba = np.array(data, dtype=np.uint8).reshape(height, width, 4)
    want = arrays["camera:frame:0001"]
    assert (width, height) == (128, 96)
    assert np.array_equal(rgba[..., :3], want)
    assert (rgba[..., 3] == 255).all()
    screenshot(browser, "inspector-image.png")


def test_slice_control_changes_the_frame(browser, inspector, arrays):
    browser.get(inspector.base + "array?key=camera:frames")
    wait_for(browser, image_loaded)
    frames = arrays["camera:frames"]

    def grey() -> np.ndarray:
        width, height, data = browser.execute_script(READ_PIXELS)
        return np.array(data, dtype=np.uint8).reshape(height, width, 4)[..., 0]

    assert np.array_equal(grey(), frames[0])
    axis0 = browser.find_element(By.ID, "axis-0")
    axis0.clear()
    axis0.send_keys("3")
    axis2 = browser.find_element(By.ID, "axis-2")
    axis2.clear()
    axis2.send_keys("::-1")
    browser.find_element(By.ID, "apply").click()
    wait_for(browser, lambda d: "a0=3" in d.current_url and image_loaded(d))
    assert browser.find_element(By.ID, "spec").text == "3, :, ::-1"
    assert np.array_equal(grey(), frames[3, :, ::-1])
    # An index past the end is refused in NumPy's words, and nothing is drawn.
    axis0 = browser.find_element(By.ID, "axis-0")
    axis0.clear()
    axis0.send_keys("5")
    browser.find_element(By.ID, "apply").click()
    error = wait_for(browser, lambda d: d.find_elements(By.ID, "selection-error"))[0]
    assert error.text == "index 5 is out of bounds for axis 0 with size 5"


def test_other_previews_render(browser, inspector, arrays):
    for key, kind, shot in [
        ("sensor:temperature", "line", "inspector-line.png"),
        ("model:weights:layer1", "heatmap", "inspector-heatmap.png"),
        ("volume:ct", "heatmap", "inspector-ndim.png"),
    ]:
        browser.get(inspector.base + f"array?key={key}")
        wait_for(browser, image_loaded)
        assert browser.find_element(By.ID, "preview").get_attribute("data-kind") == kind
        screenshot(browser, shot)
    browser.get(inspector.base + "array?key=orders")
    cells = [td.text for td in browser.find_elements(By.CSS_SELECTOR, "#values tbody tr:nth-child(2) td")]
    assert cells == ["1", "2", "b'MSFT'", "402.25"]
    assert browser.find_element(By.ID, "dtype").text.startswith("record (3 fields)")
    screenshot(browser, "inspector-table.png")


def test_tall_matrix_heatmap_keeps_its_columns(browser, inspector, arrays):
    browser.get(inspector.base + "array?key=embeddings")
    wait_for(browser, image_loaded)
    assert browser.find_element(By.ID, "spec").text == "::20, :"
    width, height, data = browser.execute_script(READ_PIXELS)
    rgba = np.array(data, dtype=np.uint8).reshape(height, width, 4)
    # Random values in every column: hundreds of colours across the middle row.
    assert len({tuple(p) for p in rgba[height // 2, :, :3]}) > 60
    screenshot(browser, "inspector-tall-heatmap.png")


def test_label_map_is_drawn_contrast_stretched(browser, inspector, arrays):
    browser.get(inspector.base + "array?key=segmentation:labels")
    wait_for(browser, image_loaded)
    assert "values 0…4 are drawn black…white" in browser.find_element(By.ID, "stretch").text
    width, height, data = browser.execute_script(READ_PIXELS)
    grey = np.array(data, dtype=np.uint8).reshape(height, width, 4)[..., 0]
    assert np.array_equal(grey, np.rint(arrays["segmentation:labels"] * (255 / 4)).astype(np.uint8))
    assert sorted(set(grey.ravel().tolist())) == [0, 64, 128, 191, 255]
    screenshot(browser, "inspector-labels.png")


def test_summary_and_per_column_view(browser, inspector, arrays):
    from redis_numpy.inspect.render import number

    browser.get(inspector.base + "array?key=model:weights:layer1")
    weights = arrays["model:weights:layer1"]
    summary = browser.find_element(By.ID, "summary")
    assert browser.find_element(By.ID, "summary-spec").text == ":, :"
    assert browser.find_element(By.ID, "stat-min").text == number(weights.min())
    assert browser.find_element(By.ID, "stat-mean").text == number(weights.mean())
    assert browser.find_element(By.ID, "stat-nan").text == "none"
    cells = [td.text for td in browser.find_elements(By.CSS_SELECTOR, "#columns tbody tr:nth-child(2) td")]
    assert cells[0] == "max" and cells[1:4] == [number(v) for v in weights.max(axis=0)[:3]]
    browser.execute_script("arguments[0].scrollIntoView()", summary)
    screenshot(browser, "inspector-summary.png")


def test_largest_arrays_and_filters(browser, inspector, arrays):
    browser.get(inspector.base)
    browser.find_element(By.ID, "dtype-filter").send_keys("float32")
    browser.find_element(By.ID, "scan").click()
    wait_for(browser, lambda d: "dtype=float32" in d.current_url)
    keys = [row.find_element(By.TAG_NAME, "td").text for row in browser.find_elements(By.CSS_SELECTOR, "#arrays tbody tr")]
    assert sorted(keys) == sorted(k for k, a in arrays.items() if a.dtype == np.float32)
    browser.get(inspector.base)
    browser.find_element(By.ID, "largest-link").click()
    wait_for(browser, lambda d: d.find_elements(By.ID, "largest-summary"))
    keys = [row.find_element(By.TAG_NAME, "td").text for row in browser.find_elements(By.CSS_SELECTOR, "#arrays tbody tr")]
    assert keys[:3] == ["embeddings", "sensor:temperature", "model:weights:layer1"]
    assert sorted(keys) == sorted(arrays)
    assert browser.find_element(By.ID, "complete").text == "The whole keyspace was scanned."
    screenshot(browser, "inspector-largest.png")


def test_connection_error_shown(browser, redis_server):
    from conftest import start_inspector, stop_inspector
    from redis_server import free_port

    dead = start_inspector(f"redis://127.0.0.1:{free_port()}/0")
    try:
        browser.get(dead.base)
        assert browser.find_element(By.ID, "error").text.startswith("Cannot connect to Redis at")
        screenshot(browser, "inspector-error.png")
    finally:
        stop_inspector(dead)
