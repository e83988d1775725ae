"""The served chain (cron -> dispatch -> queue -> trigger -> copy -> bucket -> sink) while the
sandbox behaves as the real API may where it is undocumented (``sandbox.readings``).

Two sets of readings, each a whole chain: backups ``locked`` while exported with repeat exports
refused 412, links that live 5 s, the first request of each file cut before its first byte, pages
capped at 2 with ``total_count`` the page's length; then repeat exports refused 409 while the
backup stays ``ready`` without a link, downloads that ignore ``Range``, and links on the
bucket's virtual host (``sdb-exports.s3.fr-par.scw.cloud``, which the copy function finds on
127.0.0.1 as DNS would find Object Storage) passed by the default ``DOWNLOAD_HOST_ALLOWLIST``. The copies are
multi-part (the demo's 120 and 40 MiB backups); the latest backups must be the ones copied.
"""

from __future__ import annotations

from typing import Iterator

import httpx
import pytest

from sandbox.blobs import sha256_hex
from sandbox.readings import virtual_host
from sandbox.state import seeded_uuid
from sandbox.topology import LocalChain, local_chain
from shared.settings import SCALEWAY_S3_HOSTS

SELECTION = {"database_names": ["shop", "blog"]}
READINGS = {
    "locked-412-5s-links-cut-capped-pages": ["--locked-during-export", "--repeat-export", "412", "--link-ttl", "5",
                                             "--cut-first-request", "0", "--page-size-cap", "2",
                                             "--total-count-page-length"],
    "ready-409-range-ignored-virtual-hosted": ["--repeat-export", "409", "--ignore-range", "--page-size-cap", "3",
                                               "--virtual-hosted-links"],
}


@pytest.fixture(scope="module", params=list(READINGS), ids=list(READINGS))
def chain(request: pytest.FixtureRequest) -> Iterator[LocalChain]:
    args = READINGS[request.param]
    if "--virtual-hosted-links" in args:  # links on the bucket's own host, checked by the default allowlist
        options = {"local_hosts": [virtual_host("fr-par")], "copy_env": {"DOWNLOAD_HOST_ALLOWLIST": SCALEWAY_S3_HOSTS}}
    else:
        options = {}
    with local_chain(config="demo", export_delay=0.5, sandbox_args=args, **options) as running:
        yield running


def test_the_latest_backups_are_copied_verified_and_told(chain: LocalChain) -> None:
    answer = chain.fire_cron(SELECTION)
    assert answer.status_code == 200, answer.text + chain.log_tails()
    try:
        notices = chain.sink.wait_for(2, timeout=180)
    except TimeoutError:
        pytest.fail("notices missing\n" + chain.log_tails())

    report = answer.json()
    assert report["summary"] == {"handed_off": 2}
    latest = {name: seeded_uuid(0, "backup", name, "0") for name in SELECTION["database_names"]}
    assert {d["database_name"]: d["backup_id"] for d in report["databases"]} == latest  # despite the paging
    stored = chain.stored()
    for entry in report["databases"]:
        assert stored[entry["object_key"]] == entry["size"] > 16 << 20  # multi-part
        assert chain.object_sha256(entry["object_key"]) == sha256_hex(entry["backup_id"], entry["size"])
    by_backup = {n.json()["data"]["backup_id"]: n.json() for n in notices}
    assert {b: n["type"] for b, n in by_backup.items()} == {b: "backup.copied" for b in latest.values()}
    assert chain.uploading() == {} and chain.dead_letters() == 0
    stats = httpx.get(chain.api["base_url"] + "/_sandbox/stats", headers={"X-Auth-Token": chain.api["token"]}).json()
    assert stats["requests"]["list_backups"] > 2  # each database's backups took several (capped) pages
