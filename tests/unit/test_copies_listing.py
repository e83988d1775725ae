"""Which prefixes a copies listing searches, and which databases a filter names (pure)."""

from __future__ import annotations

from shared.copies.listing import DatabaseFilter, search_prefixes
from shared.settings import DEFAULT_KEY_TEMPLATE

SHOP_ID = "0b9c6f38-46b6-4d5c-9a0e-3c3fb6a1d2a1"


def test_a_filter_tells_ids_from_names():
    chosen = DatabaseFilter.from_values(["shop", SHOP_ID.upper(), "shop", "db-0001"])
    assert chosen.ids == (SHOP_ID,) and chosen.names == ("shop", "db-0001")
    assert chosen.matches(SHOP_ID, "renamed") and chosen.matches("other", "shop") and not chosen.matches("x", "blog")
    assert DatabaseFilter().matches("anything", None)


def test_names_narrow_a_template_that_starts_with_the_name():
    names = DatabaseFilter.from_values(["shop", "blog"])
    assert search_prefixes(DEFAULT_KEY_TEMPLATE, "backups", names) == ["backups/shop/", "backups/blog/"]
    assert search_prefixes(DEFAULT_KEY_TEMPLATE, "", names) == ["shop/", "blog/"]


def test_what_the_template_cannot_narrow_searches_the_whole_prefix():
    by_id = DatabaseFilter.from_values([SHOP_ID])
    mixed = DatabaseFilter.from_values([SHOP_ID, "shop"])
    assert search_prefixes(DEFAULT_KEY_TEMPLATE, "backups", by_id) == ["backups/"]
    assert search_prefixes(DEFAULT_KEY_TEMPLATE, "", mixed) == [""]
    assert search_prefixes("{database_id}/{backup_id}.dump", "", by_id) == [f"{SHOP_ID}/"]
    assert search_prefixes("{project_id}/{database_name}/{backup_id}", "p", DatabaseFilter.from_values(["shop"])) == ["p/"]
