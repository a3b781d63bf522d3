#!/usr/bin/env python
"""Generate airlock's labelled guard development sets (seeded, so reruns give the same files).

    python examples/guard-data/generate.py            # writes dev.jsonl and test.jsonl here

Rows: ``{"id", "text", "label": "benign"|"attack"|"pii", "types": [...], "spans": [...],
"source"}``. Hand-written items are split at random between dev and test; templated items
are split by *template*, so the test split holds phrasings the rules were not tuned on; an
obfuscated attack (base64, hex, rot13, homoglyphs, zero-width, fullwidth, tag characters,
reversed) goes where its plain source went; a second batch (``_extra_dev.py``) is dev only.
Everything here was written for airlock.
"""

from __future__ import annotations

import base64
import codecs
import json
import random
import re
import string
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _attacks import (  # noqa: E402
    ATTACK_HAND,
    ATTACK_TEMPLATES,
    OBFUSCATION_SOURCES,
    OBFUSCATION_WRAPPERS,
)
from _benign import BENIGN_HAND, BENIGN_TEMPLATES  # noqa: E402
from _extra_dev import DEV_ATTACKS, DEV_BENIGN  # noqa: E402
from _pii_templates import PII_TEMPLATES  # noqa: E402

SEED = 20251122
SLOT = re.compile(r"\{([A-Z_]+)\}")
PER_TEMPLATE = {"benign": 12, "attack": 10, "pii": 7}
Row = dict[str, Any]


