"""The auto backend: measured choice, correctness guard, and a cache file that survives abuse."""
import json
import subprocess
import sys

import numpy as np
import pytest

import fastconv.functional as F
from fastconv import autotune
from fastconv.backends import available_kernels


@pytest.fixture
def fresh_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("FASTCONV_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("FASTCONV_AUTOTUNE", "1")
    monkeypatch.setattr(autotune, "_memory", {})
    return tmp_path / "autotune.json"


def _problem(seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((3, 2, 9, 8)).astype(np.float32), rng.standard_normal((4, 2, 3, 3)).astype(np.float32)


def test_auto_measures_once_and_remembers_on_disk(fresh_cache):
    x, w = _problem()
    y = F.conv2d(x, w, padding=1, backend="auto")
    np.testing.assert_allclose(y, F.conv2d(x, w, padding=1, backend="naive"), rtol=1e-4, atol=1e-5)
    entries = json.loads(fresh_cache.read_text())
    (key, spec), = entries.items()
    assert key.startswith("conv2d 3x2x9x8 4x2x3x3 ((1, 1), (1, 1), (1, 1)) float32 threads=")
    assert spec in {k.spec for k in available_kernels()} and not spec.startswith("naive")


def test_auto_picks_the_fastest_but_never_one_that_disagrees_with_naive(fresh_cache, monkeypatch):
    import fastconv.kernels.numpy as numpy_backend

    monkeypatch.setattr(autotune, "seconds", lambda call, spec: 0.0 if spec.startswith("numpy") else 1.0)
    x, _ = _problem()
    F.max_pool2d(x, 2, backend="auto")
    assert json.loads(fresh_cache.read_text()).popitem()[1] == "numpy:im2col"

    real = numpy_backend.max_pool2d_forward
    monkeypatch.setattr(numpy_backend, "max_pool2d_forward", lambda *a: real(*a) + 1)
    F.max_pool2d(x, 3, backend="auto")
    chosen = [spec for key, spec in json.loads(fresh_cache.read_text()).items() if "((3, 3)," in key]
    assert chosen and not chosen[0].startswith("numpy")


def test_agreement_allows_rounding_on_the_scale_of_the_whole_output():
    """Large sums that cancel to nearly zero differ by the rounding of their terms: a
    kernel off by 1e-3 there, on an output in the hundreds, is right; off by 1 is wrong."""
    reference = np.array([[250.0, -180.0], [1e-6, 40.0]], dtype=np.float32)
    rounded, wrong = reference.copy(), reference.copy()
    rounded[1, 0] += 1e-3
    wrong[1, 0] += 1.0
    assert autotune._agrees((rounded, None), (reference, None))
    assert not autotune._agrees((wrong, None), (reference, None))
    tiny = np.full(4, 1e-6)  # an output that small keeps the absolute floor of 1e-4
    assert not autotune._agrees(tiny + 1e-3, tiny)
    nan = reference.copy()
    nan[0, 0] = np.nan
    assert autotune._agrees(nan, nan) and not autotune._agrees(reference, nan)


def test_auto_judges_kernels_by_their_median_time_not_one_lucky_call(fresh_cache, monkeypatch):
    samples = {}

    def seconds(call, spec):  # numpy is fast once, then slower than the others
        samples[spec] = samples.get(spec, 0) + 1
        return (0.0 if samples[spec] == 1 else 1.0) if spec.startswith("numpy") else 0.6

    monkeypatch.setattr(autotune, "seconds", seconds)
    x, _ = _problem()
    F.max_pool2d(x, 2, backend="auto")
    assert json.loads(fresh_cache.read_text()).popitem()[1] != "numpy:im2col"
    assert samples["numpy:im2col"] == autotune.ROUNDS


def test_auto_takes_more_samples_of_kernels_of_a_millisecond(fresh_cache, monkeypatch):
    samples = {}

    def seconds(call, spec):
        samples[spec] = samples.get(spec, 0) + 1
        return 0.001

    monkeypatch.setattr(autotune, "seconds", seconds)
    x, _ = _problem()
    F.max_pool2d(x, 2, backend="auto")
    assert autotune.ROUNDS < samples["numpy:im2col"] <= 2 * autotune.MAX_ROUNDS  # two turns at most


def test_a_burst_of_load_in_one_turn_does_not_decide(fresh_cache, monkeypatch):
    """The fastest kernel, measured slower throughout its first turn (a burst of load
    from elsewhere) than two others, still wins: it is timed again, and counts with its
    better turn."""
    samples = {}
    fastest = "numba:direct"

    def seconds(call, spec):
        samples[spec] = samples.get(spec, 0) + 1
        if spec == fastest:
            return 0.9 if samples[spec] <= autotune.ROUNDS else 0.3
        return 1.0 if spec == "numpy:im2col" else 0.5

    monkeypatch.setattr(autotune, "seconds", seconds)
    x, _ = _problem()
    if fastest not in {k.spec for k in available_kernels()}:
        pytest.skip("the numba backend is not available")
    F.max_pool2d(x, 2, backend="auto")
    assert json.loads(fresh_cache.read_text()).popitem()[1] == fastest


def test_a_corrupt_cache_is_ignored_and_rebuilt(fresh_cache):
    fresh_cache.write_text("{ this is not json")
    x, w = _problem()
    F.conv2d(x, w, backend="auto")
    assert len(json.loads(fresh_cache.read_text())) == 1
    fresh_cache.write_text(json.dumps(["a", "list"]))
    autotune._memory.clear()
    F.conv2d(x, w, backend="auto")
    assert len(json.loads(fresh_cache.read_text())) == 1


def test_a_cached_choice_that_no_longer_runs_is_measured_again(fresh_cache):
    x, w = _problem()
    key = autotune.cache_key("conv2d", (x, w, None), ((1, 1), (0, 0), (1, 1)))
    fresh_cache.write_text(json.dumps({key: "fortran:loops"}))
    F.conv2d(x, w, backend="auto")
    assert json.loads(fresh_cache.read_text())[key] != "fortran:loops"


def test_choices_made_on_other_kernel_sources_are_not_reused(monkeypatch):
    """Editing or rebuilding a kernel changes the cache key: the old choice is measured again."""
    x, w = _problem()
    args = ("conv2d", (x, w, None), ((1, 1), (0, 0), (1, 1)))
    key = autotune.cache_key(*args)
    assert autotune.kernels_fingerprint() in key
    monkeypatch.setattr(autotune, "kernels_fingerprint", lambda: "edited")
    autotune._versions.cache_clear()
    try:
        assert autotune.cache_key(*args) != key
    finally:
        autotune._versions.cache_clear()


def test_two_processes_writing_at_once_keep_a_valid_file(fresh_cache):
    script = (
        "import sys; from fastconv import autotune\n"
        "for i in range(40): autotune.write_cache_entry(f'{sys.argv[1]} {i}', 'numpy:im2col')\n"
    )
    procs = [subprocess.Popen([sys.executable, "-c", script, name]) for name in ("a", "b")]
    assert all(p.wait(timeout=60) == 0 for p in procs)
    entries = json.loads(fresh_cache.read_text())
    assert len(entries) == 80


def test_measuring_can_be_switched_off(fresh_cache, monkeypatch):
    monkeypatch.setenv("FASTCONV_AUTOTUNE", "0")
    x, w = _problem()
    F.conv2d(x, w, backend="auto")
    assert not fresh_cache.exists()


def test_an_unwritable_cache_costs_only_a_measurement(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("FASTCONV_CACHE_DIR", str(blocker / "sub"))
    monkeypatch.setattr(autotune, "_memory", {})
    x, w = _problem()
    assert F.conv2d(x, w, backend="auto").shape == (3, 4, 7, 6)
