import pytest

from helpers import ACCELERATED


@pytest.fixture(scope="session", params=ACCELERATED, ids=lambda k: k.spec)
def kernel(request):
    """Every accelerated (backend, algorithm) pair available here."""
    return request.param
