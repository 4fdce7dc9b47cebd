"""Matching benchmark: a generated mess with known truth.

    .venv/bin/python -m bench.match [--customers 10000] [--seed 7]

N customers live in a CRM (the minting system); about 85 % of them were typed again into
accounting and 65 % into a project tool, each copy with the variations people make: another
legal suffix (Ltd/Limited, Inc/Incorporated, Corp/Corporation, GmbH, LLC...), case,
punctuation, ``&``/``and``, word order, abbreviations, a typo, a missing or changed email, a
missing tax number. A tenth of the customers have a distinct twin with a near-identical name
("Acme Ltd" and "Acme Logistics Ltd", or the same name in another country), with its own
domain and tax number. Prints, per copy system and overall, the precision and recall of the
auto-accepted links and of all proposals, the matching time and the peak memory.
"""

from __future__ import annotations

import argparse
import random
import resource
import string
import time
import tracemalloc
from dataclasses import dataclass
from typing import Any

from sync_core.matching.clusters import Band, Thresholds, propose
from sync_core.matching.keys import MatchRecord, match_record

SUFFIXES = [
    ("Ltd", "Limited"),
    ("Inc", "Incorporated"),
    ("Corp", "Corporation"),
    ("LLC", "L.L.C."),
    ("GmbH", "GmbH"),
    ("Pty Ltd", "Pty Limited"),
    ("SARL", "S.A.R.L."),
    ("BV", "B.V."),
    ("", ""),
]
SECTORS = ["Logistics", "Foods", "Design", "Holdings", "Partners", "Consulting", "Labs", "Media"]
FREE = ["gmail.com", "outlook.com", "yahoo.com"]


@dataclass
class Customer:
    number: int
    words: list[str]
    suffix: int
    domain: str
    tax: str | None
    phone: str


def _word(rng: random.Random) -> str:
    consonants, vowels = "bcdfghjklmnprstvwz", "aeiou"
    size = rng.choice((2, 3, 3, 4))
    text = "".join(rng.choice(consonants) + rng.choice(vowels) for _ in range(size))
    return text.capitalize()


