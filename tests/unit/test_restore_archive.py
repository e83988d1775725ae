"""Reading ``pg_restore --list`` output (pure), and the error line of a failed tool."""

from __future__ import annotations

from shared.restore.archive import parse_listing
from shared.restore.tools import error_line

LISTING = """;
; Archive created at 2026-12-01 23:06:47 UTC
;     dbname: shop
;     TOC Entries: 15
;     Dump Version: 1.15-0
;     Format: CUSTOM
;     Dumped from database version: 16.4
;
; Selected TOC Entries:
;
6; 2615 2200 SCHEMA - public pg_database_owner
215; 1259 16386 TABLE public accounts shop_owner
214; 1259 16385 SEQUENCE public accounts_id_seq shop_owner
3357; 0 0 SEQUENCE OWNED BY public accounts_id_seq shop_owner
3349; 0 16386 TABLE DATA public accounts shop_owner
3351; 0 16395 TABLE DATA billing invoice lines shop_owner
3358; 0 0 SEQUENCE SET public accounts_id_seq shop_owner
3203; 2606 16393 CONSTRAINT public accounts accounts_pkey shop_owner
3204; 1259 16394 INDEX public accounts_email_idx shop_owner
3205; 2606 16400 FK CONSTRAINT public orders orders_account_fkey shop_owner
;	depends on: 215
"""


def test_entries_and_header_are_read():
    listing = parse_listing(LISTING)
    assert listing.valid and len(listing.entries) == 10
    assert listing.names("TABLE") == ["public.accounts"]
    assert listing.names("TABLE DATA") == ["public.accounts", "billing.invoice lines"]
    assert listing.names("INDEX") == ["public.accounts_email_idx"]
    assert listing.count("FK CONSTRAINT") == 1 and listing.count("SEQUENCE OWNED BY") == 1
    assert listing.names("SCHEMA") == ["public"]
    document = listing.to_dict()
    assert (document["dbname"], document["dump_version"], document["dumped_from"]) == ("shop", "1.15-0", "16.4")


def test_an_empty_listing_is_valid_and_empty():
    listing = parse_listing("")
    assert listing.valid and listing.entries == () and listing.to_dict()["tables"] == []


def test_error_line_is_the_tool_s_own_words_without_its_name():
    stderr = "pg_restore: error: input file does not appear to be a valid archive (too short?)\n"
    assert error_line(stderr, "fallback") == "input file does not appear to be a valid archive (too short?)"
    assert error_line("", "exit status 1") == "exit status 1"
    assert error_line('psql: error: connection to server at "127.0.0.1", port 1 failed\n', "x").startswith(
        "connection to server")
