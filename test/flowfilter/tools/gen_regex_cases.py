#!/usr/bin/env python3
"""Differential cases for src/flowfilter/pyregex.ts: random Python patterns, random subjects, and
what CPython's `re.search` says. Writes test/flowfilter/fixtures/pyregex-cases.json.

Run from the repository root:  python3 test/flowfilter/tools/gen_regex_cases.py [count] [seed] [out]
Each case: {"p": pattern, "b": bytes?, "f": "ims" flags, "s": [subjects], "r": [bools] | "error"}.
Subjects are lists of code points (str patterns) or byte values (bytes patterns).
"""
import json
import random
import re
import sys
import warnings

warnings.simplefilter("ignore")
count = int(sys.argv[1]) if len(sys.argv) > 1 else 1500
rnd = random.Random(int(sys.argv[2]) if len(sys.argv) > 2 else 4)
out_path = sys.argv[3] if len(sys.argv) > 3 else "test/flowfilter/fixtures/pyregex-cases.json"

LITS = list("aAbBkKsS_- 0129") + ["é", "É", "İ", "ı", "я", "Я", "ſ", "\u212a", "ß", "\\n", "\\r", "\\t", "\\.", "\\-", "\\\\", "\\x41", "\\xe9", "\\u00e9", "\\101", "\\0", "\\12", "#", "\\ ", "}", "]", "{"]
ATOMS = [".", "^", "$", "\\A", "\\Z", "\\b", "\\B", "\\d", "\\D", "\\w", "\\W", "\\s", "\\S",
         "[ab]", "[^a]", "[a-z]", "[A-Z]", "[\\w-]", "[^\\W\\d]", "[]a]", "[^]a]", "[a-]", "[\\b]", "[é-ÿ]", "[à-þ]", "[\\x00-\\x7f]", "[\\s\\S]", "[K]", "[^k]", "[\\d\\s]", "[-z]", "[\\]]", "[\\\\]"]
QUANTS = ["*", "+", "?", "{2}", "{1,2}", "{,2}", "{2,}", "*?", "+?", "??", "{1,2}?", "*+", "++", "?+", "{1,2}+", "{", "{x}", "{}"]
BROKEN = ["(", ")", "[", "\\", "\\q", "\\G", "\\z", "\\8", "[z-a]", "(?<a>x)", "(?P<1>x)", "a**", "(?Q)", "{1}", "(?i", "(?-i)", "\\x4", "(?#", "(?P=zz)", "(?<=a|bc)", "(?<=a*)"]


def gen(depth=0):
    n = rnd.randint(1, 4)
    parts = []
    for _ in range(n):
        r = rnd.random()
        if r < 0.35 or depth > 2:
            p = rnd.choice(LITS)
        elif r < 0.6:
            p = rnd.choice(ATOMS)
        elif r < 0.85:
            inner = gen(depth + 1)
            kind = rnd.choice(["(%s)", "(?:%s)", "(?P<g%d>%%s)" % rnd.randint(1, 3), "(?=%s)", "(?!%s)", "(?<=%s)", "(?<!%s)",
                               "(?>%s)", "(?i:%s)", "(?-i:%s)", "(?s:%s)", "(?m:%s)", "(?x:%s)", "(?a:%s)", "(%s|%s)" % (inner, gen(depth + 1)), "(?:%s|)"])
            p = kind % inner if kind.count("%s") == 1 else kind
        elif r < 0.93:
            p = rnd.choice(["\\1", "\\2", "(?P=g1)", "(?-i:(a)\\1)", "(?-i:(?P<g9>[ab])(?P=g9))"])
        else:
            p = rnd.choice(BROKEN)
        if rnd.random() < 0.3:
            p += rnd.choice(QUANTS)
        parts.append(p)
    s = "".join(parts)
    if depth == 0 and rnd.random() < 0.25:
        s = rnd.choice(["(?i)", "(?s)", "(?m)", "(?x)", "(?a)", "(?-i:", "(?ms)"]) + s + (")" if s and rnd.random() < 0.1 else "")
    if depth == 0 and rnd.random() < 0.2:
        s = s + "|" + gen(depth + 1)
    return s


STR_ALPHABET = "aAbBkKsS_- 01\n\ré\u00c9\u0130\u0131яЯ\u017f\u212aßz"
BYTES_ALPHABET = [ord(c) for c in "aAbBkKsS_- 01\n\rz\\"] + [0xe9, 0xc9, 0xc3, 0xa9, 0xd1, 0x8f, 0xff, 0x85, 0xa0, 0x0b]


def subjects(is_bytes):
    out = []
    for _ in range(10):
        n = rnd.randint(0, 7)
        if is_bytes:
            out.append([rnd.choice(BYTES_ALPHABET) for _ in range(n)])
        else:
            out.append([ord(rnd.choice(STR_ALPHABET)) for _ in range(n)])
    return out


cases = []
seen = set()
while len(cases) < count:
    pat = gen()
    is_bytes = rnd.random() < 0.4
    flags = "".join(c for c in "ims" if rnd.random() < (0.7 if c == "i" else 0.3))
    if (pat, is_bytes, flags) in seen or "(?t" in pat:
        continue
    seen.add((pat, is_bytes, flags))
    f = 0
    if "i" in flags: f |= re.IGNORECASE
    if "m" in flags: f |= re.MULTILINE
    if "s" in flags: f |= re.DOTALL
    subs = subjects(is_bytes)
    try:
        rx = re.compile(pat.encode() if is_bytes else pat, f)
    except Exception:
        cases.append({"p": pat, "b": is_bytes, "f": flags, "s": [], "r": "error"})
        continue
    res = [bool(rx.search(bytes(s) if is_bytes else "".join(map(chr, s)))) for s in subs]
    cases.append({"p": pat, "b": is_bytes, "f": flags, "s": subs, "r": res})

with open(out_path, "w") as fh:
    fh.write("[\n" + ",\n".join(json.dumps(c, ensure_ascii=False) for c in cases) + "\n]\n")
print(len(cases), "cases,", sum(c["r"] == "error" for c in cases), "errors")
