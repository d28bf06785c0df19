"""The Public Suffix List: parsing the bundled snapshot and matching names against it.

The snapshot lives in ``core/data/public_suffix_list.dat`` (ICANN and PRIVATE sections, both
used). It is never fetched at run time; it is parsed on first use and cached.

Matching follows https://publicsuffix.org/list/ : the longest matching rule wins, an exception
rule (``!www.ck``) beats the wildcard it carves out of (``*.ck``), and a wildcard matches exactly
one label. Unlike the reference algorithm there is no implicit ``*`` rule: a name whose
top-level label appears in no rule has an *unknown* suffix (``None``).

All names are handled as lowercase A-labels (``xn--...``); the list's Unicode rules are
converted on load.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import lru_cache
from importlib import resources

__all__ = ["PublicSuffixList", "default_suffix_list", "to_ascii_rule"]

_DATA_PACKAGE = "domainbatch.core"
_DATA_DIR = "data"
_DATA_FILE = "public_suffix_list.dat"

# Flags of one entry in the lookup table (a name can carry several).
_RULE = 1  # "co.uk": this name is a public suffix
_WILDCARD = 2  # "*.ck": every direct child of this name is a public suffix
_EXCEPTION = 4  # "!www.ck": this name is NOT a public suffix (its parent is)
_NODE = 8  # this name is a suffix of some rule: a longer rule may still match


def _ascii_label(label: str) -> str:
    if label.isascii():
        return label
    return "xn--" + label.encode("punycode").decode("ascii")


def to_ascii_rule(rule: str) -> str:
    """Lowercase a rule and turn its Unicode labels into A-labels (keeping ``*.``/``!``)."""
    rule = rule.strip().lower()
    prefix = ""
    if rule.startswith("!"):
        prefix, rule = "!", rule[1:]
    elif rule.startswith("*."):
        prefix, rule = "*.", rule[2:]
    rule = rule.strip(".")
    return prefix + ".".join(_ascii_label(label) for label in rule.split("."))


class PublicSuffixList:
    """An immutable set of PSL rules with a single-dict lookup table."""

    __slots__ = ("_table", "rule_count")

    def __init__(self, rules: Iterable[str] = ()) -> None:
        self._table: dict[str, int] = {}
        self.rule_count = 0
        for rule in rules:
            self._add(rule)

    @classmethod
    def parse(cls, text: str | Iterable[str]) -> PublicSuffixList:
        """Build from PSL file text: ``//`` comments and blank lines are skipped; a rule is
        the first whitespace-separated token of its line."""
        lines = text.splitlines() if isinstance(text, str) else text
        rules = []
        for line in lines:
            token = line.strip().split(None, 1)[0] if line.strip() else ""
            if token and not token.startswith("//"):
                rules.append(token)
        return cls(rules)

    def extended(self, rules: Iterable[str]) -> PublicSuffixList:
        """A copy with extra rules (e.g. ``test``, ``internal``, ``corp.example``)."""
        copy = PublicSuffixList()
        copy._table = dict(self._table)
        copy.rule_count = self.rule_count
        for rule in rules:
            copy._add(rule)
        return copy

    def _add(self, rule: str) -> None:
        rule = to_ascii_rule(rule)
        if rule.startswith("!"):
            name, flag = rule[1:], _EXCEPTION
        elif rule.startswith("*."):
            name, flag = rule[2:], _WILDCARD
        else:
            name, flag = rule, _RULE
        if not name or "" in name.split("."):
            raise ValueError(f"malformed public suffix rule {rule!r}")
        table = self._table
        table[name] = table.get(name, 0) | flag
        # Mark every suffix of the rule (and the rule itself) as a node worth descending into.
        labels = name.split(".")
        for i in range(len(labels)):
            suffix = ".".join(labels[i:])
            table[suffix] = table.get(suffix, 0) | _NODE
        self.rule_count += 1

    def knows_tld(self, tld: str) -> bool:
        """Whether some rule ends in this top-level label (A-label, lowercase)."""
        return tld in self._table

    def suffix_length(self, labels: Sequence[str]) -> int | None:
        """How many rightmost labels of ``labels`` form the public suffix.

        ``None`` when the top-level label is in no rule (unknown suffix). A result equal to
        ``len(labels)`` means the whole name is a public suffix (not registrable).
        """
        table = self._table
        n = len(labels)
        if n == 0:
            return None
        name = labels[-1]
        flags = table.get(name, 0)
        if not flags:
            return None
        best = 1  # a known TLD is a public suffix even when only listed under a wildcard
        parent_flags = flags
        k = 1
        while k < n:
            k += 1
            name = labels[n - k] + "." + name
            flags = table.get(name, 0)
            if flags & _EXCEPTION:
                return k - 1
            if flags & _RULE or parent_flags & _WILDCARD:
                best = k
            if not flags & _NODE:
                break
            parent_flags = flags
        return best

    def public_suffix(self, name: str) -> str | None:
        """The public suffix of an A-label name (``None`` when unknown)."""
        labels = name.split(".")
        k = self.suffix_length(labels)
        return None if k is None else ".".join(labels[-k:])

    def registrable_domain(self, name: str) -> str | None:
        """The public suffix plus one label (``None`` for unknown or bare suffixes)."""
        labels = name.split(".")
        k = self.suffix_length(labels)
        if k is None or k >= len(labels):
            return None
        return ".".join(labels[-k - 1 :])


@lru_cache(maxsize=1)
def default_suffix_list() -> PublicSuffixList:
    """The bundled snapshot, parsed once on first use."""
    resource = resources.files(_DATA_PACKAGE).joinpath(_DATA_DIR).joinpath(_DATA_FILE)
    return PublicSuffixList.parse(resource.read_text(encoding="utf-8"))
