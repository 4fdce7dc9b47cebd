"""The matcher: business names normalised, pairs scored with reasons, vetoes, thresholds."""

from __future__ import annotations

from typing import Any

import pytest

from sync_core.matching.blocking import candidate_pairs
from sync_core.matching.clusters import Band, Thresholds, propose
from sync_core.matching.keys import MatchRecord, match_record
from sync_core.matching.normalise import business_name, email_domain, phone, tax_number
from sync_core.matching.score import score_pair

DEFAULT = Thresholds(auto_accept=0.95, review=0.75)


def crm(external_id: str, **values: Any) -> MatchRecord:
    return match_record("crm", "deal", external_id, values.get("name"), values)


def books(external_id: str, **values: Any) -> MatchRecord:
    return match_record("books", "contact", external_id, values.get("name"), values)


@pytest.mark.parametrize(
    ("left", "right"),
    [
        ("Acme Ltd", "Acme Limited"),
        ("Globex Corp.", "Globex Corporation"),
        ("Stark Industries Inc", "Stark Industries"),
        ("Müller & Söhne GmbH", "Muller and Sohne"),
        ("Smith & Jones Pty Ltd", "Jones & Smith"),
        ("Acme International LLC", "ACME Intl."),
        ("Boulangerie Dupont SARL", "boulangerie dupont"),
        ("Van Dijk B.V.", "van dijk"),
    ],
)
def test_names_people_type_differently_normalise_alike(left: str, right: str) -> None:
    a, b = business_name(left), business_name(right)
    assert a is not None and b is not None
    assert a.key == b.key


def test_the_legal_suffix_removed_is_kept_for_the_reasons() -> None:
    name = business_name("Acme Limited")
    assert name is not None and name.removed == "Limited"


def test_distinct_names_stay_distinct() -> None:
    a, b = business_name("Acme Ltd"), business_name("Acme Logistics Ltd")
    assert a is not None and b is not None and a.key != b.key


def test_other_keys_normalise() -> None:
    assert tax_number("gb 123-456 789") == "GB123456789"
    assert phone("+44 20 7946 0000") == phone("020 7946 0000")
    assert email_domain("jane@acme.com") == "acme.com"
    assert email_domain("jane@gmail.com") is None  # anyone can have one


def test_acme_ltd_and_acme_limited_with_one_domain_are_auto_accepted_with_reasons() -> None:
    result = score_pair(
        crm("1", name="Acme Ltd", email="jane@acme.com"),
        books("9", name="Acme Limited", email="accounts@acme.com"),
    )
    assert result.value >= DEFAULT.auto_accept
    assert result.text() == "name 1.00 after removing Ltd/Limited; same email domain acme.com"


def test_a_name_alone_is_never_enough_to_accept_without_review() -> None:
    result = score_pair(crm("1", name="Acme Ltd"), books("9", name="Acme Limited"))
    assert DEFAULT.review <= result.value < DEFAULT.auto_accept


def test_acme_ltd_and_acme_logistics_ltd_are_not_proposed() -> None:
    proposals = propose(
        [crm("1", name="Acme Ltd")], [books("9", name="Acme Logistics Ltd")], DEFAULT
    )
    assert proposals == []


def test_different_tax_numbers_veto_whatever_else_agrees() -> None:
    result = score_pair(
        crm("1", name="Acme Ltd", email="jane@acme.com", tax_number="GB1"),
        books("9", name="Acme Limited", email="jane@acme.com", tax_number="GB 2"),
    )
    assert result.vetoed and result.value == 0.0
    assert "tax numbers differ (GB1 ≠ GB2)" in result.text()
    assert propose([crm("1", name="Acme Ltd", tax_number="GB1")], [], DEFAULT) == []


def test_equal_tax_numbers_outweigh_a_shortened_name() -> None:
    result = score_pair(
        crm("1", name="Stark Industries", tax_number="US-77"),
        books("9", name="Stark Ind. Inc", tax_number="us77"),
    )
    assert result.value >= DEFAULT.auto_accept
    assert "tax number equal" in result.reasons


