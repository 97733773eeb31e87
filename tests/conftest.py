import pytest

from helpers import ACCELERATED


@pytest.fixture(params=ACCELERATED, ids=lambda k: k.spec)
def kernel(request):
    """Every accelerated (backend, algorithm) pair available here."""
    return request.param