def customers(n: int, rng: random.Random) -> list[Customer]:
    result: list[Customer] = []
    for i in range(n):
        words = [_word(rng) for _ in range(rng.choice((1, 2, 2, 3)))]
        if rng.random() < 0.2:
            words.append(rng.choice(["International", "Industries", "Company", "Brothers"]))
        domain = "".join(w.lower() for w in words[:2]) + rng.choice([".com", ".co.uk", ".de"])
        tax = f"GB{rng.randrange(10**8, 10**9)}" if rng.random() < 0.6 else None
        phone = f"+44 20 {rng.randrange(1000, 9999)} {rng.randrange(1000, 9999)}"
        result.append(Customer(i, words, rng.randrange(len(SUFFIXES)), domain, tax, phone))
    # distinct customers with near-identical names: the twin is another business
    for base in rng.sample(result[:], n // 10):
        words = [*base.words, rng.choice(SECTORS)] if rng.random() < 0.5 else list(base.words)
        domain = "".join(w.lower() for w in words) + "-group.com"
        tax = f"DE{rng.randrange(10**8, 10**9)}"
        phone = f"+49 30 {rng.randrange(1000, 9999)} {rng.randrange(1000, 9999)}"
        result.append(
            Customer(len(result), words, rng.randrange(len(SUFFIXES)), domain, tax, phone)
        )
    return result


def crm_record(c: Customer) -> MatchRecord:
    name = " ".join([*c.words, SUFFIXES[c.suffix][0]]).strip()
    values = {"name": name, "email": f"sales@{c.domain}", "phone": c.phone}
    return match_record("crm", "deal", str(c.number), name, values)


def _typo(text: str, rng: random.Random) -> str:
    if len(text) < 5:
        return text
    i = rng.randrange(1, len(text) - 1)
    return text[:i] + rng.choice(string.ascii_lowercase) + text[i + 1 :]


def copy_record(system: str, c: Customer, rng: random.Random, serial: int) -> MatchRecord:
    words = list(c.words)
    if len(words) > 1 and rng.random() < 0.1:
        words.reverse()
    if rng.random() < 0.1:
        words = [_typo(w, rng) for w in words[:1]] + words[1:]
    words = [{"International": "Intl", "Company": "Co"}.get(w, w) for w in words]
    name = " ".join([*words, SUFFIXES[c.suffix][1]]).strip()
    if rng.random() < 0.3:
        name = name.upper() if rng.random() < 0.5 else name.lower()
    if rng.random() < 0.1:
        name = name.replace(" ", ", ", 1)
    values: dict[str, Any] = {"name": name}
    roll = rng.random()
    if roll < 0.5:
        values["email"] = f"accounts@{c.domain}"
    elif roll < 0.6:
        values["email"] = f"{c.words[0].lower()}@{rng.choice(FREE)}"
    elif roll < 0.7:
        values["email"] = f"billing@{c.words[0].lower()}-new.com"  # the domain changed
    if c.tax and system == "books" and rng.random() < 0.8:
        values["tax_number"] = c.tax.replace("GB", "GB ")
    if rng.random() < 0.4:
        values["phone"] = c.phone.replace("+44 20", "020")
    return match_record(system, "contact", f"{system}-{serial}", name, values)


def build(n: int, seed: int) -> tuple[list[MatchRecord], dict[str, list[MatchRecord]], dict]:
    rng = random.Random(seed)
    people = customers(n, rng)
    sources = [crm_record(c) for c in people]
    truth: dict[tuple[str, str], str] = {}
    copies: dict[str, list[MatchRecord]] = {}
    for system, share in (("books", 0.85), ("work", 0.65)):
        records = []
        for c in people:
            if rng.random() < share:
                record = copy_record(system, c, rng, len(records))
                truth[(system, record.external_id)] = str(c.number)
                records.append(record)
        copies[system] = records
    return sources, copies, truth


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--trace-memory", action="store_true", help="tracemalloc (slower)")
    args = parser.parse_args()
    sources, copies, truth = build(args.customers, args.seed)
    total_copies = sum(len(r) for r in copies.values())
    print(f"{len(sources)} CRM records, {total_copies} copies in {len(copies)} systems")
    thresholds = Thresholds(auto_accept=0.95, review=0.75)
    if args.trace_memory:
        tracemalloc.start()
    started = time.perf_counter()
    proposals = {
        system: propose(sources, records, thresholds) for system, records in copies.items()
    }
    elapsed = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1] if args.trace_memory else None
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rows = []
    all_auto = all_auto_ok = all_ok = all_n = 0
    for system, found in proposals.items():
        auto = [p for p in found if p.band == Band.AUTO]
        right = [
            p for p in found if truth.get((system, p.copy.external_id)) == p.source.external_id
        ]
        auto_right = [p for p in right if p.band == Band.AUTO]
        n_true = len(copies[system])
        rows.append((system, len(auto), len(auto_right), len(found), len(right), n_true))
        all_auto += len(auto)
        all_auto_ok += len(auto_right)
        all_ok += len(right)
        all_n += n_true
    print("system  auto  auto-precision  auto-recall  proposals  proposal-recall")
    for system, auto, auto_ok, found, ok, n_true in rows:
        print(
            f"{system:7} {auto:5} {auto_ok / max(auto, 1):15.4f} {auto_ok / n_true:12.4f} "
            f"{found:10} {ok / n_true:16.4f}"
        )
    print(
        f"overall auto-accepted precision {all_auto_ok / max(all_auto, 1):.4f}, "
        f"recall {all_auto_ok / all_n:.4f}; proposal recall {all_ok / all_n:.4f}"
    )
    print(f"matching time {elapsed:.1f} s; peak RSS {rss:.0f} MB", end="")
    print(f"; peak traced {peak / 2**20:.0f} MB" if peak is not None else "")


if __name__ == "__main__":
    main()
