"""The profile's `retention_days`: 3 years unless the profile says otherwise, at least 1."""

from pathlib import Path

import pytest

from dialogs.paths import POLICIES_DIR
from dialogs.policy import PolicyError, load_policy


def test_three_years_by_default():
    assert load_policy("standard").retention_days == 1095


def test_a_profile_sets_its_own(tmp_path: Path):
    standard = (POLICIES_DIR / "standard.yaml").read_text(encoding="utf-8")
    mine = tmp_path / "mine.yaml"
    mine.write_text(standard.replace("currency: CNY", "currency: CNY\nretention_days: 730"))
    assert load_policy(str(mine)).retention_days == 730
    mine.write_text(standard.replace("currency: CNY", "currency: CNY\nretention_days: 0"))
    with pytest.raises(PolicyError) as error:
        load_policy(str(mine))
    assert "retention_days" in str(error.value)
