"""Inline filter syntax: the same words mean the same filters in the UI, the CLI and the API."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from retrieval.filters import SearchFilters
from retrieval.query import QuerySyntaxError, parse_query
from store.base import DatetimeRange, MatchAny, MatchValue


def test_filters_are_taken_out_of_the_text() -> None:
    parsed = parse_query('type:image after:2024-01-01 tag:cat lang:EN sunset "over the hills"')
    assert parsed.text == "sunset over the hills"
    f = parsed.filters
    assert f.file_types == ("image",)
    assert f.after == datetime(2024, 1, 1, tzinfo=timezone.utc)
    assert f.tags == ("cat",)
    assert f.languages == ("en",)


def test_aliases_lists_and_periods() -> None:
    f = parse_query("type:photo,deck before:2024-02 after:2023 x").filters
    assert f.file_types == ("image", "slides")
    assert f.before == datetime(2024, 2, 29, 23, 59, 59, 999999, tzinfo=timezone.utc)  # the whole month
    assert f.after == datetime(2023, 1, 1, tzinfo=timezone.utc)


def test_folder_with_spaces_in_quotes() -> None:
    assert parse_query('"in:/data/My Photos" beach').filters.path_prefix == "/data/My Photos"


def test_unknown_keys_and_colons_stay_in_the_text() -> None:
    assert parse_query("ratio 3:1 http://example.org").text == "ratio 3:1 http://example.org"


def test_inline_filters_add_to_the_sidebar_ones() -> None:
    base = SearchFilters(file_types=("pdf",), tags=("work",))
    f = parse_query("type:slides tag:q3 churn", base).filters
    assert f.file_types == ("pdf", "slides") and f.tags == ("work", "q3")


@pytest.mark.parametrize("query, message", [("type:hologram x", "unknown type"), ("after:yesterday x", "YYYY-MM-DD")])
def test_mistakes_explain_themselves(query: str, message: str) -> None:
    with pytest.raises(QuerySyntaxError, match=message):
        parse_query(query)


def test_filters_become_store_conditions(tmp_path) -> None:
    f = parse_query(f"type:audio tag:birds lang:de in:{tmp_path} after:2020-05-01 x").filters
    must = f.to_store_filter().must
    assert MatchAny("file_type", ("audio",)) in must
    assert MatchValue("tags", "birds") in must
    assert MatchAny("language", ("de",)) in must
    assert MatchValue("dirs", str(tmp_path.resolve())) in must
    assert any(isinstance(c, DatetimeRange) and c.key == "date" for c in must)
    assert SearchFilters().to_store_filter() is None


def test_office_kinds_have_their_names() -> None:
    for name, kind in (("word", "document"), ("docx", "document"), ("odt", "document"), ("odp", "slides"),
                       ("xlsx", "sheet"), ("ods", "sheet"), ("spreadsheet", "sheet"), ("excel", "sheet")):
        assert parse_query(f"type:{name} x").filters.file_types == (kind,), name


def test_mail_filters_match_the_terms_a_message_carries() -> None:
    from core.schema import address_terms, word_terms

    parsed = parse_query('from:Alice@Example.org "from:Bob  Jones" subject:"Quarterly Report" type:email budget')
    f = parsed.filters
    assert parsed.text == "budget" and f.file_types == ("mail",)
    assert f.senders == ("alice@example.org", "bob jones") and f.subject_words == ("quarterly", "report")
    flt = f.to_store_filter()
    assert MatchAny("sender_terms", ("alice@example.org", "bob jones")) in flt.must
    assert MatchValue("subject_terms", "quarterly") in flt.must and MatchValue("subject_terms", "report") in flt.must
    # What a sender may be named by: each of these is a term its messages carry.
    terms = address_terms("Bob  Jones", "Bob.Jones@Mail.Docks.example.org")
    for said in ("bob.jones@mail.docks.example.org", "bob.jones", "mail.docks.example.org", "example.org",
                 "bob jones", "bob", "jones"):
        assert parse_query(f'"from:{said}" x').filters.senders[0] in terms, said
    assert word_terms("Re: Quarterly report (draft 2)") == ["re", "quarterly", "report", "draft", "2"]
