"""Many phrase regexes over one text in one pass (the concept counts' hot spot).

``PhraseScanner(patterns).findall(text)`` equals ``[p.findall(text) for p in
patterns]``. Used by models.scorer for the concept patterns of
models.concepts (``\\b(?:phrase|phrase|...)``), which Python's ``re`` would
otherwise try at every word start, once per pattern.

The patterns' first characters are read with the standard library's regular
expression parser (``re._parser``, private); anything it cannot read, or any
error there, leaves that pattern to its own ``findall``, so the worst case is
the old speed, never a different answer.
"""
from __future__ import annotations

import re

try:  # the regular-expression parser, to read the patterns' first characters
    from re import _parser as _sre_parse  # Python >= 3.11
except ImportError:  # pragma: no cover - Python 3.10
    import sre_parse as _sre_parse

HEAD = 5  # characters of a phrase the scanner looks at before trying its regex


class PhraseScanner:
    """``[p.findall(text) for p in patterns]`` in one pass over ``text``.

    Python's ``re`` has no fast path for a pattern that starts with ``\\b`` and
    an alternation, so each ``findall`` tries every alternative at every word
    start: six concept patterns cost six such scans. The scanner instead reads
    from each pattern the strings its matches can start with (its first
    ``HEAD`` characters: "licen", "alpr-", "t1", ...), finds the positions where
    any of them starts with one regex built as a trie, and tries a pattern
    only there. Every match start is such a position and ``findall``'s
    leftmost, non-overlapping matches are taken in the same order, so the
    result is the same; a pattern the reading does not cover (flags, groups,
    unbounded repeats first, a possibly empty match) is left to ``findall``.
    """

    def __init__(self, patterns: list[re.Pattern]):
        self.patterns = patterns
        self.plain: list[int] = []  # patterns scanned with their own findall
        heads: dict[str, list[int]] = {}  # a first few characters -> patterns
        anchored = True  # every scanned pattern starts with \b
        for i, pattern in enumerate(patterns):
            found = match_heads(pattern, HEAD)
            if found is None:
                self.plain.append(i)
                continue
            anchored = anchored and _starts_at_word_boundary(pattern)
            for head in found:
                heads.setdefault(head, []).append(i)
        # longest heads first; a head shorter than HEAD is a whole match ("t1")
        self.lookups = [(n, {h: tuple(ids) for h, ids in heads.items() if len(h) == n})
                        for n in sorted({len(h) for h in heads}, reverse=True)]
        self.starts = re.compile((r"\b" if anchored else "") + "(?=" + _trie(heads) + ")") \
            if heads else None

    def findall(self, text: str) -> list[list[str]]:
        """What each pattern's ``findall`` returns for ``text``."""
        found: list[list[str]] = [[] for _ in self.patterns]
        if self.starts is not None:
            resume = [0] * len(self.patterns)  # where each pattern's next match may start
            for start in self.starts.finditer(text):
                at = start.start()
                for n, table in self.lookups:
                    for i in table.get(text[at:at + n], ()):
                        if at >= resume[i]:
                            match = self.patterns[i].match(text, at)
                            if match is not None:
                                found[i].append(match.group())
                                resume[i] = match.end()
        for i in self.plain:
            found[i] = self.patterns[i].findall(text)
        return found


def match_heads(pattern: re.Pattern, n: int) -> set[str] | None:
    """The first ``n`` characters of every string ``pattern`` can match (all of
    it when shorter), or None when that is not simple to read off: flags other
    than the default, capturing groups (findall returns them), classes such as
    ``\\w``, repeats of more than 4, lookarounds, or a match that may be empty."""
    if pattern.flags != re.UNICODE or pattern.groups:
        return None
    try:
        heads = _sequence_heads(list(_sre_parse.parse(pattern.pattern)), n)
    except Exception:  # an unusual pattern the reading does not know: findall it is
        return None
    return heads if heads and "" not in heads else None


_MAX_HEADS = 5000  # beyond this many, the prefilter would not filter much


def _sequence_heads(items: list, n: int) -> set[str] | None:
    """``match_heads`` of a parsed sequence: each item's heads appended to the
    heads so far that are still shorter than ``n``."""
    heads = {""}
    for op, av in items:
        if all(len(h) >= n for h in heads):
            break
        more = _item_heads(op, av, n)
        if more is None:
            return None
        heads = {h if len(h) >= n else (h + m)[:n] for h in heads for m in more}
        if len(heads) > _MAX_HEADS:
            return None
    return heads


def _item_heads(op, av, n: int) -> set[str] | None:
    """``match_heads`` of one parsed item (a literal, a class of listed
    characters, an alternation, a group, a short repeat, a position)."""
    c = _sre_parse
    if op is c.LITERAL:
        return {chr(av)}
    if op is c.AT:  # \b, ^, $: no characters
        return {""}
    if op is c.IN:
        chars: set[str] = set()
        for kind, value in av:
            if kind is c.LITERAL:
                chars.add(chr(value))
            elif kind is c.RANGE and value[1] - value[0] < 64:
                chars.update(map(chr, range(value[0], value[1] + 1)))
            else:  # NEGATE, CATEGORY (\w, \d): too many
                return None
        return chars
    if op is c.BRANCH:
        heads: set[str] = set()
        for branch in av[1]:
            more = _sequence_heads(list(branch), n)
            if more is None:
                return None
            heads |= more
        return heads
    if op is c.SUBPATTERN:
        _, add_flags, del_flags, body = av
        return None if add_flags or del_flags else _sequence_heads(list(body), n)
    if op in (c.MAX_REPEAT, c.MIN_REPEAT):
        low, high, body = av
        if high > 4:
            return None
        heads = set()
        for times in range(low, high + 1):
            more = _sequence_heads(list(body) * times, n)
            if more is None:
                return None
            heads |= more
        return heads
    return None


def _starts_at_word_boundary(pattern: re.Pattern) -> bool:
    """Whether ``pattern`` begins with ``\\b`` (so do ConceptCounts.compiled()'s)."""
    items = list(_sre_parse.parse(pattern.pattern))
    return bool(items) and items[0] == (_sre_parse.AT, _sre_parse.AT_BOUNDARY)


def _trie(strings) -> str:
    """A regex matching any of ``strings``, as a trie: ``a(?:cc|lp)|b(?:at|ed)``.

    Python's ``re`` tries alternatives one by one; sharing the first
    characters makes a failing position cost a few comparisons, not hundreds.
    """
    tree: dict = {}
    for string in strings:
        node = tree
        for char in string:
            node = node.setdefault(char, {})
        node[""] = {}  # a string ends here
    return _trie_regex(tree)


def _trie_regex(node: dict) -> str:
    """The regex of one trie node: its branches, optional if a string ends here."""
    branches = [re.escape(char) + _trie_regex(child)
                for char, child in sorted(node.items()) if char]
    if not branches:
        return ""
    body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
    return "(?:" + body + ")?" if "" in node else body