def test_differing_email_domains_lower_the_score() -> None:
    same = score_pair(crm("1", name="Acme Ltd"), books("9", name="Acme Limited"))
    other = score_pair(
        crm("1", name="Acme Ltd", email="a@acme.com"),
        books("9", name="Acme Limited", email="b@acme-shop.com"),
    )
    assert other.value < same.value
    assert "email domains differ (acme.com ≠ acme-shop.com)" in other.reasons


def test_thresholds_sort_proposals_into_bands() -> None:
    sources = [crm("1", name="Acme Ltd", email="j@acme.com"), crm("2", name="Globex")]
    copies = [books("9", name="Acme Limited", email="a@acme.com"), books("8", name="Globex Inc")]
    bands = {
        (p.source.external_id, p.copy.external_id): p.band
        for p in propose(sources, copies, DEFAULT)
    }
    assert bands == {("1", "9"): Band.AUTO, ("2", "8"): Band.REVIEW}
    strict = Thresholds(auto_accept=0.99, review=0.95)
    assert [(p.source.external_id, p.band) for p in propose(sources, copies, strict)] == [
        ("1", Band.REVIEW)
    ]


def test_each_record_goes_with_one_other_best_first() -> None:
    sources = [crm("1", name="Acme Ltd", email="j@acme.com"), crm("2", name="Acme Ltd")]
    copies = [books("9", name="Acme Limited", email="a@acme.com")]
    proposals = propose(sources, copies, DEFAULT)
    assert [(p.source.external_id, p.copy.external_id) for p in proposals] == [("1", "9")]


def test_a_close_runner_up_sends_an_automatic_match_to_review() -> None:
    sources = [
        crm("1", name="Acme Ltd", email="j@acme.com"),
        crm("2", name="Acme Limited", email="k@acme.com"),
    ]
    copies = [books("9", name="Acme Ltd", email="a@acme.com")]
    [proposal] = propose(sources, copies, DEFAULT)
    assert proposal.band == Band.REVIEW
    assert "another record scores nearly as high" in proposal.score.reasons


def test_blocking_compares_only_records_that_share_something() -> None:
    sources = [crm(str(i), name=f"Company{i} Ltd") for i in range(200)]
    copies = [books(str(i), name=f"Company{i} Limited") for i in range(200)]
    pairs = set(candidate_pairs(sources, copies))
    assert all((i, i) in pairs for i in range(200))
    assert len(pairs) < 200 * 200 // 10


def project(external_id: str, **values: Any) -> MatchRecord:
    return match_record("work", "project", external_id, values.get("name"), values)


def test_a_project_made_by_hand_is_its_deal_whatever_note_was_added_in_brackets() -> None:
    deal = crm("1", name="Acme Ltd", title="Website Redesign")
    old_board = project("7", name="Acme", title="Website Redesign (old board)")
    result = score_pair(deal, old_board)
    assert result.value >= DEFAULT.auto_accept
    assert result.text() == "name 1.00 after removing Ltd; same title redesign website"
    [proposal] = propose([deal], [old_board], DEFAULT)
    assert proposal.band == Band.AUTO


def test_another_project_of_the_same_client_is_never_linked() -> None:
    deal = crm("1", name="Acme Ltd", title="Website Redesign")
    other = project("8", name="Acme", title="Brand Guidelines")
    result = score_pair(deal, other)
    assert result.vetoed and result.value == 0.0
    assert "titles differ (redesign website ≠ brand guidelines): another project" in result.text()
    assert propose([deal], [other], DEFAULT) == []
    # both of the client's projects on the board: the deal takes its own, leaves the other
    old_board = project("7", name="Acme", title="Website Redesign (old board)")
    [proposal] = propose([deal], [other, old_board], DEFAULT)
    assert (proposal.copy.external_id, proposal.band) == ("7", Band.AUTO)


def test_a_typo_in_a_title_is_still_the_same_title() -> None:
    result = score_pair(
        crm("1", name="Acme Ltd", title="Website Redesign"),
        project("7", name="Acme", title="Website Redesgn"),
    )
    assert not result.vetoed and result.value >= DEFAULT.auto_accept
