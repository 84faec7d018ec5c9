import pytest

from stats_ref import data


@pytest.fixture(scope="session")
def datasets():
    return {n: data(n) for n in ("lung", "veteran", "aml")}
