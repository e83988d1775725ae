from datetime import datetime, timezone

import pytest

from shared.errors import ConfigurationError
from shared.keys import (
    META_BACKUP_ID,
    META_SHA256,
    copy_metadata,
    database_prefix,
    is_verified_copy,
    is_ours,
    object_key,
)
from shared.settings import DEFAULT_KEY_TEMPLATE

CREATED = datetime(2026, 11, 25, 3, 1, 2, tzinfo=timezone.utc)


def test_default_template_renders_date_path_under_prefix():
    key = object_key(DEFAULT_KEY_TEMPLATE, "/offsite/", database_name="shop", database_id="d1",
                     backup_id="b1", created_at=CREATED)
    assert key == "offsite/shop/2026/11/25/b1.dump"


def test_unsafe_database_names_stay_one_segment():
    key = object_key(DEFAULT_KEY_TEMPLATE, "", database_name="../a b/c", database_id="d",
                     backup_id="b", created_at=CREATED)
    assert key == "a-b-c/2026/11/25/b.dump"


def test_naive_datetimes_are_utc_and_aware_ones_are_converted():
    from datetime import timedelta

    paris = timezone(timedelta(hours=1))
    late = datetime(2026, 11, 26, 0, 30, tzinfo=paris)  # still the 25th in UTC
    assert object_key("{created_at:%Y-%m-%d}/{backup_id}", "", database_name="x", database_id="d",
                      backup_id="b", created_at=late) == "2026-11-25/b"


@pytest.mark.parametrize("template", ["{database_name}.dump", "{nope}/{backup_id}", "{backup_id"])
def test_bad_templates_are_configuration_errors(template):
    with pytest.raises(ConfigurationError):
        object_key(template, "", database_name="x", database_id="d", backup_id="b", created_at=CREATED)


def test_database_prefix_is_the_constant_head_of_its_keys():
    prefix = database_prefix(DEFAULT_KEY_TEMPLATE, "p", database_name="shop", database_id="d1")
    key = object_key(DEFAULT_KEY_TEMPLATE, "p", database_name="shop", database_id="d1",
                     backup_id="b", created_at=CREATED)
    assert prefix == "p/shop/" and key.startswith(prefix)


def test_a_verified_copy_is_the_same_backup_with_a_checksum_and_its_size():
    meta = copy_metadata(backup_id="b", database_id="d", database_name="n", created_at=CREATED,
                         size=10, db_size=20)
    assert is_ours(meta)
    assert not is_verified_copy(meta, backup_id="b", size=10)  # not verified yet
    meta[META_SHA256] = "ab" * 32
    assert is_verified_copy(meta, backup_id="b", size=10)
    assert not is_verified_copy(meta, backup_id="b", size=11)
    assert not is_verified_copy(meta, backup_id="other", size=10)
    assert is_verified_copy(meta, backup_id="b", size=None)  # a backup whose size the API did not give
    assert not is_ours({}) and not is_ours({META_BACKUP_ID: ""})


def test_metadata_is_ascii_only():
    meta = copy_metadata(backup_id="b", database_id="d", database_name="café", created_at=None,
                         size=None, db_size=None)
    assert all(v.isascii() for v in meta.values())
