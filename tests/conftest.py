from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
ETHOME = SHARED_DATA / "ethome_social"


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real pose data not found at {SHARED_DATA} (../shared/data beside the project)")
    return SHARED_DATA


@pytest.fixture
def ethome() -> Path:
    if not ETHOME.is_dir():
        pytest.skip(f"ethome_social data not found at {ETHOME} (../shared/data/ethome_social)")
    return ETHOME