# -- PII values -----------------------------------------------------------------------------
def luhn_digit(body: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return str((10 - total % 10) % 10)


def card(rng: random.Random) -> str:
    prefix, length, groups = rng.choice([("4", 16, (4, 4, 4, 4)), ("51", 16, (4, 4, 4, 4)),
                                         ("55", 16, (4, 4, 4, 4)), ("2221", 16, (4, 4, 4, 4)),
                                         ("37", 15, (4, 6, 5)), ("34", 15, (4, 6, 5)),
                                         ("6011", 16, (4, 4, 4, 4)), ("4", 13, (13,))])
    body = prefix + "".join(rng.choice(string.digits) for _ in range(length - len(prefix) - 1))
    digits = body + luhn_digit(body)
    sep = rng.choice([" ", "-", ""]) if len(groups) > 1 else ""
    out, pos = [], 0
    for g in groups:
        out.append(digits[pos:pos + g])
        pos += g
    return sep.join(out)


def iban(rng: random.Random) -> str:
    country, shape = rng.choice([("DE", [("n", 18)]), ("GB", [("a", 4), ("n", 14)]),
                                 ("FR", [("n", 23)]), ("ES", [("n", 20)]),
                                 ("NL", [("a", 4), ("n", 10)]), ("IT", [("a", 1), ("n", 22)])])
    bban = ""
    for kind, n in shape:
        pool = string.ascii_uppercase if kind == "a" else string.digits
        bban += "".join(rng.choice(pool) for _ in range(n))
    moved = bban + country + "00"
    check = 98 - int("".join(str(int(c, 36)) for c in moved)) % 97
    compact = f"{country}{check:02d}{bban}"
    if rng.random() < 0.6:
        return " ".join(compact[i:i + 4] for i in range(0, len(compact), 4))
    return compact


def ssn(rng: random.Random) -> str:
    area = rng.choice([n for n in range(1, 900) if n != 666])
    sep = rng.choice(["-", "-", " "])
    return f"{area:03d}{sep}{rng.randint(1, 99):02d}{sep}{rng.randint(1, 9999):04d}"


def phone(rng: random.Random) -> str:
    d = lambda n: "".join(rng.choice(string.digits) for _ in range(n))  # noqa: E731
    return rng.choice([
        f"+44 20 7946 {d(4)}", f"+1 (415) 555-{d(4)}", f"(212) 555-{d(4)}",
        f"415-555-{d(4)}", f"+49 30 {d(7)}", f"+33 1 {d(2)} {d(2)} {d(2)} {d(2)}",
        f"07700 900{d(3)}", f"+91 98765 {d(5)}", f"+81 3-{d(4)}-{d(4)}", f"+61 2 9{d(3)} {d(4)}",
        f"020 7946 {d(4)}", f"+1-202-555-{d(4)}", f"+3531{d(7)}", f"(646) 555.{d(4)}",
        f"+34 612 {d(3)} {d(3)}", f"0049 89 {d(6)}", f"+65 6{d(3)} {d(4)}",
    ])


def email(rng: random.Random) -> str:
    first = rng.choice(["anna", "li.wei", "j.smith", "mo", "carlos.r", "priya_k", "tom+news",
                        "s.oconnor", "noah92", "e-lindqvist"])
    domain = rng.choice(["example.com", "mail.example.org", "corp.example.co.uk",
                         "uni-example.edu", "example.io", "dept.example.gov"])
    return f"{first}@{domain}"


def ipv(rng: random.Random) -> str:
    if rng.random() < 0.7:
        return ".".join(str(rng.randint(a, b)) for a, b in ((11, 223), (0, 255), (0, 255),
                                                             (1, 254)))
    return rng.choice(["2001:db8:85a3::8a2e:370:7334", "fe80::1ff:fe23:4567:890a",
                       "2001:0db8:0000:0000:0000:ff00:0042:8329", "2a00:1450:4001:82a::200e"])


def secret(rng: random.Random) -> str:
    alnum = string.ascii_letters + string.digits
    r = lambda n, pool=alnum: "".join(rng.choice(pool) for _ in range(n))  # noqa: E731
    up = string.ascii_uppercase + string.digits
    return rng.choice([
        f"AKIA{r(16, up)}", f"ghp_{r(36)}", f"xoxb-{r(11, string.digits)}-{r(24)}",
        f"sk_live_{r(24)}", f"sk-proj-{r(40)}", f"AIza{r(35)}", f"glpat-{r(20)}",
        f"eyJhbGciOiJIUzI1NiJ9.eyJ{r(30)}.{r(43)}", f"hf_{r(34)}",
    ])


def password(rng: random.Random) -> str:
    return rng.choice(["Tr0ub4dor&3", "hunter2!", "S3cure#Pass2024", "p@ssw0rd99", "Blu3-Sky-77",
                       "Z9x!q2Lm#t", "correct-horse-42"])


def dob(rng: random.Random) -> str:
    y, m, day = rng.randint(1940, 2006), rng.randint(1, 12), rng.randint(1, 28)
    month = ["January", "February", "March", "April", "May", "June", "July", "August",
             "September", "October", "November", "December"][m - 1]
    return rng.choice([f"{day:02d}/{m:02d}/{y}", f"{y}-{m:02d}-{day:02d}", f"{month} {day}, {y}",
                       f"{day} {month} {y}", f"{m}/{day}/{y}", f"{day:02d}.{m:02d}.{y}"])


def url_creds(rng: random.Random) -> tuple[str, str]:
    user = rng.choice(["admin", "svc_etl", "deploy", "root", "app"])
    pw = password(rng).replace("@", "").replace(":", "").replace("/", "")
    scheme = rng.choice(["postgres", "mysql", "https", "redis", "amqp", "mongodb+srv"])
    host = rng.choice(["db.example.com", "10.2.3.4", "cache.internal.example", "mq.example.net"])
    return f"{scheme}://{user}:{pw}@{host}", f"{user}:{pw}"


VALUES: dict[str, Callable[[random.Random], str]] = {
    "EMAIL": email, "PHONE": phone, "CREDIT_CARD": card, "IBAN": iban, "US_SSN": ssn,
    "IP_ADDRESS": ipv, "SECRET": secret, "DATE_OF_BIRTH": dob, "PASSWORD": password,
}


def fill_pii(template: str, rng: random.Random) -> tuple[str, list[dict[str, Any]]]:
    """Replace the {TYPE} slots (upper-case names only); spans are recorded as the text is
    built."""
    text, spans, pos = "", [], 0
    for slot in SLOT.finditer(template):
        text += template[pos:slot.start()]
        kind = slot.group(1)
        if kind == "URL_CREDENTIALS":
            url, cred = url_creds(rng)
            offset = len(text) + url.index(cred)
            spans.append({"type": kind, "start": offset, "end": offset + len(cred)})
            host = url.split("@", 1)[1]
            if host[0].isdigit():  # an IP address as the host is labelled too
                at = len(text) + url.index("@") + 1
                spans.append({"type": "IP_ADDRESS", "start": at, "end": at + len(host)})
            text += url
        else:
            value = VALUES[kind](rng)
            label = "SECRET" if kind == "PASSWORD" else kind
            spans.append({"type": label, "start": len(text), "end": len(text) + len(value)})
            text += value
        pos = slot.end()
    return text + template[pos:], spans


# -- obfuscation ------------------------------------------------------------------------------
# Latin -> Cyrillic look-alikes: a e o p c i x y s
HOMO = str.maketrans("aeopcixys", "\u0430\u0435\u043e\u0440\u0441\u0456\u0445\u0443\u0455")


def obfuscate(text: str, how: str) -> str:
    if how == "base64":
        return base64.b64encode(text.encode()).decode()
    if how == "hex":
        return text.encode().hex()
    if how == "rot13":
        return codecs.encode(text, "rot13")
    if how == "homoglyph":
        return text.translate(HOMO)
    if how == "zero_width":
        return "\u200b".join(text[i:i + 3] for i in range(0, len(text), 3))
    if how == "fullwidth":
        return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)
    if how == "tags":
        return "Tell me about tides." + "".join(chr(0xE0000 + ord(c)) for c in text)
    if how == "reverse":
        return text[::-1]
    raise ValueError(how)


