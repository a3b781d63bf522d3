"""PII and secret detectors, spans in the original text, and the four redaction modes."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airlock.errors import InvalidInput, UsageError
from airlock.guard import Finding, Guard, Tokenizer
from airlock.guard._pii import _WORD, PiiDetector, _words_before, luhn_ok, mod97_ok
from airlock.guard._redact import redact

PII_ONLY = {"name": "pii", "input": {"pii": {"action": "redact"}}}


def found(text: str) -> list[tuple[str, str]]:
    return [(f.type, text[f.start:f.end]) for f in PiiDetector().find(text)]


@pytest.mark.parametrize(("text", "kind", "value"), [
    ("mail me at jane.doe+news@mail.example.co.uk today", "EMAIL",
     "jane.doe+news@mail.example.co.uk"),
    ("call +44 20 7946 0958 now", "PHONE", "+44 20 7946 0958"),
    ("phone: (212) 555-0147", "PHONE", "(212) 555-0147"),
    ("my cell is 415-555-0199", "PHONE", "415-555-0199"),
    ("ring 07700 900123 please", "PHONE", "07700 900123"),
    ("Tel. +81 3-1234-5678", "PHONE", "+81 3-1234-5678"),
    ("card 4111 1111 1111 1111 exp 12/26", "CREDIT_CARD", "4111 1111 1111 1111"),
    ("amex 3782-822463-10005", "CREDIT_CARD", "3782-822463-10005"),
    ("pay with 5555555555554444", "CREDIT_CARD", "5555555555554444"),
    ("IBAN DE89 3704 0044 0532 0130 00 please", "IBAN", "DE89 3704 0044 0532 0130 00"),
    ("to GB82WEST12345698765432.", "IBAN", "GB82WEST12345698765432"),
    ("SSN 123-45-6789", "US_SSN", "123-45-6789"),
    ("social security number: 078051120", "US_SSN", "078051120"),
    ("login from 203.0.113.77 failed", "IP_ADDRESS", "203.0.113.77"),
    ("v6 host 2001:db8:85a3::8a2e:370:7334 is up", "IP_ADDRESS", "2001:db8:85a3::8a2e:370:7334"),
    ("postgres://admin:Sup3rS3cret@db.example.com/app", "URL_CREDENTIALS", "admin:Sup3rS3cret"),
    ("key AKIAIOSFODNN7EXAMPLE leaked", "SECRET", "AKIAIOSFODNN7EXAMPLE"),
    ("token ghp_aB3dE5fG7hI9jK1lM3nO5pQ7rS9tU1vW3xY5", "SECRET",
     "ghp_aB3dE5fG7hI9jK1lM3nO5pQ7rS9tU1vW3xY5"),
    ("api_key = 'q8Zr2LmX91sKd0'", "SECRET", "q8Zr2LmX91sKd0"),
    ("my password is hunter2!", "SECRET", "hunter2!"),
    ("I was born on 12/03/1985 in Porto", "DATE_OF_BIRTH", "12/03/1985"),
    ("DOB: March 4, 1979.", "DATE_OF_BIRTH", "March 4, 1979"),
])
def test_detects_each_type_with_its_exact_span(text: str, kind: str, value: str) -> None:
    assert (kind, value) in found(text)


@pytest.mark.parametrize("text", [
    "My order #4412-9931-2208 hasn't arrived",
    "Tracking number 1Z 999 AA1 01 2345 6784 shows no updates",
    "The meeting is on 2024-03-05 at 14:30 in room 4.12.",
    "Version 10.0.19045.3803 is installed",
    "ISBN 978-0-14-143951-8",
    "commit 3f9a2c1d7e8b4a6f0c2d1e9b8a7f6e5d4c3b2a19",
    "request id 8c1f2d3e-4a5b-6c7d-8e9f-0a1b2c3d4e5f",
    "4111 divided by 3 is 1370.33",
    "card 4111 1111 1111 1112 fails Luhn",
    "IBAN DE00 3704 0044 0532 0130 00 has a bad checksum",
    "SSN 000-12-3456 and 666-12-3456 are never issued",
    "the token is expired, refresh it",
    "password = getpass.getpass()",
    "api_key = os.environ['API_KEY']",
    "postgres://user:password@localhost/db is the template",
    "The birth rate fell in 2023.",
    "localhost is 127.0.0.1",
    "std::vector and abc::def are C++",
])
def test_hard_negatives_find_nothing(text: str) -> None:
    assert found(text) == []


def test_checksums_against_known_values() -> None:
    assert luhn_ok("79927398713") and not luhn_ok("79927398710")
    assert luhn_ok("4111111111111111") and luhn_ok("378282246310005")
    assert mod97_ok("GB82WEST12345698765432") and mod97_ok("DE89370400440532013000")
    assert not mod97_ok("GB83WEST12345698765432")


def test_spans_index_the_original_text_after_folding() -> None:
    wide = "".join(chr(ord(c) + 0xFEE0) for c in "joe@example.com")  # fullwidth forms
    text = f"mail: {wide} and\u200b call +1 (415) 555-0147"
    v = Guard(PII_ONLY).check(text)
    spans = {f.type: text[f.start:f.end] for f in v.findings}
    assert spans["EMAIL"] == wide
    assert spans["PHONE"] == "+1 (415) 555-0147"
    assert v.redacted == "mail: <EMAIL_1> and\u200b call <PHONE_1>"


def test_overlapping_findings_keep_the_specific_type() -> None:
    v = Guard(PII_ONLY).check("db at mysql://root:Xy9!kq@10.1.2.3/app")
    kinds = [f.type for f in v.findings]
    assert "URL_CREDENTIALS" in kinds and "IP_ADDRESS" in kinds
    assert v.redacted == "db at mysql://<URL_CREDENTIALS_1>@<IP_ADDRESS_1>/app"


# -- redaction ---------------------------------------------------------------------------
def test_placeholders_are_numbered_per_distinct_value() -> None:
    text = "a@x.com wrote to b@y.org, then a@x.com again"
    v = Guard(PII_ONLY).check(text)
    assert v.redacted == "<EMAIL_1> wrote to <EMAIL_2>, then <EMAIL_1> again"


def test_mask_mode_and_per_type_override() -> None:
    policy = {"input": {"pii": {"mode": "placeholder", "modes": {"CREDIT_CARD": "mask"},
                                "mask_char": "#"}}}
    v = Guard(policy).check("card 4111 1111 1111 1111 for a@x.com")
    assert v.redacted == "card ################### for <EMAIL_1>"


def test_hash_mode_needs_a_salt_and_depends_on_it(monkeypatch: pytest.MonkeyPatch) -> None:
    policy = {"input": {"pii": {"mode": "hash"}}}
    monkeypatch.delenv("AIRLOCK_GUARD_SALT", raising=False)
    with pytest.raises(UsageError, match="needs a salt"):
        Guard(policy)
    monkeypatch.setenv("AIRLOCK_GUARD_SALT", "pepper")
    one = Guard(policy).check("write to a@x.com").redacted
    assert re.fullmatch(r"write to <EMAIL:[0-9a-f]{12}>", one)
    assert Guard(policy).check("write to a@x.com").redacted == one
    salted = Guard({**policy, "salt": "other"}).check("write to a@x.com").redacted
    assert salted != one


def test_tokenize_round_trips_and_the_key_stays_out(monkeypatch: pytest.MonkeyPatch) -> None:
    policy = {"input": {"pii": {"mode": "tokenize"}}}
    monkeypatch.delenv("AIRLOCK_GUARD_KEY", raising=False)
    with pytest.raises(UsageError, match="AIRLOCK_GUARD_KEY"):
        Guard(policy)
    tok = Tokenizer(key="k3y-material")
    text = "mail a@x.com or call +44 20 7946 0958; again a@x.com"
    v = Guard(policy, tokenizer=tok).check(text)
    assert "a@x.com" not in v.redacted and "k3y-material" not in str(v.to_dict())
    assert v.redacted.count(v.redacted.split()[1]) == 2  # deterministic per value
    assert tok.detokenize(v.redacted) == text
    assert "k3y" not in repr(tok)
    with pytest.raises(InvalidInput, match="not a valid airlock token"):
        Tokenizer(key="another key").detokenize(v.redacted)
    token = v.redacted.split()[1]
    forged = token[:-3] + ("A" if token[-3] != "A" else "B") + token[-2:]
    with pytest.raises(InvalidInput):
        tok.value(forged)
    monkeypatch.setenv("AIRLOCK_GUARD_KEY", "k3y-material")
    assert Guard(policy).check(text).redacted == v.redacted


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 60), st.integers(1, 12)), max_size=6),
       st.text(alphabet="abc xyz.-@", min_size=0, max_size=80))
def test_redaction_replaces_exactly_the_spans(spans: list[tuple[int, int]], text: str) -> None:
    """Invariants: text outside the findings is kept in order; every finding's value is
    replaced; overlapping spans are merged."""
    findings = [Finding("EMAIL", s, min(s + n, len(text)), 1.0, "pii.EMAIL", "redact")
                for s, n in spans if s < len(text)]
    out = redact(text, findings, {}, default="mask", mask_char="\x00")
    assert len(out) == len(text)  # mask keeps the length
    masked = {i for f in findings for i in range(f.start, f.end)}
    assert all((out[i] == "\x00") == (i in masked) or text[i] == "\x00"
               for i in range(len(text)))


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=st.sampled_from("aZ09#-_ .:/\t\né\u212aİß"), max_size=60),
       st.integers(0, 70), st.integers(0, 70))
def test_context_words_are_the_word_pattern_s_tokens(text: str, start: int, width: int) -> None:
    """The fast ASCII path (translate and split) gives what the regex gives, and a window
    with other characters (é, the Kelvin sign, a dotted İ) takes the regex path."""
    window = text[max(0, start - width):start].lower()
    assert _words_before(text, start, width) == _WORD.findall(window)
