import pytest

from helpers import ACCELERATED


@pytest.fixture(scope="session", autouse=True)
def private_cache_dir(tmp_path_factory):
    """The autotune cache of the test run lives in a fresh directory, not the user's."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FASTCONV_CACHE_DIR", str(tmp_path_factory.mktemp("fastconv-cache")))
        yield


@pytest.fixture(scope="session", params=ACCELERATED, ids=lambda k: k.spec)
def kernel(request):
    """Every accelerated (backend, algorithm) pair available here."""
    return request.param
