"""Normalising the keys records are compared on: business names, emails, phones, tax numbers.

Legal suffixes in many countries (Ltd/Limited, Inc, LLC, GmbH, Pty, SARL, BV...) are removed
by ``cleanco``; the rest (case, punctuation, ``&``/``and``, diacritics, word order, common
abbreviations) is done here.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from cleanco import basename

# Abbreviations people type either way; both sides are folded to the short form.
ABBREVIATIONS = {
    "international": "intl",
    "corporation": "corp",
    "company": "co",
    "industries": "ind",
    "industry": "ind",
    "brothers": "bros",
    "associates": "assoc",
    "services": "svcs",
    "technologies": "tech",
    "technology": "tech",
    "manufacturing": "mfg",
    "limited": "ltd",
    "incorporated": "inc",
    "saint": "st",
    "mount": "mt",
}
STOPWORDS = {"the", "and", "of"}
# Mail services anyone may use: the same domain there says nothing about the customer.
FREE_MAIL = {
    "gmail.com",
    "googlemail.com",
    "yahoo.com",
    "hotmail.com",
    "outlook.com",
    "live.com",
    "icloud.com",
    "me.com",
    "aol.com",
    "proton.me",
    "protonmail.com",
    "gmx.de",
    "web.de",
    "yahoo.co.uk",
    "hotmail.co.uk",
}
_NON_WORD = re.compile(r"[^\w\s]+")
_DIGITS = re.compile(r"\D+")
_TAX = re.compile(r"[^0-9A-Z]+")
_ASIDE = re.compile(r"\([^)]*\)|\[[^\]]*\]")


def fold(text: str) -> str:
    """Lower case without diacritics: ``Müller`` → ``muller``."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


@dataclass(frozen=True)
class Name:
    """A business name as compared: ``key`` sorted tokens; ``removed`` the legal suffix dropped."""

    key: str
    tokens: tuple[str, ...]
    removed: str | None


def business_name(raw: str | None) -> Name | None:
    """``"The Acme & Sons Ltd."`` → tokens ``("acme", "sons")``, removed ``"Ltd."``."""
    if not raw or not raw.strip():
        return None
    text = " ".join(raw.replace("&", " and ").split())
    # A project name may carry its title after a dash ("Acme – Website"): the client is first.
    base = basename(text) or text
    tail = text[len(base) :].strip(" ,") if text.startswith(base) else ""
    removed = tail if any(c.isalpha() for c in tail) else None
    words = _NON_WORD.sub(" ", fold(base)).split()
    tokens = [ABBREVIATIONS.get(w, w) for w in words if w not in STOPWORDS]
    if not tokens:  # the whole name was a suffix or punctuation: keep what there was
        tokens = _NON_WORD.sub(" ", fold(text)).split()
    if not tokens:
        return None
    ordered = tuple(sorted(tokens))
    return Name(key=" ".join(ordered), tokens=ordered, removed=removed)


def email(raw: str | None) -> str | None:
    text = (raw or "").strip().lower()
    return text if "@" in text and "." in text.rsplit("@", 1)[1] else None


def email_domain(address: str | None) -> str | None:
    """The domain of an email address, unless it is a free mail service."""
    if not address:
        return None
    domain = address.rsplit("@", 1)[1]
    return None if domain in FREE_MAIL else domain


def website_domain(raw: str | None) -> str | None:
    text = (raw or "").strip().lower()
    if not text:
        return None
    text = text.split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0]
    return text.removeprefix("www.") or None


def phone(raw: str | None) -> str | None:
    """Digits only, the last nine kept so ``+44 20 7946 0000`` equals ``020 7946 0000``."""
    digits = _DIGITS.sub("", raw or "")
    return digits[-9:] if len(digits) >= 7 else None


def tax_number(raw: str | None) -> str | None:
    """Upper case letters and digits only: ``GB 123 4567 89`` → ``GB123456789``."""
    text = _TAX.sub("", (raw or "").upper())
    return text or None


def title(raw: str | None) -> str | None:
    """A project's or deal's title as words in order of the alphabet, without what a person
    added in brackets: ``"Website Redesign (old board)"`` → ``"redesign website"``."""
    text = _ASIDE.sub(" ", raw or "").replace("&", " and ")
    words = [w for w in _NON_WORD.sub(" ", fold(text)).split() if w not in STOPWORDS]
    return " ".join(sorted(words)) or None


def plain(raw: str | None) -> str | None:
    """Any other mapped field: folded case and spaces."""
    text = " ".join(fold(raw or "").split())
    return text or None
