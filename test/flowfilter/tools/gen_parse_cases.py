#!/usr/bin/env python3
"""Differential cases for the filter parser: random filter expressions and what mitmproxy's own
`flowfilter.parse` makes of them (accepted or not, the operator tree, the description).
Writes test/flowfilter/fixtures/parse-cases.json.

Needs mitmproxy's source (only flowfilter.py is loaded, with stand-ins for the flow classes it
imports) and pyparsing. Run from the repository root:
    python3 test/flowfilter/tools/gen_parse_cases.py /tmp/mitmsrc [count] [seed] [out]
Nothing of mitmproxy is copied into the output; it holds inputs and observed results only.
"""
import importlib.util
import json
import random
import sys
import types

src_root = sys.argv[1]
count = int(sys.argv[2]) if len(sys.argv) > 2 else 1500
rnd = random.Random(int(sys.argv[3]) if len(sys.argv) > 3 else 11)
out_path = sys.argv[4] if len(sys.argv) > 4 else "test/flowfilter/fixtures/parse-cases.json"

# Stand-in modules: flowfilter.py only needs these names for isinstance checks.
pkg = types.ModuleType("mitmproxy")
pkg.__path__ = []
sys.modules["mitmproxy"] = pkg
for name in ("dns", "flow", "http", "tcp", "udp"):
    m = types.ModuleType("mitmproxy." + name)
    for cls in ("HTTPFlow", "DNSFlow", "TCPFlow", "UDPFlow", "Flow", "Message"):
        setattr(m, cls, type(cls, (), {}))
    sys.modules["mitmproxy." + name] = m
    setattr(pkg, name, m)
spec = importlib.util.spec_from_file_location("mitmproxy.flowfilter", src_root + "/mitmproxy/flowfilter.py")
ff = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ff)


def tree(t):
    name = type(t).__name__
    if name == "FAnd":
        return ["&", [tree(x) for x in t.lst]]
    if name == "FOr":
        return ["|", [tree(x) for x in t.lst]]
    if name == "FNot":
        return ["!", tree(t.itm)]
    if hasattr(t, "num"):
        return ["~" + t.code, str(t.num)]
    if hasattr(t, "expr"):
        return ["~" + t.code, t.expr]
    return ["~" + t.code]


UNARY = ["~" + c.code for c in ff.filter_unary]
REX = ["~" + c.code for c in ff.filter_rex]
WORDS = ["a", "foo", "a&b", "a|b", "!x", "x!", "&", "|", "!", "a.b", "\\d+", "example\\.com", "[ab]", "шгн", "é", "a{", "}", "/p",
         "[", "*", "a)", "(?i)x", "(?s).", "a**", "\\q", "(?P<n>x)", "\\x41", "$", "^h", "::1", "200", "0", "-1", ".."]
QUOTED = ['"a b"', "'a b'", '"\\d"', '"\\\\d"', '"x\\"y"', "'x\\'y'", '"\\n"', '"\\t\\r\\f"', '"\\x41"', '""', "''", '"~q"', '"(a|b)"',
          '"a', "'b", '"a\nb"', '"a\\\nb"', '"[("', '"\\\\"', '"\\"', "'\"'", '"\'"', '"a\tb"', "'\t&\t'", '"\\\t"', '"x\r\ty"']
BAD = ["~x", "~", "~qq", "~c200", "~q&", "~u\"x\"", "(", ")", "()", "~hs(", "~all1"]
SPACES = ["", " ", " ", " ", "  ", "\t", "\n", "\r\n"]


def atom():
    r = rnd.random()
    if r < 0.25:
        return rnd.choice(UNARY)
    if r < 0.55:
        return rnd.choice(REX) + rnd.choice([" ", " ", "  ", "\t", ""]) + rnd.choice(WORDS + QUOTED)
    if r < 0.62:
        return "~c" + rnd.choice([" ", "  ", "\t", ""]) + rnd.choice(["200", "00200", "404", "2x", "4..", "-1", "abc", "99999999999999999999"])
    if r < 0.85:
        return rnd.choice(WORDS + QUOTED)
    return rnd.choice(BAD)


def expr(depth=0):
    r = rnd.random()
    if r < 0.4 or depth > 3:
        return atom()
    if r < 0.55:
        return rnd.choice(["!", "! ", "!!"]) + expr(depth + 1)
    if r < 0.75:
        op = rnd.choice(["&", "|", "&", "|", "&&", "||"])
        return expr(depth + 1) + rnd.choice(SPACES) + op + rnd.choice(SPACES) + expr(depth + 1)
    if r < 0.9:
        return "(" + rnd.choice(SPACES) + expr(depth + 1) + rnd.choice(SPACES + [" "] * 4) + ")"
    return expr(depth + 1) + rnd.choice(SPACES[1:]) + expr(depth + 1)


cases = []
seen = set()
while len(cases) < count:
    text = expr()
    if rnd.random() < 0.2:
        text = rnd.choice(SPACES) + text + rnd.choice(SPACES)
    if text in seen:
        continue
    seen.add(text)
    try:
        f = ff.parse(text)
        cases.append({"in": text, "ok": True, "tree": tree(f), "str": str(f)})
    except ValueError as e:
        cases.append({"in": text, "ok": False, "err": str(e)})

with open(out_path, "w") as fh:
    fh.write("[\n" + ",\n".join(json.dumps(c, ensure_ascii=False) for c in cases) + "\n]\n")
print(len(cases), "cases,", sum(not c["ok"] for c in cases), "errors")