OBFUSCATIONS = ["base64", "hex", "rot13", "homoglyph", "zero_width", "fullwidth", "tags",
                "reverse"]


# -- assembling -------------------------------------------------------------------------------
def expand(template: str, fillers: dict[str, list[str]], rng: random.Random, n: int
           ) -> Iterator[str]:
    seen: set[str] = set()
    for _ in range(n * 20):
        text = template.format(**{k: rng.choice(v) for k, v in fillers.items()})
        if text not in seen:
            seen.add(text)
            yield text
        if len(seen) >= n:
            return


def split_of(rng: random.Random) -> str:
    return "dev" if rng.random() < 0.5 else "test"


def build(seed: int = SEED) -> dict[str, list[Row]]:
    rng = random.Random(seed)
    out: dict[str, list[Row]] = {"dev": [], "test": []}

    def add(split: str, text: str, label: str, source: str, types: list[str] | None = None,
            spans: list[dict[str, Any]] | None = None) -> None:
        row: Row = {"id": f"{split}-{len(out[split]):04d}", "text": text, "label": label,
                    "types": types or [], "source": source}
        if label in ("pii", "benign"):
            row["spans"] = spans or []
        out[split].append(row)

    for text in BENIGN_HAND:
        add(split_of(rng), text, "benign", "hand")
    for tid, template, fillers in BENIGN_TEMPLATES:
        split = split_of(rng)
        for text in expand(template, fillers, rng, PER_TEMPLATE["benign"]):
            add(split, text, "benign", f"template:{tid}")
    for category, text in ATTACK_HAND:
        add(split_of(rng), text, "attack", "hand", [category])
    for tid, category, template, fillers in ATTACK_TEMPLATES:
        split = split_of(rng)
        for text in expand(template, fillers, rng, PER_TEMPLATE["attack"]):
            add(split, text, "attack", f"template:{tid}", [category])
    for i, (category, plain) in enumerate(OBFUSCATION_SOURCES):
        split = "dev" if i % 2 == 0 else "test"
        for how in OBFUSCATIONS:
            wrapper = rng.choice(OBFUSCATION_WRAPPERS)
            text = wrapper.format(x=obfuscate(plain, how)) if how != "tags" else \
                obfuscate(plain, how)
            add(split, text, "attack", f"obfuscated:{how}", [category])
    for text in DEV_BENIGN:  # the second batch: dev only
        add("dev", text, "benign", "hand:dev-only")
    for category, text in DEV_ATTACKS:
        add("dev", text, "attack", "hand:dev-only", [category])
    for tid, template in PII_TEMPLATES:
        split = split_of(rng)
        for _ in range(PER_TEMPLATE["pii"]):
            text, spans = fill_pii(template, rng)
            add(split, text, "pii", f"template:{tid}",
                sorted({s["type"] for s in spans}), spans)
    return out


def main() -> int:
    sets = build()
    for split, rows in sets.items():
        path = HERE / f"{split}.jsonl"
        with path.open("w", encoding="utf-8") as fh:
            for row in rows:
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
        counts = {label: sum(r["label"] == label for r in rows)
                  for label in ("benign", "attack", "pii")}
        print(f"{path.name}: {len(rows)} rows {counts}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
